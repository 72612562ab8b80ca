// Package pulls is the lrs server pulling the other LRSs its tenants
// configured (`lrs pulls`, the admin API) into itself, each source with an
// interval on that interval, without a process of its own: `lrs pull`'s
// reading (pkg/importer: since and more paging, voided statements,
// attachments, the cursor in the store) handed to this server's statement
// service in process, so that the statements meet the same validation,
// conflict rules, provenance and Kafka path as any client's.
package pulls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/importer"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// Store is what the runner reads: the tenants, their sources, and the
// cursors it keeps.
type Store interface {
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	ListPullSources(ctx context.Context, tenant string) ([]store.PullSource, error)
	importer.Cursors
}

// Statements accepts statements for a principal (xapiservice.Statements).
type Statements interface {
	Accept(ctx context.Context, w xapiservice.StatementWrite) ([]string, error)
}

// Config tunes the runner.
type Config struct {
	// Recheck is how often the sources are listed again, so that a source
	// added, changed or removed applies without a restart.
	Recheck time.Duration
	// Batch is the statements per page read and per write.
	Batch int
	// RetryFor is how long a pull retries a failing request (the source
	// down, this LRS's backlog full) before it gives up until its next
	// interval.
	RetryFor time.Duration
}

// Runner pulls every tenant's sources that have an interval; a source
// without one is pulled only when asked (`lrs pull -store-dsn`).
type Runner struct {
	cfg   Config
	st    Store
	stmts Statements
	log   *zap.Logger

	statements *prometheus.CounterVec // tenant, source, result
	failures   *prometheus.CounterVec // tenant, source
	lastPull   *prometheus.GaugeVec   // tenant, source
}

// New checks its inputs and registers the runner's metrics with reg (nil:
// none).
func New(cfg Config, st Store, stmts Statements, log *zap.Logger, reg prometheus.Registerer) (*Runner, error) {
	if st == nil || stmts == nil || log == nil {
		return nil, errors.New("pulls: a store, a statement service and a logger are required")
	}
	if cfg.Recheck <= 0 || cfg.Batch < 1 || cfg.RetryFor <= 0 {
		return nil, fmt.Errorf("pulls: recheck %v, batch %d, retry for %v: want each above 0", cfg.Recheck, cfg.Batch, cfg.RetryFor)
	}
	labels := []string{"tenant", "source"}
	r := &Runner{cfg: cfg, st: st, stmts: stmts, log: log,
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrs_pull_statements_total",
			Help: "Statements the server's pulls read from a configured source, by result (accepted, rejected, conflict)."}, append(labels, "result")),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrs_pull_failures_total",
			Help: "Pulls of a configured source that stopped with an error (retried at the next interval)."}, labels),
		lastPull: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lrs_pull_last_success_timestamp_seconds",
			Help: "When a pull of a configured source last read everything the source had."}, labels),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.statements, r.failures, r.lastPull} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register pull metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Run pulls until ctx ends. A source that fails is logged and counted,
// and tried again at its next interval; the store unreachable only delays
// the listing.
func (r *Runner) Run(ctx context.Context) error {
	return importer.Schedule(ctx, r.sources, r.pull, r.cfg.Recheck, true)
}

// sources are the tenants' sources that have an interval.
func (r *Runner) sources(ctx context.Context) ([]store.PullSource, error) {
	tenants, err := r.st.ListTenants(ctx)
	if err != nil {
		r.log.Warn("cannot list the tenants whose sources to pull; trying again later", zap.Error(err))
		return nil, nil
	}
	var out []store.PullSource
	for _, t := range tenants {
		ps, err := r.st.ListPullSources(ctx, t.ID)
		if err != nil {
			r.log.Warn("cannot list a tenant's pull sources; trying again later", zap.String("tenant", t.ID), zap.Error(err))
			continue
		}
		for _, p := range ps {
			if p.Interval > 0 {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// principal is who a source's statements are written as: the source's own
// identity in its tenant, allowed to write statements with their
// provenance, whose authority is the account pull:NAME.
func principal(ps store.PullSource) auth.Principal {
	key := "pull:" + ps.Name
	return auth.Principal{Tenant: ps.Tenant, Key: key, Label: "pull " + ps.Name,
		Scopes: []string{auth.ScopeStatementsWrite, auth.ScopeImport}, Authority: auth.AuthorityFor(key, "pull "+ps.Name)}
}

// pull reads ps once, from its cursor to what it has now.
func (r *Runner) pull(ctx context.Context, ps store.PullSource) error {
	log := r.log.With(zap.String("tenant", ps.Tenant), zap.String("source", ps.Name))
	im, err := importer.New(importer.Config{
		Post: r.post(principal(ps), xapi.Version(ps.Version)), Batch: r.cfg.Batch, Concurrency: 1, RetryFor: r.cfg.RetryFor,
		Provenance: true, Cursors: r.st, Tenant: ps.Tenant, Rejects: rejectLog{log}})
	if err != nil {
		return err
	}
	p, err := im.Pull(ctx, importer.SourceOf(ps))
	r.statements.WithLabelValues(ps.Tenant, ps.Name, "accepted").Add(float64(p.Accepted))
	r.statements.WithLabelValues(ps.Tenant, ps.Name, "rejected").Add(float64(p.Rejected))
	r.statements.WithLabelValues(ps.Tenant, ps.Name, "conflict").Add(float64(p.Conflicts))
	fields := []zap.Field{zap.String("endpoint", ps.Endpoint), zap.Int64("read", p.Read), zap.Int64("accepted", p.Accepted),
		zap.Int64("rejected", p.Rejected), zap.Int64("conflicts", p.Conflicts), zap.Duration("elapsed", p.Elapsed),
		zap.Float64("statements_per_second", p.StatementsPerSecond)}
	switch {
	case ctx.Err() != nil:
	case err != nil:
		r.failures.WithLabelValues(ps.Tenant, ps.Name).Inc()
		log.Warn("pull failed; trying again at its next interval", append(fields, zap.Duration("interval", ps.Interval), zap.Error(err))...)
	default:
		r.lastPull.WithLabelValues(ps.Tenant, ps.Name).SetToCurrentTime()
		if p.Read > 0 {
			log.Info("pulled", fields...)
		}
	}
	return err
}

// post hands one request's statements to the statement service as p, and
// answers as the API would.
func (r *Runner) post(p auth.Principal, v xapi.Version) importer.PostFunc {
	return func(ctx context.Context, body []byte, contentType, source string) (int, string, time.Duration, error) {
		stmts, parts, err := xapiservice.ReadStatementBody(contentType, body)
		if err == nil {
			_, err = r.stmts.Accept(ctx, xapiservice.StatementWrite{Principal: p, Version: v, Statements: stmts, Parts: parts, Source: source})
		}
		if err == nil {
			return http.StatusOK, "", 0, nil
		}
		if e, ok := xapiservice.AsError(err); ok {
			return e.Status, e.Message, time.Duration(e.RetryAfter) * time.Second, nil
		}
		return 0, "", 0, err // retried, as a network error would be
	}
}

// rejectLog logs why each statement a pull's source sent was refused (a
// line of importer's rejects), since no file holds them; not the statement,
// whose agents the log would keep past an erasure.
type rejectLog struct{ log *zap.Logger }

func (w rejectLog) Write(line []byte) (int, error) {
	var r struct {
		Index     int64  `json:"index"`
		Status    int    `json:"status"`
		Reason    string `json:"reason"`
		Statement struct {
			ID string `json:"id"`
		} `json:"statement"`
	}
	_ = json.Unmarshal(line, &r)
	w.log.Warn("pulled statement refused", zap.String("statement_id", r.Statement.ID), zap.Int64("index", r.Index),
		zap.Int("status", r.Status), zap.String("reason", r.Reason))
	return len(line), nil
}
