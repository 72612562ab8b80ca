package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Listing order and paging.
//
// Statements are listed by (stored, id), descending unless ascending. A page
// ends with the position of its last statement and the next page continues
// strictly after it (keyset paging, never OFFSET), so a statement is neither
// skipped nor repeated as long as statements that arrive during a listing
// sort after its start. That holds because ingest assigns `stored` before
// publishing, and the API waits, before running a GET, until the store has
// applied everything the topic held when the GET began: whatever the store
// writes later carries a later `stored` than the GET's start. A descending
// listing therefore sees new arrivals only above its first page (never), and
// an ascending one after its current position (in a later page).

// listing is a normalized query; it is also what a cursor carries.
type listing struct {
	Tenant string      `json:"t"`
	Keys   []keyFilter `json:"k,omitempty"`
	Since  int64       `json:"s,omitempty"` // unix microseconds, 0 = unset
	Until  int64       `json:"u,omitempty"`
	Limit  int         `json:"l"`
	Asc    bool        `json:"a,omitempty"`
	// After is the position of the last statement of the previous page.
	After *position `json:"p,omitempty"`
}

type keyFilter struct {
	Key    string `json:"k"`
	Direct bool   `json:"d,omitempty"`
}

type position struct {
	Stored int64  `json:"s"`
	ID     string `json:"i"`
}

// keyDigest identifies one tenant's key in statement_keys: 128 bits of
// SHA-256, so that the largest index holds fixed-width values.
func keyDigest(tenant, key string) [16]byte {
	h := sha256.New()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [32]byte
	var d [16]byte
	copy(d[:], h.Sum(sum[:0]))
	return d
}

// toMicros is the store's time resolution (PostgreSQL timestamptz).
func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// normalize turns a Query into a listing, decoding the cursor if there is
// one (signed with key).
func normalize(q Query, key []byte) (listing, error) {
	if q.Tenant == "" {
		return listing{}, fmt.Errorf("%w: no tenant", ErrInvalidQuery)
	}
	if q.Cursor != "" {
		l, err := decodeCursor(q.Cursor, key)
		if err != nil {
			return listing{}, err
		}
		if l.Tenant != q.Tenant {
			return listing{}, fmt.Errorf("%w: cursor belongs to another tenant", ErrInvalidQuery)
		}
		// The signature proves the store made the cursor, not for whom: one
		// made for a wider listing of the tenant must not widen a
		// statements/read/mine listing.
		if q.Authority != "" {
			k, err := authorityKey([]byte(q.Authority))
			if err != nil {
				return listing{}, err
			}
			if !slices.Contains(l.Keys, keyFilter{Key: k, Direct: true}) {
				return listing{}, fmt.Errorf("%w: cursor is not limited to the caller's authority", ErrInvalidQuery)
			}
		}
		return l, nil
	}
	l := listing{Tenant: q.Tenant, Asc: q.Ascending, Limit: q.Limit}
	if l.Limit <= 0 || l.Limit > MaxLimit {
		l.Limit = MaxLimit
	}
	if !q.Since.IsZero() {
		l.Since = toMicros(q.Since)
	}
	if !q.Until.IsZero() {
		l.Until = toMicros(q.Until)
	}
	// The most selective filter first: the first key drives the scan.
	if q.Registration != "" {
		l.Keys = append(l.Keys, keyFilter{Key: prefixRegistration + strings.ToLower(q.Registration), Direct: true})
	}
	if q.Agent != "" {
		k, err := agentKey(q.Agent)
		if err != nil {
			return listing{}, err
		}
		l.Keys = append(l.Keys, keyFilter{Key: k, Direct: !q.RelatedAgents})
	}
	if q.Activity != "" {
		l.Keys = append(l.Keys, keyFilter{Key: prefixActivity + q.Activity, Direct: !q.RelatedActivities})
	}
	if q.Verb != "" {
		l.Keys = append(l.Keys, keyFilter{Key: prefixVerb + q.Verb, Direct: true})
	}
	// Last: one credential often sends most of a tenant's statements, so
	// its authority rarely narrows the scan as well as the filters above.
	if q.Authority != "" {
		k, err := authorityKey([]byte(q.Authority))
		if err != nil {
			return listing{}, err
		}
		l.Keys = append(l.Keys, keyFilter{Key: k, Direct: true})
	}
	return l, nil
}

// Cursors are signed (HMAC-SHA-256 with a key the store keeps, see
// cursorKey) so that a client can only continue listings the store began:
// a crafted cursor with thousands of filter keys would otherwise cost
// seconds of SQL. Unsigned or oversized cursors are refused before any
// decoding.
const (
	maxCursorLen  = 2048 // a real cursor is a few hundred bytes
	cursorMACSize = 16
	maxCursorKeys = 5 // registration, agent, activity, verb, authority
)

func cursorMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:cursorMACSize]
}

func encodeCursor(l listing, key []byte) string {
	b, err := json.Marshal(l)
	if err != nil {
		// A listing holds only strings, ints and bools.
		panic(fmt.Sprintf("encode cursor: %v", err))
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(cursorMAC(key, payload))
}

func decodeCursor(c string, key []byte) (listing, error) {
	if len(c) > maxCursorLen {
		return listing{}, fmt.Errorf("%w: malformed cursor: longer than %d bytes", ErrInvalidQuery, maxCursorLen)
	}
	payload, sig, ok := strings.Cut(c, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, cursorMAC(key, payload)) {
		return listing{}, fmt.Errorf("%w: malformed cursor: not a cursor this LRS made (use the more link of a listing as it is)", ErrInvalidQuery)
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return listing{}, fmt.Errorf("%w: malformed cursor: %v", ErrInvalidQuery, err)
	}
	var l listing
	if err := json.Unmarshal(b, &l); err != nil {
		return listing{}, fmt.Errorf("%w: malformed cursor: %v", ErrInvalidQuery, err)
	}
	if l.Tenant == "" || l.After == nil || l.Limit <= 0 || l.Limit > MaxLimit || len(l.Keys) > maxCursorKeys {
		return listing{}, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	return l, nil
}

// cursorKey is the store's cursor signing key, read (or created) once
// through load: every instance on one store shares it.
type cursorKey struct {
	mu   sync.Mutex
	key  []byte
	load func(ctx context.Context, fresh []byte) ([]byte, error)
}

const cursorKeyName = "cursor"

// get returns the key; load is given a random key to store if there is
// none yet and returns the one stored.
func (k *cursorKey) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	key, err := k.load(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("cursor key: stored key has %d bytes", len(key))
	}
	k.key = key
	return key, nil
}

// listSQL builds the listing query. It selects id, stored, fingerprint and
// body, limit+1 rows so that the caller knows whether there is a next page.
func listSQL(d dialect, l listing) (string, []any) {
	var args []any
	arg := func(v any, kind string) string {
		args = append(args, v)
		return d.param(len(args), kind)
	}
	var b strings.Builder
	cmp, order := "<", "DESC"
	if l.Asc {
		cmp, order = ">", "ASC"
	}
	// src is the alias whose (stored, id) the scan walks in order.
	src := "s"
	if len(l.Keys) == 0 {
		fmt.Fprintf(&b, "SELECT %s, s.stored, s.fingerprint, s.body FROM statements s WHERE s.tenant = %s AND s.stored IS NOT NULL",
			d.idCol("s.id"), arg(l.Tenant, ""))
	} else {
		// The tenant condition sits on the joined statement: the digest
		// already selects one tenant's key, and the index alone serves the scan.
		src = "k"
		fmt.Fprintf(&b, "SELECT %s, s.stored, s.fingerprint, s.body FROM statement_keys k JOIN statements s ON s.tenant = %s AND s.id = k.id WHERE k.digest = %s",
			d.idCol("s.id"), arg(l.Tenant, ""), arg(d.digestArg(keyDigest(l.Tenant, l.Keys[0].Key)), ""))
		if l.Keys[0].Direct {
			b.WriteString(" AND " + d.isTrue("k.direct"))
		}
	}
	if l.Since != 0 {
		fmt.Fprintf(&b, " AND %s.stored > %s", src, arg(d.timeArg(l.Since), "time"))
	}
	if l.Until != 0 {
		fmt.Fprintf(&b, " AND %s.stored <= %s", src, arg(d.timeArg(l.Until), "time"))
	}
	if l.After != nil {
		fmt.Fprintf(&b, " AND (%s.stored, %s.id) %s (%s, %s)", src, src, cmp,
			arg(d.timeArg(l.After.Stored), "time"), arg(l.After.ID, "id"))
	}
	b.WriteString(" AND NOT s.voided")
	if len(l.Keys) > 1 {
		for i, kf := range l.Keys[1:] {
			a := "k" + strconv.Itoa(i+1)
			fmt.Fprintf(&b, " AND EXISTS (SELECT 1 FROM statement_keys %[1]s WHERE %[1]s.digest = %[2]s AND %[1]s.stored = k.stored AND %[1]s.id = k.id",
				a, arg(d.digestArg(keyDigest(l.Tenant, kf.Key)), ""))
			if kf.Direct {
				b.WriteString(" AND " + d.isTrue(a+".direct"))
			}
			b.WriteString(")")
		}
	}
	fmt.Fprintf(&b, " ORDER BY %[1]s.stored %[2]s, %[1]s.id %[2]s LIMIT %[3]d", src, order, l.Limit+1)
	return b.String(), args
}

// page cuts the limit+1 rows of a listing into a page and its cursor. In a
// listing limited to one authority (statements/read/mine) a row is kept
// only if the statement itself carries that authority: the index is not
// trusted alone, as stores written before authority keys stopped being
// inherited through StatementRefs hold such keys on referring statements.
// Such a page may hold fewer than the limit; its cursor still follows the
// rows read.
func page(l listing, rows []Statement, key []byte) Page {
	var more string
	if len(rows) > l.Limit {
		rows = rows[:l.Limit]
		last := rows[len(rows)-1]
		next := l
		next.After = &position{Stored: toMicros(last.Stored), ID: last.ID}
		more = encodeCursor(next, key)
	}
	for _, k := range l.Keys {
		if strings.HasPrefix(k.Key, prefixAuthority) {
			rows = slices.DeleteFunc(rows, func(st Statement) bool { return !hasAuthorityKey(st.JSON, k.Key) })
		}
	}
	return Page{Statements: rows, More: more}
}
