// Package lifecycle erases a learner's data (GDPR) and keeps each tenant's
// statements no longer than its retention. Neither deletes anything
// itself: both put an erasure.v1 record on the statements topic (one copy
// per partition, pkg/stream), and every consumer (the store-writer, the
// analytics-writer, outside consumers) applies it in order with the
// statements. So the store and ClickHouse erase the same statements, a
// writer that is down erases when it comes back, and a replay or a
// back-fill from the start of the topic never brings erased data back.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/analytics"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// MinRetention keeps a typo ("1m" for a month) from deleting a tenant's
// statements within minutes of their arrival.
const MinRetention = time.Hour

// ErrInvalid wraps a request that cannot be carried out as given.
var ErrInvalid = errors.New("invalid request")

// Store is what the service reads of the statement store: dry runs count
// there, and the applied erasures are recorded there by the store-writer.
type Store interface {
	GetTenant(ctx context.Context, id string) (store.Tenant, error)
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	CountErasure(ctx context.Context, e store.Erasure) (store.ErasureCounts, error)
	ListErasures(ctx context.Context, tenant string, limit int) ([]store.ErasureRecord, error)
	AgentHash(ctx context.Context, tenant string, agent []byte) (string, error)
	PurgeBefore(ctx context.Context, tenant string, before time.Time, limit int, dryRun bool) (store.ErasureCounts, error)
	SetTenantRetention(ctx context.Context, id string, retention time.Duration) (store.Tenant, error)
}

// Publisher puts an erasure record in every partition of the statements
// topic and says how many copies it wrote (stream.ErasurePublisher).
type Publisher interface {
	Publish(ctx context.Context, e stream.Erasure) (int, error)
}

// Analytics counts in ClickHouse what a dry run would remove there
// (analytics.ClickHouse, always with dryRun here).
type Analytics interface {
	EraseAgent(ctx context.Context, e analytics.Erasure, dryRun bool) (analytics.ErasureCounts, error)
	PurgeBefore(ctx context.Context, tenant string, before time.Time, dryRun bool) (analytics.ErasureCounts, error)
}

// Syncer waits until the store applied what the topic held (the ingest's
// read-your-writes watermark), so that a dry run counts the statements
// acknowledged just before it.
type Syncer interface {
	Sync(ctx context.Context) (through time.Time, caughtUp bool, err error)
}

// Service carries out erasures and retention.
type Service struct {
	st   Store
	pub  Publisher
	ch   Analytics
	sync Syncer
	log  *zap.Logger
	now  func() time.Time
}

// New erases and purges through pub. ch may be nil where this process has
// no ClickHouse: dry runs then count the store only.
func New(st Store, pub Publisher, ch Analytics, sync Syncer, log *zap.Logger) (*Service, error) {
	if st == nil || pub == nil || sync == nil || log == nil {
		return nil, errors.New("lifecycle service needs a store, a publisher, a syncer and a logger")
	}
	return &Service{st: st, pub: pub, ch: ch, sync: sync, log: log, now: time.Now}, nil
}

// Counts is what an erasure or a retention would remove now: in the store,
// and in ClickHouse where this process can ask it (nil otherwise).
// StoreCaughtUp is false when the store-writer was behind at the count:
// statements acknowledged but not applied yet are missing from it.
type Counts struct {
	StoreCaughtUp bool                     `json:"storeCaughtUp"`
	Store         store.ErasureCounts      `json:"store"`
	Analytics     *analytics.ErasureCounts `json:"analytics,omitempty"`
	// AnalyticsError says why ClickHouse could not count (it is down):
	// the store's counts stand.
	AnalyticsError string `json:"analyticsError,omitempty"`
}

// countAnalytics adds ClickHouse's count to c where this process has one.
func (s *Service) countAnalytics(c *Counts, count func(Analytics) (analytics.ErasureCounts, error)) {
	if s.ch == nil {
		return
	}
	a, err := count(s.ch)
	if err != nil {
		c.AnalyticsError = err.Error()
		return
	}
	c.Analytics = &a
}

// caughtUp waits (within the syncer's bound) for the store.
func (s *Service) caughtUp(ctx context.Context) (bool, error) {
	_, ok, err := s.sync.Sync(ctx)
	return ok, err
}

// Erasure is an erasure as published, or (DryRun) as it would be.
type Erasure struct {
	ID     string `json:"id,omitempty"`
	Tenant string `json:"tenant"`
	// AgentHash is the keyed hash the store records the erasure under: the
	// agent itself is never recorded.
	AgentHash   string    `json:"agentHash"`
	Before      time.Time `json:"before"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	DryRun      bool      `json:"dryRun"`
	// Copies is how many records were published, one per partition: each
	// consumer has applied the erasure once it applied all of them.
	Copies int     `json:"copies,omitempty"`
	Counts *Counts `json:"counts,omitempty"`
}

// Erase erases agent (an Agent or identified Group, JSON) from tenant:
// every statement it appears in that was stored by now, their attachments,
// its State and Agent Profile documents. With dryRun it only counts.
func (s *Service) Erase(ctx context.Context, tenant string, agent json.RawMessage, requestedBy string, dryRun bool) (Erasure, error) {
	if _, err := s.st.GetTenant(ctx, tenant); err != nil {
		return Erasure{}, fmt.Errorf("tenant %q: %w", tenant, err)
	}
	hash, err := s.st.AgentHash(ctx, tenant, agent)
	if errors.Is(err, store.ErrInvalidQuery) {
		return Erasure{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err != nil {
		return Erasure{}, err
	}
	e := Erasure{Tenant: tenant, AgentHash: hash, Before: s.now().UTC().Truncate(time.Millisecond), RequestedBy: requestedBy, DryRun: dryRun}
	if dryRun {
		ok, err := s.caughtUp(ctx)
		if err != nil {
			return Erasure{}, err
		}
		c, err := s.st.CountErasure(ctx, store.Erasure{ID: "dry-run", Tenant: tenant, Agent: agent, Before: e.Before})
		if err != nil {
			return Erasure{}, err
		}
		e.Counts = &Counts{StoreCaughtUp: ok, Store: c}
		s.countAnalytics(e.Counts, func(ch Analytics) (analytics.ErasureCounts, error) {
			return ch.EraseAgent(ctx, analytics.Erasure{Tenant: tenant, Agent: agent, Before: e.Before}, true)
		})
		return e, nil
	}
	e.ID = uuid.NewString()
	if e.Copies, err = s.pub.Publish(ctx, stream.Erasure{ID: e.ID, Tenant: tenant, Agent: agent, Before: e.Before, RequestedBy: requestedBy}); err != nil {
		return Erasure{}, err
	}
	s.log.Info("erasure published", zap.String("tenant", tenant), zap.String("erasure_id", e.ID), zap.String("agent_hash", hash), zap.Int("copies", e.Copies))
	return e, nil
}

// Erasures lists the erasures the store applied in tenant, newest first.
func (s *Service) Erasures(ctx context.Context, tenant string, limit int) ([]store.ErasureRecord, error) {
	if _, err := s.st.GetTenant(ctx, tenant); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", tenant, err)
	}
	return s.st.ListErasures(ctx, tenant, limit)
}

// Retention is a tenant's retention as set, or (DryRun) what setting it
// would remove now.
type Retention struct {
	Tenant string `json:"tenant"`
	// Retention is a Go duration; "0s": statements are kept for ever.
	Retention string `json:"retention"`
	// Before is the cut: statements stored before it go.
	Before *time.Time `json:"before,omitempty"`
	DryRun bool       `json:"dryRun"`
	Copies int        `json:"copies,omitempty"`
	Counts *Counts    `json:"counts,omitempty"`
}

// SetRetention sets how long tenant keeps its statements (0: for ever) and
// applies it at once; with dryRun it changes nothing and counts what would
// go.
func (s *Service) SetRetention(ctx context.Context, tenant string, d time.Duration, dryRun bool) (Retention, error) {
	if d != 0 && d < MinRetention {
		return Retention{}, fmt.Errorf("%w: retention %v: want 0 (keep for ever) or at least %v", ErrInvalid, d, MinRetention)
	}
	if _, err := s.st.GetTenant(ctx, tenant); err != nil {
		return Retention{}, fmt.Errorf("tenant %q: %w", tenant, err)
	}
	r := Retention{Tenant: tenant, Retention: d.String(), DryRun: dryRun}
	if d > 0 {
		before := s.now().Add(-d).UTC().Truncate(time.Millisecond)
		r.Before = &before
	}
	if dryRun {
		ok, err := s.caughtUp(ctx)
		if err != nil {
			return Retention{}, err
		}
		r.Counts = &Counts{StoreCaughtUp: ok}
		if r.Before == nil {
			return r, nil
		}
		c, err := s.st.PurgeBefore(ctx, tenant, *r.Before, 1, true)
		if err != nil {
			return Retention{}, err
		}
		r.Counts.Store = c
		s.countAnalytics(r.Counts, func(ch Analytics) (analytics.ErasureCounts, error) {
			return ch.PurgeBefore(ctx, tenant, *r.Before, true)
		})
		return r, nil
	}
	if _, err := s.st.SetTenantRetention(ctx, tenant, d); err != nil {
		return Retention{}, err
	}
	if r.Before != nil {
		n, err := s.publishRetention(ctx, tenant, *r.Before)
		if err != nil {
			// Set, not applied yet: the retention job applies it.
			return Retention{}, fmt.Errorf("retention set; applying it failed (the retention job retries): %w", err)
		}
		r.Copies = n
	}
	return r, nil
}

func (s *Service) publishRetention(ctx context.Context, tenant string, before time.Time) (int, error) {
	return s.pub.Publish(ctx, stream.Erasure{ID: uuid.NewString(), Tenant: tenant, Retention: true, Before: before, RequestedBy: "retention"})
}

// ApplyRetention publishes a retention record for every tenant that has a
// retention, and returns how many it published.
func (s *Service) ApplyRetention(ctx context.Context) (int, error) {
	ts, err := s.st.ListTenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention: list tenants: %w", err)
	}
	n := 0
	var errs []error
	for _, t := range ts {
		if t.Retention <= 0 {
			continue
		}
		if _, err := s.publishRetention(ctx, t.ID, s.now().Add(-t.Retention).UTC().Truncate(time.Millisecond)); err != nil {
			errs = append(errs, fmt.Errorf("retention of tenant %s: %w", t.ID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// RunRetention applies the tenants' retention every interval until ctx
// ends (at once, then on the interval). Several instances may each run it:
// a retention record applied twice removes nothing more.
func (s *Service) RunRetention(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.ApplyRetention(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("applying retention failed; retrying at the next interval", zap.Error(err))
		}
		if n > 0 {
			s.log.Info("retention published", zap.Int("tenants", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Config is the retention job's settings.
type Config struct {
	// RetentionInterval is how often the tenants' retention is published
	// (0: never by this process).
	RetentionInterval time.Duration
}

// RegisterFlags adds the settings to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.RetentionInterval, "retention-interval", time.Hour,
		"how often this instance applies the tenants' statement retention (PUT /admin/tenants/{id}/retention); 0: never")
}

// Validate reports settings the job cannot run with.
func (c Config) Validate() error {
	if c.RetentionInterval < 0 {
		return fmt.Errorf("retention-interval %v: want 0 or more", c.RetentionInterval)
	}
	return nil
}
