package console

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Kafka is what the health page reads of the broker.
type Kafka struct {
	// Client is a long-lived client (the API's producer): offsets, groups,
	// and the records a re-send publishes.
	Client *kgo.Client
	// Dial makes a short-lived client that reads records (the ones at the
	// groups' positions, for lag in seconds, and the dead letters).
	Dial  func(opts ...kgo.Opt) (*kgo.Client, error)
	Topic string
	// StoreGroup is the store-writer's group: its positions are the offsets
	// the store applied (it commits none to Kafka).
	StoreGroup string
	// Applied reads those offsets.
	Applied func(ctx context.Context) (map[int32]int64, error)
}

// groupLag is one consumer group's distance behind the topic.
type groupLag struct {
	Group      string
	Records    int64
	Seconds    float64 // age of the oldest record it has not written; 0 when caught up
	Partitions []partitionLag
	Err        string
}

type partitionLag struct {
	Partition      int32
	Position, End  int64
	Records        int64
	Seconds        float64
	OldestUnstored time.Time
}

// lags reads every group that consumes the topic: the store-writer's from
// the store, the others (analytics-writer) from their committed offsets.
func (k Kafka) lags(ctx context.Context, now time.Time) ([]groupLag, error) {
	ends, err := stream.EndOffsets(ctx, k.Client, k.Topic)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(k.Client)
	starts := map[int32]int64{}
	so, err := adm.ListStartOffsets(ctx, k.Topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", k.Topic, err)
	}
	so.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			starts[o.Partition] = o.Offset
		}
	})
	type source struct {
		group string
		pos   map[int32]int64
		err   error
	}
	var sources []source
	pos, err := k.Applied(ctx)
	sources = append(sources, source{k.StoreGroup, pos, err})
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list consumer groups: %w", err)
	}
	for _, g := range listed.Groups() {
		if g == k.StoreGroup {
			continue
		}
		resp, err := adm.FetchOffsetsForTopics(ctx, g, k.Topic)
		if err != nil {
			sources = append(sources, source{group: g, err: err})
			continue
		}
		pos := map[int32]int64{}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.Topic == k.Topic && o.At >= 0 {
				pos[o.Partition] = o.At
			}
		})
		if len(pos) > 0 {
			sources = append(sources, source{group: g, pos: pos})
		}
	}
	out := make([]groupLag, 0, len(sources))
	for _, s := range sources {
		gl := groupLag{Group: s.group}
		if s.err != nil {
			gl.Err = s.err.Error()
			out = append(out, gl)
			continue
		}
		behind := map[int32]int64{}
		for p, end := range ends {
			position, ok := s.pos[p]
			if !ok || position < starts[p] {
				position = starts[p] // no position yet: the group starts at the log start
			}
			pl := partitionLag{Partition: p, Position: position, End: end, Records: max(end-position, 0)}
			if pl.Records > 0 {
				behind[p] = position
			}
			gl.Partitions = append(gl.Partitions, pl)
			gl.Records += pl.Records
		}
		sort.Slice(gl.Partitions, func(i, j int) bool { return gl.Partitions[i].Partition < gl.Partitions[j].Partition })
		if len(behind) > 0 {
			recs, err := k.read(ctx, k.Topic, behind, 1)
			if err != nil {
				gl.Err = "lag in seconds: " + err.Error()
			}
			for i, pl := range gl.Partitions {
				if rs := recs[pl.Partition]; len(rs) > 0 {
					gl.Partitions[i].OldestUnstored = rs[0].Timestamp
					gl.Partitions[i].Seconds = max(now.Sub(rs[0].Timestamp).Seconds(), 0)
					gl.Seconds = max(gl.Seconds, gl.Partitions[i].Seconds)
				}
			}
		}
		out = append(out, gl)
	}
	return out, nil
}

// read returns up to n records of each partition of topic from the offset
// given, stopping at the partition's end or after a few seconds.
func (k Kafka) read(ctx context.Context, topic string, from map[int32]int64, n int) (map[int32][]*kgo.Record, error) {
	offs := map[int32]kgo.Offset{}
	for p, o := range from {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl, err := k.Dial(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := stream.EndOffsets(ctx, k.Client, topic)
	if err != nil {
		return nil, err
	}
	want := map[int32]int64{} // partition -> offset past which nothing is wanted
	for p, o := range from {
		if last := min(o+int64(n), ends[p]); last > o {
			want[p] = last
		}
	}
	out := map[int32][]*kgo.Record{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %s: %w", topic, ctx.Err())
		}
		var errs []error
		fs.EachError(func(_ string, _ int32, err error) { errs = append(errs, err) })
		if len(errs) > 0 {
			return out, fmt.Errorf("read %s: %w", topic, errors.Join(errs...))
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := want[r.Partition]
			if !ok || r.Offset >= last {
				return
			}
			out[r.Partition] = append(out[r.Partition], r)
			if r.Offset+1 >= last {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}

// deadLetter is one record of the dead-letter topic as the page shows it.
type deadLetter struct {
	Partition       int32
	Offset          int64
	Time            time.Time
	Reason, Group   string
	Source          string
	SourcePartition string
	SourceOffset    string
	Tenant          string
	StatementIDs    []string
	// Resendable: the value is a batch, and a group other than the
	// store-writer's gave up on it (the analytics-writer's rows ClickHouse
	// refused): once its cause is fixed, sending it again to the source
	// topic gets it written, and the store-writer takes it as a duplicate.
	// The store-writer's dead letters (conflicts, undecodable records)
	// would only fail the same way again.
	Resendable bool
	value      []byte
}

// deadLetterFilter narrows the list; empty fields match everything.
type deadLetterFilter struct {
	Group, Reason, Tenant string
}

func (f deadLetterFilter) match(d deadLetter) bool {
	return (f.Group == "" || d.Group == f.Group) &&
		(f.Reason == "" || strings.Contains(strings.ToLower(d.Reason), strings.ToLower(f.Reason))) &&
		(f.Tenant == "" || d.Tenant == f.Tenant)
}

func (k Kafka) dlqTopic() string { return stream.TopicConfig{Name: k.Topic}.DeadLetterTopic() }

// deadLetters returns the newest dead letters, up to n per partition, newest
// first. A dead-letter topic that does not exist yet holds none.
func (k Kafka) deadLetters(ctx context.Context, n int) ([]deadLetter, error) {
	topic := k.dlqTopic()
	ends, err := stream.EndOffsets(ctx, k.Client, topic)
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, nil
		}
		return nil, err
	}
	so, err := kadm.NewClient(k.Client).ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	from := map[int32]int64{}
	so.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			from[o.Partition] = max(o.Offset, ends[o.Partition]-int64(n))
		}
	})
	recs, err := k.read(ctx, topic, from, n)
	if err != nil {
		return nil, err
	}
	var out []deadLetter
	for _, rs := range recs {
		for _, r := range rs {
			out = append(out, k.parseDeadLetter(r))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func (k Kafka) parseDeadLetter(r *kgo.Record) deadLetter {
	d := deadLetter{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, value: r.Value}
	for _, h := range r.Headers {
		switch h.Key {
		case stream.DeadLetterReasonHeader:
			d.Reason = string(h.Value)
		case stream.DeadLetterGroupHeader:
			d.Group = string(h.Value)
		case stream.DeadLetterSourceHeader:
			d.Source = string(h.Value)
		case stream.DeadLetterPartitionHeader:
			d.SourcePartition = string(h.Value)
		case stream.DeadLetterOffsetHeader:
			d.SourceOffset = string(h.Value)
		}
	}
	if b, err := stream.DecodeBatch(&kgo.Record{Value: r.Value}); err == nil {
		d.Tenant = b.Tenant
		for _, s := range b.Statements {
			d.StatementIDs = append(d.StatementIDs, s.ID)
		}
		d.Resendable = d.Group != k.StoreGroup && d.Source != ""
	}
	return d
}

// resend publishes the batch of the dead letter at (partition, offset) to
// its source topic again, and returns the tenant and statement count.
func (k Kafka) resend(ctx context.Context, partition int32, offset int64) (deadLetter, error) {
	recs, err := k.read(ctx, k.dlqTopic(), map[int32]int64{partition: offset}, 1)
	if err != nil {
		return deadLetter{}, err
	}
	rs := recs[partition]
	if len(rs) == 0 || rs[0].Offset != offset {
		return deadLetter{}, fmt.Errorf("dead letter %d/%d: %w", partition, offset, errNotFound)
	}
	d := k.parseDeadLetter(rs[0])
	if !d.Resendable {
		return d, fmt.Errorf("dead letter %d/%d of group %s (%s): %w", partition, offset, d.Group, d.Reason, errNotResendable)
	}
	b, err := stream.DecodeBatch(&kgo.Record{Value: d.value})
	if err != nil {
		return d, err
	}
	rec, err := b.Record(d.Source)
	if err != nil {
		return d, err
	}
	if err := k.Client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return d, fmt.Errorf("re-send to %s: %w", d.Source, err)
	}
	return d, nil
}

var (
	errNotFound      = errors.New("not found")
	errNotResendable = errors.New("a re-send would fail the same way: not offered")
)
