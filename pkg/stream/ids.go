package stream

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// IDsHeader carries the id and fingerprint of every statement of a record,
// in the order of the value, as 48 bytes each: the 16 bytes of the UUID and
// the 32 bytes of the SHA-256 fingerprint. Ingest's conflict index tails the
// topic for nothing else, so it reads this instead of decoding the value.
// A record without it (written before the header existed, or by another
// producer) still answers through its value.
const IDsHeader = "lrs-ids"

const idEntrySize = 16 + 32

// StatementID is what the conflict rules need of a statement: its id and the
// fingerprint of its content.
type StatementID struct {
	ID          uuid.UUID
	Fingerprint [32]byte
}

// ParseStatementID reads an id and a hex SHA-256 fingerprint.
func ParseStatementID(id, fingerprint string) (StatementID, error) {
	var s StatementID
	u, err := uuid.Parse(id)
	if err != nil {
		return s, fmt.Errorf("statement id %q: %w", id, err)
	}
	s.ID = u
	if len(fingerprint) != 2*len(s.Fingerprint) {
		return s, fmt.Errorf("fingerprint of %s: want %d hex digits", id, 2*len(s.Fingerprint))
	}
	if _, err := hex.Decode(s.Fingerprint[:], []byte(fingerprint)); err != nil {
		return s, fmt.Errorf("fingerprint of %s: %w", id, err)
	}
	return s, nil
}

// idsHeader encodes the header of b, or reports false when a statement has
// no UUID id or no SHA-256 fingerprint (only tests make such batches).
func (b Batch) idsHeader() ([]byte, bool) {
	out := make([]byte, 0, idEntrySize*len(b.Statements))
	for _, s := range b.Statements {
		sid, err := ParseStatementID(s.ID, s.Fingerprint)
		if err != nil {
			return nil, false
		}
		out = append(out, sid.ID[:]...)
		out = append(out, sid.Fingerprint[:]...)
	}
	return out, true
}

// RecordIDs returns the tenant and the statement ids of a record written by
// Batch.Record, from its headers when it has them, else from its value.
func RecordIDs(r *kgo.Record) (tenant string, ids []StatementID, err error) {
	var header []byte
	found := false
	for _, h := range r.Headers {
		switch h.Key {
		case TenantHeader:
			tenant = string(h.Value)
		case IDsHeader:
			header, found = h.Value, true
		}
	}
	if found && tenant != "" {
		if len(header)%idEntrySize != 0 || len(header) == 0 {
			return "", nil, fmt.Errorf("%s header of %d bytes: want a multiple of %d", IDsHeader, len(header), idEntrySize)
		}
		ids = make([]StatementID, len(header)/idEntrySize)
		for i := range ids {
			e := header[i*idEntrySize:]
			copy(ids[i].ID[:], e[:16])
			copy(ids[i].Fingerprint[:], e[16:idEntrySize])
		}
		return tenant, ids, nil
	}
	b, err := DecodeBatch(r)
	if err != nil {
		return "", nil, err
	}
	ids = make([]StatementID, 0, len(b.Statements))
	var errs []error
	for _, s := range b.Statements {
		sid, err := ParseStatementID(s.ID, s.Fingerprint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, sid)
	}
	return b.Tenant, ids, errors.Join(errs...)
}
