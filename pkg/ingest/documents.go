package ingest

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

	"github.com/gofiber/fiber/v2"
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

// DocumentStore is what the document resources, /activities and /agents
// need from the store.
type DocumentStore interface {
	GetDocument(ctx context.Context, key store.DocumentKey) (store.Document, error)
	ListDocumentIDs(ctx context.Context, scope store.DocumentScope, since time.Time) ([]string, error)
	UpdateDocument(ctx context.Context, key store.DocumentKey, fn store.DocumentUpdate) error
	DeleteDocuments(ctx context.Context, scope store.DocumentScope) (int, error)
	GetActivity(ctx context.Context, tenant, id string) (store.Activity, error)
}

// docResource describes one document resource: its parameters and scope.
type docResource struct {
	kind     store.DocumentKind
	idParam  string // stateId or profileId
	activity bool   // takes activityId
	agent    bool   // takes agent
	register bool   // takes registration
	scope    string // the scope that lets a credential write it
}

var (
	docState           = docResource{kind: store.KindState, idParam: "stateId", activity: true, agent: true, register: true, scope: auth.ScopeState}
	docActivityProfile = docResource{kind: store.KindActivityProfile, idParam: "profileId", activity: true, scope: auth.ScopeProfile}
	docAgentProfile    = docResource{kind: store.KindAgentProfile, idParam: "profileId", agent: true, scope: auth.ScopeProfile}
)

// docHandler serves one document resource.
type docHandler struct {
	s   *Server
	st  DocumentStore
	res docResource
}

// documentRoutes registers the document resources, /activities and
// /agents.
func (s *Server) documentRoutes(r fiber.Router) {
	st, ok := s.deps.Store.(DocumentStore)
	if !ok {
		s.log.Warn("the store keeps no documents: the State, Profile, Activities and Agents resources answer 404")
		return
	}
	for path, res := range map[string]docResource{
		"/activities/state":   docState,
		"/activities/profile": docActivityProfile,
		"/agents/profile":     docAgentProfile,
	} {
		h := docHandler{s: s, st: st, res: res}
		r.Get(path, h.get) // Fiber also routes HEAD here
		r.Put(path, h.put)
		r.Post(path, h.post)
		r.Delete(path, h.delete)
	}
	r.Get("/activities", func(c *fiber.Ctx) error { return s.actGet(c, st) })
	r.Get("/agents", s.agentGet)
}

// docRequest is a parsed document request.
type docRequest struct {
	key   store.DocumentKey // ID "" when the request names no document
	since time.Time
}

// params parses and checks the query parameters of a request; names are
// case-sensitive and an unknown or repeated one is a 400.
func (h docHandler) params(c *fiber.Ctx) (docRequest, error) {
	allowed := []string{h.res.idParam}
	if h.res.activity {
		allowed = append(allowed, "activityId")
	}
	if h.res.agent {
		allowed = append(allowed, "agent")
	}
	if h.res.register {
		allowed = append(allowed, "registration")
	}
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		allowed = append(allowed, "since")
	}
	if err := onlyParams(c, allowed...); err != nil {
		return docRequest{}, err
	}
	if err := docOnce(c); err != nil {
		return docRequest{}, err
	}
	for _, name := range allowed {
		if strings.ContainsRune(c.Query(name), 0) {
			return docRequest{}, badRequest(name + " holds a NUL character")
		}
	}
	r := docRequest{key: store.DocumentKey{ID: c.Query(h.res.idParam), DocumentScope: store.DocumentScope{
		Tenant: principal(c).Tenant, Kind: h.res.kind}}}
	if h.res.activity {
		id := c.Query("activityId")
		if id == "" {
			return docRequest{}, badRequest("the activityId parameter is required")
		}
		if !docValidIRI(id) {
			return docRequest{}, badRequest(fmt.Sprintf("activityId %q is not an IRI", id))
		}
		r.key.ActivityID = id
	}
	if h.res.agent {
		raw := c.Query("agent")
		if raw == "" {
			return docRequest{}, badRequest("the agent parameter is required")
		}
		a, err := agentParse([]byte(raw))
		if err != nil {
			return docRequest{}, badRequest("agent parameter: " + err.Error())
		}
		r.key.Agent = a.ifi
	}
	if h.res.register {
		if reg := c.Query("registration"); reg != "" {
			u, err := uuid.Parse(reg)
			if err != nil || len(reg) != 36 {
				return docRequest{}, badRequest(fmt.Sprintf("registration %q is not a UUID", reg))
			}
			r.key.Registration = u.String()
		}
	}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return docRequest{}, badRequest(fmt.Sprintf("since %q: want an RFC 3339 timestamp", v))
		}
		r.since = t
	}
	return r, nil
}

// docOnce rejects a parameter given twice: which one would count is
// anybody's guess.
func docOnce(c *fiber.Ctx) error {
	seen := map[string]bool{}
	var repeated []string
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		if seen[string(k)] {
			repeated = append(repeated, string(k))
		}
		seen[string(k)] = true
	})
	if len(repeated) > 0 {
		return badRequest("parameter(s) " + strings.Join(repeated, ", ") + " given more than once")
	}
	return nil
}

// requireID rejects a request that must name one document but does not.
func (h docHandler) requireID(r docRequest) error {
	if r.key.ID == "" {
		return badRequest("the " + h.res.idParam + " parameter is required")
	}
	return nil
}

func (h docHandler) get(c *fiber.Ctx) error {
	if err := requireScope(c, h.res.scope, auth.ScopeAllRead); err != nil {
		return err
	}
	r, err := h.params(c)
	if err != nil {
		return err
	}
	if r.key.ID == "" {
		ids, err := h.st.ListDocumentIDs(c.UserContext(), r.key.DocumentScope, r.since)
		if err != nil {
			return err
		}
		return c.JSON(ids)
	}
	d, err := h.st.GetDocument(c.UserContext(), r.key)
	if errors.Is(err, store.ErrNotFound) {
		return newError(fiber.StatusNotFound, fmt.Sprintf("no %v document %q", h.res.kind, r.key.ID))
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, d.ContentType)
	c.Set(fiber.HeaderETag, `"`+d.ETag+`"`)
	c.Set(fiber.HeaderLastModified, d.Updated.UTC().Format(http.TimeFormat))
	return c.Send(d.Content)
}

func (h docHandler) put(c *fiber.Ctx) error {
	if err := requireScope(c, h.res.scope); err != nil {
		return err
	}
	r, err := h.params(c)
	if err != nil {
		return err
	}
	if err := h.requireID(r); err != nil {
		return err
	}
	next := &store.Document{ContentType: docContentType(c), Content: c.Body()}
	// A PUT without If-Match or If-None-Match over an existing document is
	// a 409, except for xAPI 1.0.3's State resource; 1.0.3's profiles want a
	// precondition even for a new document.
	rule := docConflictIfExists
	switch {
	case version(c) == xapi.V2_0_0:
	case h.res.kind == store.KindState:
		rule = docNoRule
	default:
		rule = docAlwaysRequired
	}
	return h.write(c, r, func(cur *store.Document) (*store.Document, error) {
		if err := h.preconditions(c, cur, rule); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// post merges a JSON object into the stored one, one level deep; a
// document that does not exist yet is stored as sent.
func (h docHandler) post(c *fiber.Ctx) error {
	if err := requireScope(c, h.res.scope); err != nil {
		return err
	}
	r, err := h.params(c)
	if err != nil {
		return err
	}
	if err := h.requireID(r); err != nil {
		return err
	}
	ct := docContentType(c)
	body := c.Body()
	isJSON := docIsJSON(ct)
	if isJSON && !docIsObject(body) {
		return badRequest("POST merges JSON objects: the body is application/json but not a JSON object")
	}
	return h.write(c, r, func(cur *store.Document) (*store.Document, error) {
		if err := h.preconditions(c, cur, docNoRule); err != nil {
			return nil, err
		}
		if cur == nil {
			return &store.Document{ContentType: ct, Content: body}, nil
		}
		if !isJSON {
			return nil, badRequest(fmt.Sprintf("POST merges JSON objects: the body's Content-Type is %q, not application/json", ct))
		}
		if !docIsJSON(cur.ContentType) || !docIsObject(cur.Content) {
			return nil, badRequest("POST merges JSON objects: the stored document is not a JSON object (" + cur.ContentType + "); PUT replaces it")
		}
		merged, err := docMerge(cur.Content, body)
		if err != nil {
			return nil, err
		}
		if len(merged) > h.s.cfg.BodyLimit {
			return nil, newError(fiber.StatusRequestEntityTooLarge,
				fmt.Sprintf("the merged document would be %d bytes; the limit is %d", len(merged), h.s.cfg.BodyLimit))
		}
		return &store.Document{ContentType: fiber.MIMEApplicationJSON, Content: merged}, nil
	})
}

// delete removes one document, or (State only) every document of the
// activity and agent, of one registration if given.
func (h docHandler) delete(c *fiber.Ctx) error {
	if err := requireScope(c, h.res.scope); err != nil {
		return err
	}
	r, err := h.params(c)
	if err != nil {
		return err
	}
	if r.key.ID == "" && h.res.kind == store.KindState {
		if _, err := h.st.DeleteDocuments(c.UserContext(), r.key.DocumentScope); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
	if err := h.requireID(r); err != nil {
		return err
	}
	return h.write(c, r, func(cur *store.Document) (*store.Document, error) {
		return nil, h.preconditions(c, cur, docNoRule)
	})
}

// write runs fn atomically in the store and answers 204, with the new
// ETag when a document remains.
func (h docHandler) write(c *fiber.Ctx, r docRequest, fn store.DocumentUpdate) error {
	var written *store.Document
	err := h.st.UpdateDocument(c.UserContext(), r.key, func(cur *store.Document) (*store.Document, error) {
		next, err := fn(cur)
		written = next
		return next, err
	})
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if err != nil {
		return err
	}
	if written != nil {
		c.Set(fiber.HeaderETag, `"`+written.ETag+`"`)
	}
	return c.SendStatus(fiber.StatusNoContent)
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
func (h docHandler) preconditions(c *fiber.Ctx, cur *store.Document, rule docRule) error {
	ifMatch, ifNoneMatch := c.Get(fiber.HeaderIfMatch), c.Get(fiber.HeaderIfNoneMatch)
	if ifMatch != "" {
		switch {
		case cur == nil:
			return newError(fiber.StatusPreconditionFailed, fmt.Sprintf("If-Match: there is no %v document %q", h.res.kind, c.Query(h.res.idParam)))
		case !docETagMatches(ifMatch, cur.ETag):
			return newError(fiber.StatusPreconditionFailed, fmt.Sprintf("If-Match: the document's ETag is \"%s\"; it changed since it was read", cur.ETag))
		}
	}
	if ifNoneMatch != "" && cur != nil && docETagMatches(ifNoneMatch, cur.ETag) {
		return newError(fiber.StatusPreconditionFailed, fmt.Sprintf("If-None-Match: the %v document %q exists", h.res.kind, c.Query(h.res.idParam)))
	}
	if ifMatch != "" || ifNoneMatch != "" || rule == docNoRule {
		return nil
	}
	if cur != nil {
		return newError(fiber.StatusConflict, fmt.Sprintf(
			"the %v document %q exists: send If-Match with its ETag to replace it, or If-None-Match: * to write only a new one",
			h.res.kind, c.Query(h.res.idParam)))
	}
	if rule == docAlwaysRequired {
		return badRequest(fmt.Sprintf("a PUT of the %v document %q needs If-Match or If-None-Match (xAPI 1.0.3 concurrency)",
			h.res.kind, c.Query(h.res.idParam)))
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
func docContentType(c *fiber.Ctx) string {
	if ct := strings.TrimSpace(c.Get(fiber.HeaderContentType)); ct != "" {
		return ct
	}
	return fiber.MIMEOctetStream
}

func docIsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == fiber.MIMEApplicationJSON
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
		return nil, badRequest("POST body: " + err.Error())
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
