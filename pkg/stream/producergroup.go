package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ErrNotMember means this instance is not, or no longer, a member of the
// topic's producer group: it publishes nothing until it is again.
var ErrNotMember = errors.New("not a member of the topic's producer group")

// ProducerGroup is this instance's membership of the group every ingest of
// a topic joins before it publishes statements. The group exists for one
// answer: whether this instance is the topic's only producer right now,
// which lets the conflict check skip its broker round trip (see
// docs/architecture.md, "Conflicts").
//
// The guarantee rests on the classic group protocol with an eager
// balancer. A member publishes only between a completed SyncGroup and the
// loss of its membership; a new member completes its SyncGroup only after
// every existing member rejoined, and an existing member rejoins only
// after its revoke callback, which ends its sole lease. A member cut off
// from the coordinator stops publishing a while after its group requests
// fail (see lostGrace), before the coordinator's session timeout lets the
// group go on without it.
type ProducerGroup struct {
	cl   *kgo.Client
	name string
	log  *zap.Logger

	mu     sync.Mutex
	member bool
	lostAt time.Time // when kgo reported the membership lost; zero while it is not
	epoch  uint64    // counts sole leases: a check caught up in one lease says nothing of the next
	sole   bool

	gauge prometheus.Gauge
}

// ProducerGroupName is the group of a topic's producers.
func ProducerGroupName(topic string) string { return "lrs-producers." + topic }

// groupRetryBound bounds the retries of the group's own requests, and
// lostGrace how long publishing goes on once they failed: the last answered
// heartbeat was at most heartbeat interval + retry bound + request timeout
// (3 + 10 + 10 s) before kgo reports the loss, and the coordinator keeps a
// member for its session timeout (45 s) after its last heartbeat. Publishing
// on for lostGrace, with a publish taking up to its own timeout (10 s by
// default), ends within 38 s. Within the grace a broker restart or the
// coordinator moving to another broker costs no refused write: kgo rejoins
// by itself.
const (
	groupRetryBound = 10 * time.Second
	lostGrace       = 5 * time.Second
)

// JoinProducerGroup joins topic's producer group with a client of its own
// (newClient gets the group's options). Membership comes a moment later:
// until then Admit refuses.
func JoinProducerGroup(topic string, newClient func(...kgo.Opt) (*kgo.Client, error), reg prometheus.Registerer, log *zap.Logger) (*ProducerGroup, error) {
	if topic == "" || newClient == nil || log == nil {
		return nil, errors.New("producer group needs a topic, a client constructor and a logger")
	}
	g := &ProducerGroup{name: ProducerGroupName(topic), log: log, gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lrs_producer_group_members",
		Help: "Members of the topic's producer group as this instance last learnt it (0: not a member); 1 lets the conflict check skip the broker round trip.",
	})}
	if reg != nil {
		if err := registerAll(reg, g.gauge); err != nil {
			return nil, err
		}
	}
	cl, err := newClient(
		kgo.ConsumerGroup(g.name),
		// The group needs a topic to join over; its members consume nothing.
		kgo.ConsumeTopics(topic),
		kgo.Balancers(countingBalancer{g}),
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) { g.revoked() }),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { g.lost() }),
		kgo.DisableAutoCommit(),
		kgo.RetryTimeoutFn(func(key int16) time.Duration {
			switch kmsg.Key(key) {
			case kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup:
				return groupRetryBound
			}
			return 30 * time.Second
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("producer group: %w", err)
	}
	g.cl = cl
	return g, nil
}

// Close leaves the group. Call it after the last publish was answered: a
// member that leaves lets another become sole at once.
func (g *ProducerGroup) Close() {
	g.mu.Lock()
	g.member, g.sole = false, false
	g.mu.Unlock()
	g.cl.Close()
}

// Admit is nil while this instance may publish statements.
func (g *ProducerGroup) Admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.member || (!g.lostAt.IsZero() && time.Since(g.lostAt) >= lostGrace) {
		return ErrNotMember
	}
	return nil
}

// Ready is Admit for the health check.
func (g *ProducerGroup) Ready(context.Context) error {
	if err := g.Admit(); err != nil {
		return fmt.Errorf("%w (joining %s)", err, g.name)
	}
	return nil
}

// Sole reports whether this instance is the only member, and which sole
// lease it is in.
func (g *ProducerGroup) Sole() (epoch uint64, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch, g.sole
}

func (g *ProducerGroup) assigned(members int) {
	g.mu.Lock()
	was := g.sole
	g.member, g.lostAt, g.sole = true, time.Time{}, members == 1
	if g.sole && !was {
		g.epoch++
	}
	g.mu.Unlock()
	g.gauge.Set(float64(members))
	g.log.Info("producer group joined", zap.Int("members", members), zap.Bool("sole", members == 1))
}

// revoked starts a rebalance: another instance may be about to publish.
func (g *ProducerGroup) revoked() {
	g.mu.Lock()
	g.sole = false
	g.mu.Unlock()
}

// lost: kgo gave up the membership after failed group requests, and
// rejoins. No longer sole at once; publishing stops after lostGrace unless
// the rejoin completed.
func (g *ProducerGroup) lost() {
	g.mu.Lock()
	first := g.lostAt.IsZero()
	if first {
		g.lostAt = time.Now()
	}
	g.sole = false
	g.mu.Unlock()
	g.gauge.Set(0)
	if first {
		g.log.Warn("producer group membership lost: rejoining; publishing stops if that takes longer than the grace", zap.Duration("grace", lostGrace))
	}
}

// countingBalancer assigns no partitions; it tells each member how many
// members the generation has, in the assignment's user data.
type countingBalancer struct{ g *ProducerGroup }

func (countingBalancer) ProtocolName() string { return "lrs-producers" }
func (countingBalancer) IsCooperative() bool  { return false }

func (countingBalancer) JoinGroupMetadata(topics []string, _ map[string][]int32, _ int32) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func (b countingBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("producer group assignment: %w", err)
	}
	n, err := strconv.Atoi(string(a.UserData))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("producer group assignment: members %q", a.UserData)
	}
	b.g.assigned(n)
	return map[string][]int32{}, nil
}

func (countingBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	return memberCount(members), map[string]struct{}{}, nil
}

type memberCount []kmsg.JoinGroupResponseMember

func (m memberCount) Balance(map[string]int32) kgo.IntoSyncAssignment { return m }

func (m memberCount) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	a := kmsg.NewConsumerMemberAssignment()
	a.UserData = []byte(strconv.Itoa(len(m)))
	raw := a.AppendTo(nil)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, len(m))
	for i, mem := range m {
		out[i] = kmsg.SyncGroupRequestGroupAssignment{MemberID: mem.MemberID, MemberAssignment: raw}
	}
	return out
}
