package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/jsonscan"
)

// FormatHeader names the record format, so that a future format can be
// introduced while old records are still in the topic.
const (
	FormatHeader  = "lrs-format"
	FormatBatchV1 = "statements.v1"
	TenantHeader  = "lrs-tenant"
)

// Batch is the value of one record on the statements topic.
type Batch struct {
	Tenant     string      `json:"tenant"`
	Statements []Statement `json:"statements"`
}

// Statement is one accepted statement as ingest prepared it: Statement holds
// the full JSON with id, stored, authority and version set, Fingerprint the
// hash of its canonical form (same id and fingerprint = the same statement).
type Statement struct {
	ID          string          `json:"id"`
	Stored      time.Time       `json:"stored"`
	Fingerprint string          `json:"fingerprint"`
	Statement   json.RawMessage `json:"statement"`
	// Source and OriginalStored are the provenance of a statement brought
	// in from another LRS or a file (`lrs pull`, `lrs import`): where it
	// came from and the stored time it had there, which xAPI makes this LRS
	// replace with its own. Absent for every other statement.
	Source         string    `json:"source,omitempty"`
	OriginalStored time.Time `json:"originalStored,omitzero"`
}

// Record encodes b as a Kafka record on topic. The key, <tenant>/<first
// statement id>, names the request (the producer's partitioner ignores it,
// see ProducerOpts); the order of statements across requests does not
// matter to the writers (voiding is order-independent).
func (b Batch) Record(topic string) (*kgo.Record, error) {
	if b.Tenant == "" {
		return nil, errors.New("batch without tenant")
	}
	if len(b.Statements) == 0 {
		return nil, errors.New("batch without statements")
	}
	v, err := b.encode()
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	rec := &kgo.Record{
		Topic: topic,
		Key:   []byte(b.Tenant + "/" + b.Statements[0].ID),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: FormatHeader, Value: []byte(FormatBatchV1)},
			{Key: TenantHeader, Value: []byte(b.Tenant)},
		},
	}
	if ids, ok := b.idsHeader(); ok {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: IDsHeader, Value: ids})
	}
	return rec, nil
}

// encode writes the same JSON as json.Marshal(b) without re-validating and
// compacting every statement, which ingest has just produced as compact,
// valid JSON: on the ingest hot path that scan cost more than the rest of
// the encoding.
func (b Batch) encode() ([]byte, error) {
	size := 32 + len(b.Tenant)
	for _, s := range b.Statements {
		size += len(s.Statement) + len(s.ID) + len(s.Fingerprint) + len(s.Source) + 96
	}
	out := make([]byte, 0, size)
	out = append(out, `{"tenant":`...)
	out = appendJSONString(out, b.Tenant)
	out = append(out, `,"statements":[`...)
	for i, s := range b.Statements {
		if len(s.Statement) == 0 || s.Statement[0] != '{' {
			return nil, fmt.Errorf("statement %d is not a JSON object", i)
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"id":`...)
		out = appendJSONString(out, s.ID)
		out = append(out, `,"stored":"`...)
		out = s.Stored.UTC().AppendFormat(out, time.RFC3339Nano)
		out = append(out, `","fingerprint":`...)
		out = appendJSONString(out, s.Fingerprint)
		out = append(out, `,"statement":`...)
		out = append(out, s.Statement...)
		if s.Source != "" {
			out = append(out, `,"source":`...)
			out = appendJSONString(out, s.Source)
		}
		if !s.OriginalStored.IsZero() {
			out = append(out, `,"originalStored":"`...)
			out = s.OriginalStored.UTC().AppendFormat(out, time.RFC3339Nano)
			out = append(out, '"')
		}
		out = append(out, '}')
	}
	return append(out, "]}"...), nil
}

// appendJSONString quotes s as JSON. Tenant names, ids and fingerprints are
// plain ASCII, which is copied as is; anything else goes through
// encoding/json.
func appendJSONString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(out, q...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// DecodeBatch reads a record written by Batch.Record. An error means the
// record can never be processed (it belongs in the dead-letter topic).
func DecodeBatch(r *kgo.Record) (Batch, error) {
	for _, h := range r.Headers {
		if h.Key == FormatHeader && string(h.Value) != FormatBatchV1 {
			return Batch{}, fmt.Errorf("unknown record format %q", h.Value)
		}
	}
	b, ok := decodeEncoded(r.Value)
	if !ok {
		// Not laid out as encode writes it (another producer, a future
		// field): the general decoder takes any valid JSON.
		b = Batch{}
		if err := json.Unmarshal(r.Value, &b); err != nil {
			return Batch{}, fmt.Errorf("decode batch: %w", err)
		}
	}
	if b.Tenant == "" {
		return Batch{}, errors.New("batch without tenant")
	}
	for i, s := range b.Statements {
		if s.ID == "" || len(s.Statement) == 0 {
			return Batch{}, fmt.Errorf("statement %d: missing id or body", i)
		}
	}
	return b, nil
}

// Decoded is a record and the batch it carries.
type Decoded struct {
	Record *kgo.Record
	Batch  Batch
}

// DecodeAll decodes recs, sending records that cannot be decoded to the
// dead-letter topic. An error means the dead-letter topic could not take one
// and the whole set must be retried.
func DecodeAll(ctx context.Context, recs []*kgo.Record, dlq *DeadLetter) ([]Decoded, error) {
	out := make([]Decoded, 0, len(recs))
	for _, r := range recs {
		b, err := DecodeBatch(r)
		if err != nil {
			if err := dlq.Send(ctx, r, r.Value, "undecodable", err.Error()); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, Decoded{Record: r, Batch: b})
	}
	return out, nil
}

// decodeEncoded reads the exact layout encode writes without a general
// JSON decoder, which in the writers cost more than the rest of a record's
// handling: it scans each statement once, validating it on the way to its
// end (a malformed one is not cut in the wrong place), and keeps it in
// place instead of copying it. It reports false for anything else, and for
// a statement jsonscan refuses: the general decoder then decides.
func decodeEncoded(v []byte) (Batch, bool) {
	var b Batch
	rest, ok := cutPrefix(v, `{"tenant":`)
	if !ok {
		return b, false
	}
	if b.Tenant, rest, ok = plainString(rest); !ok {
		return b, false
	}
	if rest, ok = cutPrefix(rest, `,"statements":[`); !ok {
		return b, false
	}
	for len(rest) > 0 && rest[0] != ']' {
		if len(b.Statements) > 0 {
			if rest, ok = cutPrefix(rest, ","); !ok {
				return b, false
			}
		}
		var s Statement
		var stored string
		for _, f := range []struct {
			prefix string
			dst    *string
		}{{`{"id":`, &s.ID}, {`,"stored":`, &stored}, {`,"fingerprint":`, &s.Fingerprint}} {
			if rest, ok = cutPrefix(rest, f.prefix); !ok {
				return b, false
			}
			if *f.dst, rest, ok = plainString(rest); !ok {
				return b, false
			}
		}
		t, err := time.Parse(time.RFC3339Nano, stored)
		if err != nil {
			return b, false
		}
		s.Stored = t
		if rest, ok = cutPrefix(rest, `,"statement":`); !ok {
			return b, false
		}
		if len(rest) == 0 || rest[0] != '{' {
			return b, false
		}
		n, err := jsonscan.Skip(rest, 0)
		if err != nil {
			return b, false
		}
		s.Statement, rest = json.RawMessage(rest[:n:n]), rest[n:]
		if r, ok := cutPrefix(rest, `,"source":`); ok {
			if s.Source, rest, ok = plainString(r); !ok {
				return b, false
			}
		}
		if r, ok := cutPrefix(rest, `,"originalStored":`); ok {
			if stored, rest, ok = plainString(r); !ok {
				return b, false
			}
			if s.OriginalStored, err = time.Parse(time.RFC3339Nano, stored); err != nil {
				return b, false
			}
		}
		if rest, ok = cutPrefix(rest, "}"); !ok {
			return b, false
		}
		b.Statements = append(b.Statements, s)
	}
	if string(rest) != "]}" {
		return b, false
	}
	return b, true
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) < len(p) || string(b[:len(p)]) != p {
		return b, false
	}
	return b[len(p):], true
}

// plainString reads a JSON string without escapes (what appendJSONString
// writes for plain ASCII); anything else is left to the general decoder.
func plainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[1:i]), b[i+1:], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", b, false
		}
	}
	return "", b, false
}
