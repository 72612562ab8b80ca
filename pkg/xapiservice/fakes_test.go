package xapiservice

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// In-memory parts for the services' tests: a log that is both the
// publisher and the conflict checker (it answers "was this id acknowledged
// before?" from what was published, as pkg/conflict does from the topic),
// a statement store, an attachment store and a document store.

type fakeLog struct {
	mu      sync.Mutex
	batches []stream.Batch
	acked   map[string]string // tenant/id -> fingerprint
	err     error             // Publish fails with it
	events  *[]string         // "publish" appended, to check the order against attachments
}

func (l *fakeLog) Publish(_ context.Context, b stream.Batch) (int32, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events != nil {
		*l.events = append(*l.events, "publish")
	}
	if l.err != nil {
		return 0, 0, l.err
	}
	if l.acked == nil {
		l.acked = map[string]string{}
	}
	for _, st := range b.Statements {
		l.acked[b.Tenant+"/"+st.ID] = st.Fingerprint
	}
	l.batches = append(l.batches, b)
	return 0, int64(len(l.batches) - 1), nil
}

func (l *fakeLog) Check(_ context.Context, tenant string, stmts []conflict.Statement) (*conflict.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := &conflict.Decision{New: make([]bool, len(stmts))}
	for i, st := range stmts {
		fp, ok := l.acked[tenant+"/"+st.ID]
		if ok && fp != st.Fingerprint {
			return nil, &conflict.ConflictError{ID: st.ID}
		}
		d.New[i] = !ok
	}
	return d, nil
}

// published is every statement published, in order.
func (l *fakeLog) published() []stream.Statement {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []stream.Statement
	for _, b := range l.batches {
		out = append(out, b.Statements...)
	}
	return out
}

type failingConflicts struct{ err error }

func (f failingConflicts) Check(context.Context, string, []conflict.Statement) (*conflict.Decision, error) {
	return nil, f.err
}

type backlogOf int64

func (b backlogOf) Backlog() int64 { return int64(b) }

type fakeStatements struct {
	stmts   map[string]store.Statement // tenant/id
	voided  map[string]bool
	tenants map[string]store.Tenant
	page    store.Page
	err     error // every call fails with it
	queries []store.Query
}

func (s *fakeStatements) put(st store.Statement) {
	if s.stmts == nil {
		s.stmts = map[string]store.Statement{}
	}
	s.stmts[st.Tenant+"/"+st.ID] = st
}

func (s *fakeStatements) GetStatement(_ context.Context, tenant, id string, voided bool) (store.Statement, error) {
	if s.err != nil {
		return store.Statement{}, s.err
	}
	st, ok := s.stmts[tenant+"/"+id]
	if !ok || s.voided[tenant+"/"+id] != voided {
		return store.Statement{}, store.ErrNotFound
	}
	return st, nil
}

func (s *fakeStatements) QueryStatements(_ context.Context, q store.Query) (store.Page, error) {
	s.queries = append(s.queries, q)
	if s.err != nil {
		return store.Page{}, s.err
	}
	return s.page, nil
}

func (s *fakeStatements) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	if s.err != nil {
		return store.Tenant{}, s.err
	}
	t, ok := s.tenants[id]
	if !ok {
		return store.Tenant{}, store.ErrNotFound
	}
	return t, nil
}

type fakeAttachments struct {
	bodies map[string]store.Attachment // tenant/sha2
	grants map[store.AttachmentGrant]bool
	err    error
	events *[]string
}

func (a *fakeAttachments) PutAttachments(_ context.Context, tenant string, atts []store.Attachment) error {
	if a.events != nil {
		*a.events = append(*a.events, "attachments")
	}
	if a.err != nil {
		return a.err
	}
	if a.bodies == nil {
		a.bodies, a.grants = map[string]store.Attachment{}, map[store.AttachmentGrant]bool{}
	}
	for _, at := range atts {
		a.bodies[tenant+"/"+at.SHA2] = at
		for _, id := range at.SentWith {
			a.grants[store.AttachmentGrant{StatementID: id, SHA2: at.SHA2}] = true
		}
	}
	return nil
}

func (a *fakeAttachments) GetAttachments(_ context.Context, tenant string, sha2s []string) ([]store.Attachment, error) {
	if a.err != nil {
		return nil, a.err
	}
	var out []store.Attachment
	for _, h := range sha2s {
		if at, ok := a.bodies[tenant+"/"+h]; ok {
			out = append(out, at)
		}
	}
	return out, nil
}

func (a *fakeAttachments) Granted(_ context.Context, _ string, gs []store.AttachmentGrant) (map[store.AttachmentGrant]bool, error) {
	if a.err != nil {
		return nil, a.err
	}
	ok := map[store.AttachmentGrant]bool{}
	for _, g := range gs {
		if a.grants[g] {
			ok[g] = true
		}
	}
	return ok, nil
}

// fakeDocuments keeps documents like the stores do: the ETag is the SHA-1
// of the content, set on every write, and an update is atomic.
type fakeDocuments struct {
	mu         sync.Mutex
	docs       map[store.DocumentKey]store.Document
	activities map[string]store.Activity
	err        error
	now        time.Time
}

func (d *fakeDocuments) GetDocument(_ context.Context, k store.DocumentKey) (store.Document, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return store.Document{}, d.err
	}
	doc, ok := d.docs[k]
	if !ok {
		return store.Document{}, store.ErrNotFound
	}
	return doc, nil
}

func (d *fakeDocuments) ListDocumentIDs(_ context.Context, scope store.DocumentScope, since time.Time) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	ids := []string{}
	for k, doc := range d.docs {
		if k.DocumentScope == scope && doc.Updated.After(since) {
			ids = append(ids, k.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (d *fakeDocuments) UpdateDocument(_ context.Context, k store.DocumentKey, fn store.DocumentUpdate) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	var cur *store.Document
	if doc, ok := d.docs[k]; ok {
		cur = &doc
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	if next == nil {
		delete(d.docs, k)
		return nil
	}
	sum := sha1.Sum(next.Content)
	next.ETag = hex.EncodeToString(sum[:])
	d.now = d.now.Add(time.Second)
	next.Updated = d.now
	if d.docs == nil {
		d.docs = map[store.DocumentKey]store.Document{}
	}
	d.docs[k] = *next
	return nil
}

func (d *fakeDocuments) DeleteDocuments(_ context.Context, scope store.DocumentScope) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for k := range d.docs {
		if k.DocumentScope == scope {
			delete(d.docs, k)
			n++
		}
	}
	return n, nil
}

func (d *fakeDocuments) GetActivity(_ context.Context, tenant, id string) (store.Activity, error) {
	if d.err != nil {
		return store.Activity{}, d.err
	}
	a, ok := d.activities[tenant+"/"+id]
	if !ok {
		return store.Activity{}, store.ErrNotFound
	}
	return a, nil
}

var errBroken = errors.New("broken")

// principal is a credential of tenant t1 with scopes.
func principal(key string, scopes ...string) auth.Principal {
	return auth.Principal{Tenant: "t1", Key: key, Scopes: scopes,
		Authority: []byte(`{"objectType":"Agent","account":{"homePage":"https://lrs.example.com","name":"` + key + `"}}`)}
}

func counted(c *prometheus.CounterVec, result string) int {
	return int(testutil.ToFloat64(c.WithLabelValues(result)))
}
