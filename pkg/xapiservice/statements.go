package xapiservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// Publisher puts one request's statements on the topic, returning after the
// broker acknowledged them.
type Publisher interface {
	Publish(ctx context.Context, b stream.Batch) (partition int32, offset int64, err error)
}

// StatementStore is the read side of the statement store: GETs, the
// voiding policy's targets and the tenant's voiding policy.
type StatementStore interface {
	GetStatement(ctx context.Context, tenant, id string, voided bool) (store.Statement, error)
	QueryStatements(ctx context.Context, q store.Query) (store.Page, error)
	GetTenant(ctx context.Context, id string) (store.Tenant, error)
}

// ConflictChecker applies the statement comparison rules to client-chosen
// ids before publishing (conflict.Checker).
type ConflictChecker interface {
	Check(ctx context.Context, tenant string, stmts []conflict.Statement) (*conflict.Decision, error)
}

// Backlog tells how far behind the topic the statement store is
// (conflict.Checker.Backlog).
type Backlog interface {
	Backlog() int64
}

// AttachmentStore keeps attachment bodies; they are stored before the
// statement referencing them is published.
type AttachmentStore interface {
	PutAttachments(ctx context.Context, tenant string, atts []store.Attachment) error
	AttachmentReader
}

// StatementConfig holds the rules of the statement resource.
type StatementConfig struct {
	// Prefix is where the xAPI resources live, for the `more` links.
	Prefix string
	// MaxBatchStatements bounds the statements of one request (413 past it).
	MaxBatchStatements int
	// PublishTimeout bounds the wait for the broker's acknowledgement.
	PublishTimeout time.Duration
	// VoidingPolicy says who may void a statement (see voiding.go).
	VoidingPolicy auth.VoidingPolicy
	// MaxBacklogBytes bounds how far behind the store may fall before
	// writes answer 503 (0: no bound).
	MaxBacklogBytes int64
}

// StatementDeps are the parts the statement resource talks to.
type StatementDeps struct {
	Publisher   Publisher
	Store       StatementStore
	Attachments AttachmentStore
	Conflicts   ConflictChecker
	Backlog     Backlog // needed with StatementConfig.MaxBacklogBytes
	// Counted counts statements by result (label "result": accepted,
	// duplicate, rejected, backlog).
	Counted *prometheus.CounterVec
}

// Statements is the statement resource: it accepts statements and reads
// them back.
type Statements struct {
	cfg         StatementConfig
	publisher   Publisher
	store       StatementStore
	attachments AttachmentStore
	conflicts   ConflictChecker
	backlog     Backlog
	counted     *prometheus.CounterVec
}

// NewStatements builds the statement resource.
func NewStatements(cfg StatementConfig, d StatementDeps) (*Statements, error) {
	if d.Publisher == nil || d.Store == nil || d.Attachments == nil || d.Conflicts == nil || d.Counted == nil {
		return nil, errors.New("statements: publisher, store, attachments, conflicts and counter are required")
	}
	if cfg.MaxBacklogBytes > 0 && d.Backlog == nil {
		return nil, errors.New("statements: a backlog bound needs a backlog gauge")
	}
	return &Statements{cfg: cfg, publisher: d.Publisher, store: d.Store, attachments: d.Attachments,
		conflicts: d.Conflicts, backlog: d.Backlog, counted: d.Counted}, nil
}

// LogFunc logs with the request's context (id, tenant); the level is
// checked before any field is built.
type LogFunc func(lvl zapcore.Level, msg string, fields ...zap.Field)

// StatementWrite is one PUT or POST of statements.
type StatementWrite struct {
	Principal auth.Principal
	Version   xapi.Version
	// StatementID is a PUT's statementId: the body must then be one
	// statement, which gets this id. "" for a POST.
	StatementID string
	// Statements is the statement JSON: one object or an array.
	Statements []byte
	// Parts are the attachments sent with them (ReadStatementBody).
	Parts []Part
	// Source is the X-LRS-Source header: where the statements were
	// imported from ("" for an ordinary write).
	Source string
	Log    LogFunc // nil: no logs
}

func (w StatementWrite) log(lvl zapcore.Level, msg string, fields ...zap.Field) {
	if w.Log != nil {
		w.Log(lvl, msg, fields...)
	}
}

// MayWrite answers 403 unless p may write statements.
func (s *Statements) MayWrite(p auth.Principal) error {
	return RequireScope(p, auth.ScopeStatementsWrite)
}

// Accept validates the statements, drops those acknowledged before with
// the same content (409 when the content differs), stores the attachments
// and publishes the rest as one record. It returns every statement id in
// request order, once the broker acknowledged.
func (s *Statements) Accept(ctx context.Context, w StatementWrite) ([]string, error) {
	if err := s.MayWrite(w.Principal); err != nil {
		return nil, err
	}
	p := w.Principal
	if w.StatementID != "" {
		if b := bytes.TrimLeft(w.Statements, " \t\r\n"); len(b) > 0 && b[0] != '{' {
			return nil, BadRequest("PUT /statements takes one statement object, not an array")
		}
	}
	generated := map[string]bool{}
	stored := time.Now().UTC().Truncate(time.Millisecond)
	assign := xapi.Assign{
		Stored:      stored,
		Authority:   p.Authority,
		StatementID: w.StatementID,
		NewID: func() string {
			id := uuid.NewString()
			generated[id] = true
			return id
		},
		MaxStatements: s.cfg.MaxBatchStatements,
		SentStored:    w.Source != "",
	}
	prepared, err := xapi.PrepareStatements(w.Statements, w.Version, assign)
	if err != nil {
		s.counted.WithLabelValues("rejected").Inc()
		return nil, err
	}
	atts, err := matchAttachments(prepared, w.Parts, w.Version, assign)
	if err != nil {
		s.counted.WithLabelValues("rejected").Inc()
		return nil, err
	}
	if err := s.mayVoid(ctx, p, prepared); err != nil {
		return nil, err
	}
	prov, err := readProvenance(w.Source, p, prepared)
	if err != nil {
		return nil, err
	}
	if len(prepared) > s.cfg.MaxBatchStatements {
		return nil, NewError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("%d statements in one request; the limit is %d", len(prepared), s.cfg.MaxBatchStatements))
	}
	ids := make([]string, len(prepared))
	for i, st := range prepared {
		ids[i] = st.ID
	}
	fresh, decision, err := s.dropKnown(ctx, p.Tenant, prepared, generated)
	if err != nil {
		return nil, err
	}
	defer decision.Done()
	s.counted.WithLabelValues("duplicate").Add(float64(len(prepared) - len(fresh)))
	if len(fresh) == 0 {
		return ids, nil
	}
	if err := s.checkBacklog(w, len(fresh)); err != nil {
		return nil, err
	}
	// Attachments first: once the statement is published it may be read,
	// and it must never be visible without them.
	if err := s.attachments.PutAttachments(ctx, p.Tenant, atts); err != nil {
		return nil, fmt.Errorf("store attachments: %w", err)
	}
	batch := stream.Batch{Tenant: p.Tenant, Statements: make([]stream.Statement, len(fresh))}
	for i, st := range fresh {
		batch.Statements[i] = stream.Statement{ID: st.ID, Stored: stored, Fingerprint: st.Fingerprint, Statement: st.JSON}
		prov.mark(&batch.Statements[i])
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	part, off, err := s.publisher.Publish(pctx, batch)
	if errors.Is(err, stream.ErrTooLarge) {
		return nil, NewError(http.StatusRequestEntityTooLarge, "the statements are larger than the topic accepts in one record")
	}
	if err != nil {
		w.log(zapcore.ErrorLevel, "publish failed", zap.Error(err), zap.Int("statements", len(fresh)))
		msg := "the statement stream is unavailable; nothing was stored, retry later"
		if errors.Is(err, stream.ErrNotAcknowledged) {
			msg = "the statement stream did not acknowledge in time; the statements are not reported as stored: retry later with the same statement ids (a retry never creates a duplicate)"
		}
		return nil, unavailable(msg)
	}
	decision.Published(part, off)
	s.counted.WithLabelValues("accepted").Add(float64(len(fresh)))
	w.log(zapcore.DebugLevel, "published", zap.Int32("partition", part), zap.Int64("offset", off), zap.Int("statements", len(fresh)))
	return ids, nil
}

// checkBacklog refuses writes while the store is more than
// MaxBacklogBytes behind: past the topic's retention the store-writer
// would lose records it has not read, so the clients must wait instead.
func (s *Statements) checkBacklog(w StatementWrite, statements int) error {
	if s.cfg.MaxBacklogBytes == 0 {
		return nil
	}
	b := s.backlog.Backlog()
	if b <= s.cfg.MaxBacklogBytes {
		return nil
	}
	s.counted.WithLabelValues("backlog").Add(float64(statements))
	w.log(zapcore.WarnLevel, "write refused: the store is too far behind", zap.Int64("backlog_bytes", b), zap.Int64("max_backlog_bytes", s.cfg.MaxBacklogBytes))
	return unavailable(fmt.Sprintf(
		"the statement store is %d MB behind the stream (the limit is %d MB); nothing was stored, retry later",
		b>>20, s.cfg.MaxBacklogBytes>>20))
}

// dropKnown applies the statement comparison rules to the ids the client
// chose (pkg/conflict): the same statement acknowledged before is accepted
// again without a second copy, a different one is a 409. It returns the
// statements to publish and the decision to release once the publish ended.
func (s *Statements) dropKnown(ctx context.Context, tenant string, prepared []xapi.Prepared, generated map[string]bool) ([]xapi.Prepared, *conflict.Decision, error) {
	if len(generated) == len(prepared) {
		return prepared, nil, nil
	}
	chosen := make([]conflict.Statement, 0, len(prepared)-len(generated))
	for _, st := range prepared {
		if !generated[st.ID] {
			chosen = append(chosen, conflict.Statement{ID: st.ID, Fingerprint: st.Fingerprint})
		}
	}
	d, err := s.conflicts.Check(ctx, tenant, chosen)
	var ce *conflict.ConflictError
	if errors.As(err, &ce) {
		return nil, nil, NewError(http.StatusConflict, ce.Error())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("conflict check: %w", err)
	}
	fresh := make([]xapi.Prepared, 0, len(prepared))
	j := 0
	for _, st := range prepared {
		if generated[st.ID] {
			fresh = append(fresh, st)
			continue
		}
		if d.New[j] {
			fresh = append(fresh, st)
		}
		j++
	}
	return fresh, d, nil
}

// MayRead answers 403 unless p may read statements (all, or its own).
func (s *Statements) MayRead(p auth.Principal) error {
	return RequireScope(p, auth.ScopeStatementsRead, auth.ScopeStatementsReadMine)
}

// StatementRead is one GET of statements.
type StatementRead struct {
	Principal auth.Principal
	Params    Params
	// AcceptLanguage orders the languages of the canonical format.
	AcceptLanguage string
}

// StatementAnswer is what a GET of statements returns.
type StatementAnswer struct {
	// JSON is one statement, or a StatementResult with its more link.
	JSON []byte
	// LastModified is when the newest statement in it was stored (zero
	// for none).
	LastModified time.Time
	// Multipart says the answer is multipart/mixed: JSON, then the
	// Attachments its statements reference (attachments=true).
	Multipart   bool
	Attachments []store.Attachment
}

var getParams = []string{
	"statementId", "voidedStatementId", "agent", "verb", "activity",
	"registration", "related_activities", "related_agents", "since", "until",
	"limit", "format", "attachments", "ascending", "more",
}

// Read answers a GET of one statement (statementId, voidedStatementId) or
// of a page of them. A statements/read/mine caller reads its own only.
func (s *Statements) Read(ctx context.Context, r StatementRead) (StatementAnswer, error) {
	if err := s.MayRead(r.Principal); err != nil {
		return StatementAnswer{}, err
	}
	var bad []string
	for _, p := range r.Params {
		if !slices.Contains(getParams, p.Name) {
			bad = append(bad, p.Name)
		}
	}
	if len(bad) > 0 {
		return StatementAnswer{}, BadRequest("unknown parameter(s) " + strings.Join(bad, ", ") + " (names are case-sensitive)")
	}
	format, err := xapi.ParseFormat(r.Params.Get("format"))
	if err != nil {
		return StatementAnswer{}, BadRequest(err.Error())
	}
	langs := xapi.ParseAcceptLanguage(r.AcceptLanguage)
	withAttachments, err := r.Params.Bool("attachments")
	if err != nil {
		return StatementAnswer{}, err
	}
	tenant := r.Principal.Tenant
	for _, name := range []string{"statementId", "voidedStatementId"} {
		id := r.Params.Get(name)
		if id == "" {
			continue
		}
		if err := r.Params.Only("statementId", "voidedStatementId", "format", "attachments"); err != nil {
			return StatementAnswer{}, err
		}
		if r.Params.Get("statementId") != "" && r.Params.Get("voidedStatementId") != "" {
			return StatementAnswer{}, BadRequest("statementId and voidedStatementId cannot be used together")
		}
		st, err := s.store.GetStatement(ctx, tenant, strings.ToLower(id), name == "voidedStatementId")
		if errors.Is(err, store.ErrNotFound) || (err == nil && !mayRead(r.Principal, st)) {
			return StatementAnswer{}, NewError(http.StatusNotFound, "no statement "+id)
		}
		if err != nil {
			return StatementAnswer{}, err
		}
		body, err := xapi.FormatStatement(st.JSON, format, langs)
		if err != nil {
			return StatementAnswer{}, err
		}
		return s.answer(ctx, tenant, body, st.Stored, withAttachments, [][]byte{st.JSON})
	}

	q, err := listQuery(r.Params, tenant)
	if err != nil {
		return StatementAnswer{}, err
	}
	restrictToOwn(r.Principal, &q)
	page, err := s.store.QueryStatements(ctx, q)
	if errors.Is(err, store.ErrInvalidQuery) {
		return StatementAnswer{}, BadRequest(err.Error())
	}
	if err != nil {
		return StatementAnswer{}, err
	}
	var (
		b      bytes.Buffer
		raw    = make([][]byte, len(page.Statements))
		newest time.Time
	)
	b.WriteString(`{"statements":[`)
	for i, st := range page.Statements {
		raw[i] = st.JSON
		if i > 0 {
			b.WriteByte(',')
		}
		body, err := xapi.FormatStatement(st.JSON, format, langs)
		if err != nil {
			return StatementAnswer{}, err
		}
		b.Write(body)
		if st.Stored.After(newest) {
			newest = st.Stored
		}
	}
	b.WriteString(`],"more":"`)
	if page.More != "" {
		b.WriteString(s.cfg.Prefix + "/statements?more=" + url.QueryEscape(page.More))
	}
	b.WriteString(`"}`)
	return s.answer(ctx, tenant, b.Bytes(), newest, withAttachments, raw)
}

func (s *Statements) answer(ctx context.Context, tenant string, body []byte, modified time.Time, withAttachments bool, stmts [][]byte) (StatementAnswer, error) {
	a := StatementAnswer{JSON: body, LastModified: modified, Multipart: withAttachments}
	if withAttachments {
		atts, err := attachmentsOf(ctx, s.attachments, tenant, stmts)
		if err != nil {
			return StatementAnswer{}, err
		}
		a.Attachments = atts
	}
	return a, nil
}

func listQuery(ps Params, tenant string) (store.Query, error) {
	q := store.Query{Tenant: tenant}
	if more := ps.Get("more"); more != "" {
		if err := ps.Only("more", "format", "attachments"); err != nil {
			return q, err
		}
		q.Cursor = more
		return q, nil
	}
	q.Agent = ps.Get("agent")
	q.Verb = ps.Get("verb")
	q.Activity = ps.Get("activity")
	q.Registration = ps.Get("registration")
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"related_activities", &q.RelatedActivities}, {"related_agents", &q.RelatedAgents}, {"ascending", &q.Ascending}} {
		if *b.dst, err = ps.Bool(b.name); err != nil {
			return q, err
		}
	}
	if _, err := ps.Bool("attachments"); err != nil {
		return q, err
	}
	if q.Since, err = ps.Time("since"); err != nil {
		return q, err
	}
	if q.Until, err = ps.Time("until"); err != nil {
		return q, err
	}
	if v := ps.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, BadRequest(fmt.Sprintf("limit %q: want a non-negative integer", v))
		}
		q.Limit = n
	}
	return q, nil
}
