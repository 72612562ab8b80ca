package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FormatErasureV1 is the lrs-format of an erasure record: the request to
// erase one agent's data from one tenant, or (Retention) the statements a
// tenant keeps no longer. It travels on the statements
// topic, one copy in every partition, so that each partition's consumers
// apply it after the statements before it: a replay or a back-fill from the
// start of the topic erases again what it re-inserts, and never brings the
// learner back.
const FormatErasureV1 = "erasure.v1"

// Erasure is the value of an erasure record.
type Erasure struct {
	// ID names the erasure (a UUID); every copy of it carries the same.
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Agent is the xAPI Agent or identified Group to erase, by its inverse
	// functional identifier: every statement in which it appears (actor,
	// object, context instructor, team, agents or groups, as a member of a
	// Group, inside a SubStatement; not as the authority) stored at or
	// before Before, and its State and Agent Profile documents. It is in
	// clear on the log because every consumer, outside ones included, must
	// find the agent in its own copy; the log drops it with the statements
	// it erases, by the topic's retention. Absent in a retention record.
	Agent json.RawMessage `json:"agent,omitempty"`
	// Retention marks the tenant's retention at work instead of an agent's
	// erasure: every statement of the tenant stored before Before goes,
	// with its attachments (documents stay). The retention job
	// publishes one on an interval; applying one again is a no-op, so the
	// copies several ingest instances publish do no harm.
	Retention bool `json:"retention,omitempty"`
	// Before bounds the statements erased by their stored time: the
	// statements of the agent sent after the erasure are new data, and
	// every consumer erases the same set whatever the order in which it
	// reads the partitions.
	Before time.Time `json:"before"`
	// RequestedBy says who asked (free text, e.g. the data protection
	// officer's ticket), for the record the store keeps.
	RequestedBy string `json:"requestedBy,omitempty"`
}

// Validate reports an erasure that no consumer could apply.
func (e Erasure) Validate() error {
	var errs []error
	if e.ID == "" {
		errs = append(errs, errors.New("erasure without id"))
	}
	if e.Tenant == "" {
		errs = append(errs, errors.New("erasure without tenant"))
	}
	switch b := bytes.TrimSpace(e.Agent); {
	case e.Retention && len(b) > 0:
		errs = append(errs, errors.New("a retention record names no agent"))
	case !e.Retention && (len(b) == 0 || b[0] != '{'):
		errs = append(errs, errors.New("erasure agent is not a JSON object"))
	}
	if e.Before.IsZero() {
		errs = append(errs, errors.New("erasure without before"))
	}
	return errors.Join(errs...)
}

// Records returns one copy of e for each of partitions of topic, with the
// partition set: the producer must use a manual partitioner
// (kgo.RecordPartitioner(kgo.ManualPartitioner())).
func (e Erasure) Records(topic string, partitions []int32) ([]*kgo.Record, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if len(partitions) == 0 {
		return nil, errors.New("erasure: no partitions to publish to")
	}
	v, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode erasure: %w", err)
	}
	out := make([]*kgo.Record, len(partitions))
	for i, p := range partitions {
		out[i] = &kgo.Record{
			Topic:     topic,
			Partition: p,
			Key:       []byte(e.Tenant + "/erasure/" + e.ID),
			Value:     v,
			Headers: []kgo.RecordHeader{
				{Key: FormatHeader, Value: []byte(FormatErasureV1)},
				{Key: TenantHeader, Value: []byte(e.Tenant)},
			},
		}
	}
	return out, nil
}

// IsErasure reports whether r is an erasure record (by its lrs-format
// header): readers that want only statements skip it.
func IsErasure(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == FormatHeader {
			return string(h.Value) == FormatErasureV1
		}
	}
	return false
}

// DecodeErasure reads an erasure record. An error means it can never be
// applied (it belongs in the dead-letter topic).
func DecodeErasure(r *kgo.Record) (Erasure, error) {
	var e Erasure
	if err := json.Unmarshal(r.Value, &e); err != nil {
		return Erasure{}, fmt.Errorf("decode erasure: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Erasure{}, err
	}
	return e, nil
}

// Segment is a run of statement records, or one erasure record, in the
// order a consumer must apply them.
type Segment struct {
	// Records are statement records (Erasure is nil) or the one erasure
	// record.
	Records []*kgo.Record
	Erasure *Erasure
}

// Split cuts recs at their erasure records, keeping the order: a writer
// applies each segment after the ones before it, so an erasure removes what
// the records before it in its partition wrote. An erasure record that
// cannot be decoded is left in a statements segment, where DecodeAll
// dead-letters it.
func Split(recs []*kgo.Record) []Segment {
	var out []Segment
	start := 0
	for i, r := range recs {
		if !IsErasure(r) {
			continue
		}
		e, err := DecodeErasure(r)
		if err != nil {
			continue
		}
		if i > start {
			out = append(out, Segment{Records: recs[start:i]})
		}
		out = append(out, Segment{Records: recs[i : i+1], Erasure: &e})
		start = i + 1
	}
	if start < len(recs) {
		out = append(out, Segment{Records: recs[start:]})
	}
	return out
}

// ErasurePublisher puts erasure records on the statements topic, one copy
// in every partition. It needs a client of its own: the records carry
// their partitions, which only a manual partitioner keeps
// (LifecycleProducerOpts).
type ErasurePublisher struct {
	cl    *kgo.Client
	topic string
}

// LifecycleProducerOpts are the producer options of an ErasurePublisher's
// client.
func LifecycleProducerOpts(topic string, deliveryTimeout time.Duration) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
}

// NewErasurePublisher publishes to topic with cl (made with
// LifecycleProducerOpts).
func NewErasurePublisher(cl *kgo.Client, topic string) (*ErasurePublisher, error) {
	if cl == nil || topic == "" {
		return nil, errors.New("erasure publisher needs a Kafka client and a topic")
	}
	return &ErasurePublisher{cl: cl, topic: topic}, nil
}

// Publish writes e to every partition of the topic and returns how many
// copies it wrote: the erasure is complete once each consumer applied
// that many. A failure may leave some copies written; publishing the same
// e again is harmless, since applying a copy twice removes nothing more.
func (p *ErasurePublisher) Publish(ctx context.Context, e Erasure) (int, error) {
	md, err := kadm.NewClient(p.cl).Metadata(ctx, p.topic)
	if err != nil {
		return 0, fmt.Errorf("erasure: topic metadata: %w", err)
	}
	td, ok := md.Topics[p.topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return 0, fmt.Errorf("erasure: topic %s has no partitions (%v)", p.topic, td.Err)
	}
	parts := make([]int32, 0, len(td.Partitions))
	for _, pd := range td.Partitions {
		parts = append(parts, pd.Partition)
	}
	recs, err := e.Records(p.topic, parts)
	if err != nil {
		return 0, err
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("erasure: publish: %w", err)
	}
	return len(recs), nil
}
