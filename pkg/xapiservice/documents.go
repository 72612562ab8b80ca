package xapiservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// The document resources: State (/activities/state), Activity Profile
// (/activities/profile) and Agent Profile (/agents/profile). They are
// synchronous: ingest reads and writes them in the store directly, so a
// read right after a write sees it. Every write is one atomic
// read-decide-write in the store (UpdateDocument), so If-Match and
// If-None-Match hold against concurrent writers.

// DocumentStore is what the document resources and /activities need from
// the store.
type DocumentStore interface {
	GetDocument(ctx context.Context, key store.DocumentKey) (store.Document, error)
	ListDocumentIDs(ctx context.Context, scope store.DocumentScope, since time.Time) ([]string, error)
	UpdateDocument(ctx context.Context, key store.DocumentKey, fn store.DocumentUpdate) error
	DeleteDocuments(ctx context.Context, scope store.DocumentScope) (int, error)
	GetActivity(ctx context.Context, tenant, id string) (store.Activity, error)
}

// Resource is one document resource: its parameters and scope.
type Resource struct {
	kind     store.DocumentKind
	idParam  string // stateId or profileId
	activity bool   // takes activityId
	agent    bool   // takes agent
	register bool   // takes registration
	scope    string // the scope that lets a credential write it
}

// The three document resources.
var (
	State           = Resource{kind: store.KindState, idParam: "stateId", activity: true, agent: true, register: true, scope: auth.ScopeState}
	ActivityProfile = Resource{kind: store.KindActivityProfile, idParam: "profileId", activity: true, scope: auth.ScopeProfile}
	AgentProfile    = Resource{kind: store.KindAgentProfile, idParam: "profileId", agent: true, scope: auth.ScopeProfile}
)

// Documents serves the document resources.
type Documents struct {
	store DocumentStore
	// bodyLimit bounds a merged document (413 past it), as the request
	// body is bounded.
	bodyLimit int
}

// NewDocuments serves the documents of st; bodyLimit bounds what a POST
// merge may grow a document to.
func NewDocuments(st DocumentStore, bodyLimit int) *Documents {
	return &Documents{store: st, bodyLimit: bodyLimit}
}

// DocumentRequest is one request to a document resource.
type DocumentRequest struct {
	Principal auth.Principal
	Version   xapi.Version
	Params    Params
	// IfMatch and IfNoneMatch are the precondition headers, as sent.
	IfMatch, IfNoneMatch string
	// ContentType and Body are a write's; ContentType as sent, "" for none.
	ContentType string
	Body        []byte
}

// documentKey is a parsed document request: ID "" when it names no
// document.
type documentKey struct {
	store.DocumentKey
	since time.Time
}

// key parses and checks the query parameters of a request; names are
// case-sensitive and an unknown or repeated one is a 400. Only a read
// takes since.
func (res Resource) key(r DocumentRequest, read bool) (documentKey, error) {
	allowed := []string{res.idParam}
	if res.activity {
		allowed = append(allowed, "activityId")
	}
	if res.agent {
		allowed = append(allowed, "agent")
	}
	if res.register {
		allowed = append(allowed, "registration")
	}
	if read {
		allowed = append(allowed, "since")
	}
	ps := r.Params
	if err := ps.Only(allowed...); err != nil {
		return documentKey{}, err
	}
	if err := ps.Once(); err != nil {
		return documentKey{}, err
	}
	for _, name := range allowed {
		if strings.ContainsRune(ps.Get(name), 0) {
			return documentKey{}, BadRequest(name + " holds a NUL character")
		}
	}
	k := documentKey{DocumentKey: store.DocumentKey{ID: ps.Get(res.idParam), DocumentScope: store.DocumentScope{
		Tenant: r.Principal.Tenant, Kind: res.kind}}}
	if res.activity {
		id, err := activityParam(ps)
		if err != nil {
			return documentKey{}, err
		}
		k.ActivityID = id
	}
	if res.agent {
		a, err := agentParam(ps)
		if err != nil {
			return documentKey{}, err
		}
		k.Agent = a.ifi
	}
	if res.register {
		if reg := ps.Get("registration"); reg != "" {
			u, err := uuid.Parse(reg)
			if err != nil || len(reg) != 36 {
				return documentKey{}, BadRequest(fmt.Sprintf("registration %q is not a UUID", reg))
			}
			k.Registration = u.String()
		}
	}
	var err error
	if k.since, err = ps.Time("since"); err != nil {
		return documentKey{}, err
	}
	return k, nil
}

// activityParam is the required activityId parameter, an IRI.
func activityParam(ps Params) (string, error) {
	id := ps.Get("activityId")
	if id == "" {
		return "", BadRequest("the activityId parameter is required")
	}
	if !docValidIRI(id) {
		return "", BadRequest(fmt.Sprintf("activityId %q is not an IRI", id))
	}
	return id, nil
}

// agentParam is the required agent parameter.
func agentParam(ps Params) (agentIdentity, error) {
	raw := ps.Get("agent")
	if raw == "" {
		return agentIdentity{}, BadRequest("the agent parameter is required")
	}
	a, err := agentParse([]byte(raw))
	if err != nil {
		return agentIdentity{}, BadRequest("agent parameter: " + err.Error())
	}
	return a, nil
}

// requireID rejects a request that must name one document but does not.
func (res Resource) requireID(k documentKey) error {
	if k.ID == "" {
		return BadRequest("the " + res.idParam + " parameter is required")
	}
	return nil
}

// DocumentAnswer is a GET's answer: one document, or the ids of the
// documents when the request named none.
type DocumentAnswer struct {
	Document *store.Document
	IDs      []string
}

// Get reads one document, or lists the ids of the documents in scope
// (updated since `since`, if given).
func (d *Documents) Get(ctx context.Context, res Resource, r DocumentRequest) (DocumentAnswer, error) {
	if err := RequireScope(r.Principal, res.scope, auth.ScopeAllRead); err != nil {
		return DocumentAnswer{}, err
	}
	k, err := res.key(r, true)
	if err != nil {
		return DocumentAnswer{}, err
	}
	if k.ID == "" {
		ids, err := d.store.ListDocumentIDs(ctx, k.DocumentScope, k.since)
		if err != nil {
			return DocumentAnswer{}, err
		}
		return DocumentAnswer{IDs: ids}, nil
	}
	doc, err := d.store.GetDocument(ctx, k.DocumentKey)
	if errors.Is(err, store.ErrNotFound) {
		return DocumentAnswer{}, NewError(http.StatusNotFound, fmt.Sprintf("no %v document %q", res.kind, k.ID))
	}
	if err != nil {
		return DocumentAnswer{}, err
	}
	return DocumentAnswer{Document: &doc}, nil
}

// Put stores the body as the document, under its preconditions, and
// returns the new ETag.
func (d *Documents) Put(ctx context.Context, res Resource, r DocumentRequest) (string, error) {
	if err := RequireScope(r.Principal, res.scope); err != nil {
		return "", err
	}
	k, err := res.key(r, false)
	if err != nil {
		return "", err
	}
	if err := res.requireID(k); err != nil {
		return "", err
	}
	next := &store.Document{ContentType: docContentType(r.ContentType), Content: r.Body}
	// A PUT without If-Match or If-None-Match over an existing document is
	// a 409, except for xAPI 1.0.3's State resource; 1.0.3's profiles want a
	// precondition even for a new document.
	rule := docConflictIfExists
	switch {
	case r.Version == xapi.V2_0_0:
	case res.kind == store.KindState:
		rule = docNoRule
	default:
		rule = docAlwaysRequired
	}
	return d.write(ctx, k, func(cur *store.Document) (*store.Document, error) {
		if err := res.preconditions(r, k, cur, rule); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// Post merges a JSON object into the stored one, one level deep; a
// document that does not exist yet is stored as sent. It returns the new
// ETag.
func (d *Documents) Post(ctx context.Context, res Resource, r DocumentRequest) (string, error) {
	if err := RequireScope(r.Principal, res.scope); err != nil {
		return "", err
	}
	k, err := res.key(r, false)
	if err != nil {
		return "", err
	}
	if err := res.requireID(k); err != nil {
		return "", err
	}
	ct := docContentType(r.ContentType)
	body := r.Body
	isJSON := docIsJSON(ct)
	if isJSON && !docIsObject(body) {
		return "", BadRequest("POST merges JSON objects: the body is application/json but not a JSON object")
	}
	return d.write(ctx, k, func(cur *store.Document) (*store.Document, error) {
		if err := res.preconditions(r, k, cur, docNoRule); err != nil {
			return nil, err
		}
		if cur == nil {
			return &store.Document{ContentType: ct, Content: body}, nil
		}
		if !isJSON {
			return nil, BadRequest(fmt.Sprintf("POST merges JSON objects: the body's Content-Type is %q, not application/json", ct))
		}
		if !docIsJSON(cur.ContentType) || !docIsObject(cur.Content) {
			return nil, BadRequest("POST merges JSON objects: the stored document is not a JSON object (" + cur.ContentType + "); PUT replaces it")
		}
		merged, err := docMerge(cur.Content, body)
		if err != nil {
			return nil, err
		}
		if len(merged) > d.bodyLimit {
			return nil, NewError(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("the merged document would be %d bytes; the limit is %d", len(merged), d.bodyLimit))
		}
		return &store.Document{ContentType: mimeJSON, Content: merged}, nil
	})
}

// Delete removes one document, or (State only) every document of the
// activity and agent, of one registration if given.
func (d *Documents) Delete(ctx context.Context, res Resource, r DocumentRequest) error {
	if err := RequireScope(r.Principal, res.scope); err != nil {
		return err
	}
	k, err := res.key(r, false)
	if err != nil {
		return err
	}
	if k.ID == "" && res.kind == store.KindState {
		_, err := d.store.DeleteDocuments(ctx, k.DocumentScope)
		return err
	}
	if err := res.requireID(k); err != nil {
		return err
	}
	_, err = d.write(ctx, k, func(cur *store.Document) (*store.Document, error) {
		return nil, res.preconditions(r, k, cur, docNoRule)
	})
	return err
}

// write runs fn atomically in the store and returns the ETag of the
// document that remains ("" when none does).
func (d *Documents) write(ctx context.Context, k documentKey, fn store.DocumentUpdate) (string, error) {
	var written *store.Document
	err := d.store.UpdateDocument(ctx, k.DocumentKey, func(cur *store.Document) (*store.Document, error) {
		next, err := fn(cur)
		written = next
		return next, err
	})
	if err != nil {
		return "", err
	}
	if written == nil {
		return "", nil
	}
	return written.ETag, nil
}

// docRule says what a write without If-Match and If-None-Match gets.
type docRule int

const (
	docNoRule           docRule = iota // written
	docConflictIfExists                // 409 if the document exists
	docAlwaysRequired                  // 409 if it exists, 400 if not
)

// preconditions applies If-Match and If-None-Match (RFC 7232) to the
// current document, then rule when neither header was sent.
func (res Resource) preconditions(r DocumentRequest, k documentKey, cur *store.Document, rule docRule) error {
	ifMatch, ifNoneMatch := r.IfMatch, r.IfNoneMatch
	if ifMatch != "" {
		switch {
		case cur == nil:
			return NewError(http.StatusPreconditionFailed, fmt.Sprintf("If-Match: there is no %v document %q", res.kind, k.ID))
		case !docETagMatches(ifMatch, cur.ETag):
			return NewError(http.StatusPreconditionFailed, fmt.Sprintf("If-Match: the document's ETag is \"%s\"; it changed since it was read", cur.ETag))
		}
	}
	if ifNoneMatch != "" && cur != nil && docETagMatches(ifNoneMatch, cur.ETag) {
		return NewError(http.StatusPreconditionFailed, fmt.Sprintf("If-None-Match: the %v document %q exists", res.kind, k.ID))
	}
	if ifMatch != "" || ifNoneMatch != "" || rule == docNoRule {
		return nil
	}
	if cur != nil {
		return NewError(http.StatusConflict, fmt.Sprintf(
			"the %v document %q exists: send If-Match with its ETag to replace it, or If-None-Match: * to write only a new one",
			res.kind, k.ID))
	}
	if rule == docAlwaysRequired {
		return BadRequest(fmt.Sprintf("a PUT of the %v document %q needs If-Match or If-None-Match (xAPI 1.0.3 concurrency)",
			res.kind, k.ID))
	}
	return nil
}

// docETagMatches reports whether a list of entity tags (or "*") holds
// etag. Weak tags compare by their value, quotes are optional.
func docETagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.Trim(strings.TrimPrefix(t, "W/"), `"`)
		if strings.EqualFold(t, etag) {
			return true
		}
	}
	return false
}

// docContentType is the request's Content-Type as sent, or
// application/octet-stream when there is none.
func docContentType(sent string) string {
	if ct := strings.TrimSpace(sent); ct != "" {
		return ct
	}
	return mimeOctetStream
}

func docIsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == mimeJSON
}

// docIsObject reports whether b is exactly one JSON object.
func docIsObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// docMerge overwrites cur's top-level members with next's (xAPI Document
// Merge, one level deep); both are JSON objects.
func docMerge(cur, next []byte) ([]byte, error) {
	var m, n map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil {
		return nil, fmt.Errorf("stored document: %w", err)
	}
	if err := json.Unmarshal(next, &n); err != nil {
		return nil, BadRequest("POST body: " + err.Error())
	}
	for k, v := range n {
		m[k] = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode merged document: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// docValidIRI accepts an absolute IRI: a scheme, ':', and a remainder
// without spaces, controls or the characters IRIs exclude.
func docValidIRI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		alpha := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !strings.ContainsAny(s[colon+1:], " <>\"{}|\\^`\t\r\n\x00\x7f")
}
