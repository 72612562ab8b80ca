package forwarding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// Store is what the forwarder needs of the statement store: the rules and
// their positions, and statements by id (for the targets of voiding
// statements).
type Store interface {
	store.Forwarding
	GetStatement(ctx context.Context, tenant, id string, voided bool) (store.Statement, error)
}

// NewClient makes a Kafka client with the process's brokers and security
// and the options given.
type NewClient func(opts ...kgo.Opt) (*kgo.Client, error)

// Forwarder runs the rules of every tenant on the partitions of the
// statements topic that its consumer group gives this process. The group
// only shares the partitions out: each rule reads them with a client of
// its own from its own positions, kept in the store, so that a rule whose
// target is down, paused or rewound holds up no other rule and none of
// the writers (which are other groups).
type Forwarder struct {
	cfg       Config
	topic     string
	st        Store
	newClient NewClient
	http      *http.Client
	log       *zap.Logger
	metrics   metrics
	group     *kgo.Client

	mu       sync.Mutex
	ctx      context.Context // Run's, once it runs
	assigned map[int32]bool
	rules    []Rule
	running  map[string]*running
}

type running struct {
	rule    Rule
	gen     int64
	created time.Time
	parts   []int32
	cancel  context.CancelFunc
	done    chan struct{}
}

type metrics struct {
	delivered, failures, deadLetters *prometheus.CounterVec
	lagRecords, lagSeconds           *prometheus.GaugeVec
}

// New joins cfg.Group on topic when Run starts.
func New(cfg Config, topic string, st Store, newClient NewClient, log *zap.Logger, reg prometheus.Registerer) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil || newClient == nil || log == nil || topic == "" {
		return nil, errors.New("forwarder needs a topic, a store, a Kafka client maker and a logger")
	}
	labels := []string{"tenant", "rule"}
	f := &Forwarder{cfg: cfg, topic: topic, st: st, newClient: newClient, log: log,
		http:     &http.Client{Timeout: cfg.Timeout},
		assigned: map[int32]bool{}, running: map[string]*running{},
		metrics: metrics{
			delivered:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrs_forwarding_delivered_total", Help: "Statements a rule's target took."}, labels),
			failures:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrs_forwarding_failures_total", Help: "Failed requests to a rule's target (each is retried)."}, labels),
			deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lrs_forwarding_dead_letters_total", Help: "Statements a rule's target refused for good."}, labels),
			lagRecords:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lrs_forwarding_lag_records", Help: "Records of this process's partitions a rule has not delivered past."}, labels),
			lagSeconds:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lrs_forwarding_lag_seconds", Help: "Age of the oldest record a rule has read and not delivered."}, labels),
		}}
	if reg != nil {
		for _, c := range []prometheus.Collector{f.metrics.delivered, f.metrics.failures, f.metrics.deadLetters, f.metrics.lagRecords, f.metrics.lagSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register forwarder metrics: %w", err)
			}
		}
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { f.assign(m[topic], true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { f.assign(m[topic], false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { f.assign(m[topic], false) }),
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout), kgo.HeartbeatInterval(max(cfg.SessionTimeout/10, 100*time.Millisecond)))
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	group, err := newClient(opts...)
	if err != nil {
		return nil, err
	}
	// The group client reads nothing: the rules' own clients do.
	group.PauseFetchTopics(topic)
	f.group = group
	return f, nil
}

// Client is the group's Kafka client (for readiness checks).
func (f *Forwarder) Client() *kgo.Client { return f.group }

// Run forwards until ctx ends, then stops every rule and leaves the group.
func (f *Forwarder) Run(ctx context.Context) error {
	f.mu.Lock()
	f.ctx = ctx
	f.mu.Unlock()
	defer f.group.Close()
	defer f.stopAll()
	t := time.NewTicker(f.cfg.RulesInterval)
	defer t.Stop()
	for {
		f.refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// refresh reads the rules and starts, stops and restarts runners to match.
// While the store cannot be read the running rules go on.
func (f *Forwarder) refresh(ctx context.Context) {
	stored, err := f.st.ListForwardingRules(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("reading the forwarding rules failed", zap.Error(err))
		}
		return
	}
	rules := make([]Rule, 0, len(stored))
	for _, s := range stored {
		r, err := fromStore(s)
		if err != nil {
			f.log.Error("skipping a rule", zap.Error(err))
			continue
		}
		rules = append(rules, r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = rules
	f.reconcile()
}

// assign records a change of the group's assignment and applies it at
// once: a revoked partition's runners stop before the callback returns,
// so that the next owner does not deliver beside them.
func (f *Forwarder) assign(parts []int32, owned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range parts {
		if owned {
			f.assigned[p] = true
		} else {
			delete(f.assigned, p)
		}
	}
	f.log.Info("partitions changed", zap.Int32s("partitions", parts), zap.Bool("assigned", owned))
	f.reconcile()
}

// reconcile makes the runners match the rules and partitions; f.mu is held.
func (f *Forwarder) reconcile() {
	var parts []int32
	for p := range f.assigned {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	want := map[string]Rule{}
	if f.ctx != nil && f.ctx.Err() == nil && len(parts) > 0 {
		for _, r := range f.rules {
			if !r.Paused {
				want[r.id()] = r
			}
		}
	}
	for id, run := range f.running {
		r, ok := want[id]
		if !ok || r.Generation != run.gen || !r.CreatedAt.Equal(run.created) || !slices.Equal(parts, run.parts) {
			run.cancel()
			<-run.done
			delete(f.running, id)
			f.metrics.lagRecords.DeleteLabelValues(run.rule.Tenant, run.rule.Name)
			f.metrics.lagSeconds.DeleteLabelValues(run.rule.Tenant, run.rule.Name)
		}
	}
	for id, r := range want {
		if _, ok := f.running[id]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(f.ctx)
		run := &running{rule: r, gen: r.Generation, created: r.CreatedAt, parts: parts, cancel: cancel, done: make(chan struct{})}
		rn := &runner{f: f, rule: r, match: newMatcher(r.Filter), parts: parts, log: f.log.With(zap.String("rule", id)),
			send:  sender{rule: r, client: f.http, now: time.Now},
			state: map[int32]*partState{}, counts: map[int32]*store.ForwardingPosition{}}
		go func() {
			defer close(run.done)
			rn.run(ctx)
		}()
		f.running[id] = run
	}
}

func (f *Forwarder) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	f.reconcile()
}
