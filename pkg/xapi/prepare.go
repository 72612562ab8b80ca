package xapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Assign is what the LRS sets on every statement it accepts.
type Assign struct {
	Stored      time.Time       // set as "stored" (RFC 3339, UTC, millisecond precision)
	Authority   json.RawMessage // the credential's Agent/Group; replaces/sets "authority"
	NewID       func() string   // called for statements without an id (lower-case UUID v4)
	StatementID string          // PUT: the statementId parameter; the statement's id must match it or be absent
	// MaxStatements bounds the statements of an array (0: no bound). It is
	// checked while parsing, so a hostile array costs no more than the
	// bound; past it PrepareStatements returns a *LimitError.
	MaxStatements int
	// SentStored keeps in Prepared.SentStored the "stored" each statement
	// came with, which the stored form replaces: an import's original
	// stored time.
	SentStored bool
}

// Prepared is one validated statement ready to publish and store.
type Prepared struct {
	ID          string // lower-case UUID
	JSON        []byte // the statement in stored form, see PrepareStatements
	Fingerprint string // hex SHA-256 of the canonical form under the statement comparison rules
	VoidedID    string // the id of the statement this one voids, or ""
	SentStored  string // with Assign.SentStored: its "stored" as sent, "" if it had none
}

// DefaultVersion is the "version" set on a statement sent without one:
// 1.0.x requires "1.0.0" (Data 2.4.10); 2.0 statements are stored with
// "2.0.0", the version they were accepted with.
func DefaultVersion(v Version) string {
	if v == V2_0_0 {
		return "2.0.0"
	}
	return "1.0.0"
}

// state is the per-call scratch space, pooled so that a warm call
// allocates only its results.
type state struct {
	doc     document
	chk     checker
	w       writer
	canon   canonicalizer
	infos   []stmtInfo
	ids     []idRef
	spans   []idSpans
	offsets []int
	idBuf   []byte
	fpBuf   []byte
	given   []int
}

// idSpans locates a statement's id and voided id in the shared id string.
type idSpans struct{ id, voided [2]int }

// idRef locates a statement's id: given in the body (node) or generated.
type idRef struct {
	node uint32
	gen  string
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// maxPooledBuffer keeps one huge request from pinning its buffers in the
// pool for good.
const maxPooledBuffer = 1 << 20

func (st *state) release() {
	if cap(st.doc.nodes) > maxPooledBuffer/24 || cap(st.w.b) > maxPooledBuffer || cap(st.canon.b) > maxPooledBuffer {
		return
	}
	st.doc.src = nil
	st.chk.d, st.w.d, st.canon.d = nil, nil, nil
	statePool.Put(st)
}

// PrepareStatements parses a request body holding one statement object or
// a non-empty array of them, validates each fully for version v, and
// returns them in order in stored form. The whole batch fails if any
// statement fails, and an array may not use the same id twice. Validation
// errors are returned as *ValidationError (a 400 for the caller); other
// errors mean the call itself was wrong.
//
// The stored form is the statement re-serialized without insignificant
// whitespace, with:
//   - "id" set (from the body, Assign.StatementID or Assign.NewID), lower-case;
//   - "stored" set to Assign.Stored;
//   - "authority" replaced by Assign.Authority when that is set;
//   - "version" kept as sent, or set to DefaultVersion(v);
//   - "timestamp" converted to UTC, or set to "stored" when absent;
//   - SubStatement timestamps converted to UTC;
//   - contextActivities values that are single Activities wrapped in arrays.
func PrepareStatements(body []byte, v Version, a Assign) ([]Prepared, error) {
	if v != V1_0_3 && v != V2_0_0 {
		return nil, fmt.Errorf("prepare statements: unsupported xAPI version %q", v)
	}
	if a.NewID == nil {
		return nil, fmt.Errorf("prepare statements: Assign.NewID is required")
	}
	if len(a.Authority) > 0 && !json.Valid(a.Authority) {
		return nil, fmt.Errorf("prepare statements: Assign.Authority is not valid JSON")
	}
	st := statePool.Get().(*state)
	defer st.release()

	st.doc.maxRoot, st.doc.maxNodes = a.MaxStatements, MaxNodes
	if err := st.doc.parse(body); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return nil, le
		}
		return nil, &ValidationError{Errors: []FieldError{{Pointer: "", Rule: err.Error()}}}
	}
	d := &st.doc
	c := &st.chk
	c.reset(d, v)

	root := uint32(0)
	batch := d.nodes[root].kind == kindArray
	var first, end uint32
	switch {
	case batch:
		if d.nodes[root].count == 0 {
			return nil, newValidationError("", "the statement array is empty")
		}
		if a.StatementID != "" {
			return nil, newValidationError("", "a PUT request carries exactly one statement object, not an array")
		}
		first, end = 1, d.nodes[root].next
	case d.nodes[root].kind == kindObject:
		first, end = root, d.nodes[root].next
	default:
		return nil, newValidationError("", "the body must be a statement object or an array of statements")
	}
	if a.StatementID != "" && !validUUID([]byte(a.StatementID)) {
		return nil, newValidationError("", "the statementId parameter must be a UUID")
	}

	st.infos = st.infos[:0]
	st.ids = st.ids[:0]
	for s, i := first, 0; s < end; s, i = d.nodes[s].next, i+1 {
		if batch {
			c.prefix = i
		}
		st.infos = append(st.infos, stmtInfo{})
		info := &st.infos[len(st.infos)-1]
		c.statement(s, false, info)
		st.ids = append(st.ids, st.resolveID(info, a.StatementID))
		if !batch {
			break
		}
	}
	if batch && len(c.errs) == 0 {
		st.checkDuplicateIDs()
	}
	if len(c.errs) > 0 {
		return nil, &ValidationError{Errors: append([]FieldError(nil), c.errs...), Truncated: c.more}
	}
	return st.emit(first, end, batch, v, a)
}

func newValidationError(pointer, rule string) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Pointer: pointer, Rule: rule}}}
}

// resolveID decides a statement's id and checks it against the PUT
// statementId parameter.
func (st *state) resolveID(info *stmtInfo, statementID string) idRef {
	idNode := info.f[fID]
	valid := idNode != 0 && st.doc.nodes[idNode].kind == kindString && validUUID(st.uuidText(idNode))
	if statementID != "" {
		if valid && !strings.EqualFold(string(st.uuidText(idNode)), statementID) {
			st.chk.failChild("id", "must equal the statementId parameter of the PUT request (or be left out)")
		}
		return idRef{gen: statementID}
	}
	if valid {
		return idRef{node: idNode}
	}
	return idRef{}
}

// checkDuplicateIDs rejects a batch that uses one id twice: storing both
// would make one of them unreachable (the spec leaves this to the LRS; the
// conformance suite expects 400). The ids are sorted case-insensitively
// (stably, so the first use of an id comes first), keeping a big batch
// O(n log n) without a map of strings.
func (st *state) checkDuplicateIDs() {
	given := st.given[:0] // statement indexes with an id in the body
	for i, r := range st.ids {
		if r.node != 0 {
			given = append(given, i)
		}
	}
	st.given = given
	if len(given) < 2 {
		return
	}
	slices.SortStableFunc(given, func(a, b int) int {
		return compareFold(st.uuidText(st.ids[a].node), st.uuidText(st.ids[b].node))
	})
	first := given[0]
	for k := 1; k < len(given); k++ {
		i := given[k]
		if compareFold(st.uuidText(st.ids[i].node), st.uuidText(st.ids[first].node)) != 0 {
			first = i
			continue
		}
		st.chk.prefix = i
		st.chk.path = st.chk.path[:0]
		st.chk.failChild("id", fmt.Sprintf("the same id is used by statement %d of this batch", first))
	}
}

// compareFold orders ASCII strings ignoring case (ids are hex and dashes).
func compareFold(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return cmpInt(int(x), int(y))
		}
	}
	return cmpInt(len(a), len(b))
}

// uuidText returns the value of a UUID string node; escapes (legal JSON,
// if odd in a UUID) are decoded into a fresh buffer.
func (st *state) uuidText(n uint32) []byte {
	if st.doc.nodes[n].escaped {
		return st.doc.text(n, nil)
	}
	return st.doc.raw(n)
}

const storedLayout = "2006-01-02T15:04:05.000Z"

// emit writes the stored form and fingerprint of each validated statement.
// Results share three allocations (JSON, ids, fingerprints) whatever the
// batch size.
func (st *state) emit(first, end uint32, batch bool, v Version, a Assign) ([]Prepared, error) {
	d := &st.doc
	n := len(st.infos)
	out := make([]Prepared, n)

	var storedBuf [32]byte
	stored := a.Stored.UTC().Truncate(time.Millisecond).AppendFormat(storedBuf[:0], storedLayout)

	// Ids: generated ones are used as is (lower-cased); given ones and
	// voided targets are lower-cased into one string.
	idBytes := st.idBuf[:0]
	spans := slices.Grow(st.spans[:0], n)[:n]
	clear(spans)
	st.spans = spans
	for i, r := range st.ids {
		if r.node != 0 {
			s := len(idBytes)
			idBytes = appendLower(idBytes, st.uuidText(r.node))
			spans[i].id = [2]int{s, len(idBytes)}
		} else {
			id := r.gen
			if id == "" {
				id = a.NewID()
			}
			out[i].ID = strings.ToLower(id)
		}
		if ref := st.infos[i].voidedRef; ref != 0 {
			s := len(idBytes)
			idBytes = appendLower(idBytes, st.uuidText(ref))
			spans[i].voided = [2]int{s, len(idBytes)}
		}
	}
	idStr := string(idBytes)
	st.idBuf = idBytes

	w := &st.w
	w.d, w.v, w.b = d, v, w.b[:0]
	cz := &st.canon
	cz.d, cz.v = d, v
	fps := st.fpBuf[:0]
	offsets := slices.Grow(st.offsets[:0], n+1)[:n+1]
	offsets[0] = 0
	st.offsets = offsets
	i := 0
	for s := first; s < end; s, i = d.nodes[s].next, i+1 {
		info := &st.infos[i]
		if info.f[fID] != 0 && st.ids[i].node != 0 {
			out[i].ID = idStr[spans[i].id[0]:spans[i].id[1]]
		}
		if sp := spans[i].voided; sp[1] > 0 {
			out[i].VoidedID = idStr[sp[0]:sp[1]]
		}
		if sv := info.f[fStored]; a.SentStored && sv != 0 {
			out[i].SentStored = string(d.text(sv, nil))
		}
		st.writeStored(s, info, out[i].ID, stored, a.Authority, v)
		offsets[i+1] = len(w.b)

		cz.b = cz.b[:0]
		cz.object(s, cmStatement)
		sum := sha256.Sum256(cz.b)
		fps = hex.AppendEncode(fps, sum[:])
		if !batch {
			break
		}
	}
	js := make([]byte, len(w.b))
	copy(js, w.b)
	fpStr := string(fps)
	st.fpBuf = fps
	for i := range out {
		out[i].JSON = js[offsets[i]:offsets[i+1]:offsets[i+1]]
		out[i].Fingerprint = fpStr[i*sha256.Size*2 : (i+1)*sha256.Size*2]
	}
	return out, nil
}

func appendLower(b, s []byte) []byte {
	for _, ch := range s {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	return b
}

// writeStored appends the stored form of the statement at node s.
func (st *state) writeStored(s uint32, info *stmtInfo, id string, stored []byte, authority json.RawMessage, v Version) {
	w := &st.w
	w.b = append(w.b, `{"id":"`...)
	w.b = append(w.b, id...)
	w.b = append(w.b, '"')
	w.statementMembers(s, false, true)
	w.b = append(w.b, `,"timestamp":`...)
	if ts := info.f[fTimestamp]; ts != 0 {
		w.timestampValue(ts)
	} else {
		w.b = append(w.b, '"')
		w.b = append(w.b, stored...)
		w.b = append(w.b, '"')
	}
	w.b = append(w.b, `,"stored":"`...)
	w.b = append(w.b, stored...)
	w.b = append(w.b, '"')
	switch {
	case len(authority) > 0:
		w.b = append(w.b, `,"authority":`...)
		w.b = append(w.b, authority...)
	case info.f[fAuthority] != 0:
		w.b = append(w.b, `,"authority":`...)
		w.value(info.f[fAuthority])
	}
	w.b = append(w.b, `,"version":`...)
	if ver := info.f[fVersion]; ver != 0 {
		w.value(ver)
	} else {
		w.b = append(w.b, '"')
		w.b = append(w.b, DefaultVersion(v)...)
		w.b = append(w.b, '"')
	}
	w.b = append(w.b, '}')
}
