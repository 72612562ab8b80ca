package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

const headerConsistentThrough = "X-Experience-API-Consistent-Through"

// timeFormat is how the API writes instants: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func (s *Server) postStatements(c *fiber.Ctx) error {
	if err := requireScope(c, auth.ScopeStatementsWrite); err != nil {
		return err
	}
	ids, err := s.accept(c, "")
	if err != nil {
		return err
	}
	return c.JSON(ids)
}

func (s *Server) putStatement(c *fiber.Ctx) error {
	if err := requireScope(c, auth.ScopeStatementsWrite); err != nil {
		return err
	}
	id := c.Query("statementId")
	if id == "" {
		return badRequest("PUT /statements needs the statementId parameter")
	}
	if err := onlyParams(c, "statementId"); err != nil {
		return err
	}
	if _, err := s.accept(c, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// accept validates the body, drops statements the store already holds with
// the same content (409 when the content differs), and publishes the rest as
// one record. It returns every statement id in request order.
func (s *Server) accept(c *fiber.Ctx, statementID string) ([]string, error) {
	p := principal(c)
	body, parts, err := statementBody(c)
	if err != nil {
		return nil, err
	}
	if statementID != "" {
		if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] != '{' {
			return nil, badRequest("PUT /statements takes one statement object, not an array")
		}
	}
	generated := map[string]bool{}
	stored := time.Now().UTC().Truncate(time.Millisecond)
	assign := xapi.Assign{
		Stored:      stored,
		Authority:   p.Authority,
		StatementID: statementID,
		NewID: func() string {
			id := uuid.NewString()
			generated[id] = true
			return id
		},
	}
	assign.MaxStatements = s.cfg.MaxBatchStatements
	prepared, err := xapi.PrepareStatements(body, version(c), assign)
	if err != nil {
		s.metrics.statements.WithLabelValues("rejected").Inc()
		return nil, err
	}
	atts, err := matchAttachments(prepared, parts, version(c), assign)
	if err != nil {
		s.metrics.statements.WithLabelValues("rejected").Inc()
		return nil, err
	}
	if err := s.mayVoid(c, p, prepared); err != nil {
		return nil, err
	}
	prov, err := readProvenance(c.Get(HeaderSource), p, body, prepared)
	if err != nil {
		return nil, err
	}
	if len(prepared) > s.cfg.MaxBatchStatements {
		return nil, newError(fiber.StatusRequestEntityTooLarge,
			fmt.Sprintf("%d statements in one request; the limit is %d", len(prepared), s.cfg.MaxBatchStatements))
	}
	ids := make([]string, len(prepared))
	for i, st := range prepared {
		ids[i] = st.ID
	}
	fresh, decision, err := s.dropKnown(c.UserContext(), p.Tenant, prepared, generated)
	if err != nil {
		return nil, err
	}
	defer decision.Done()
	s.metrics.statements.WithLabelValues("duplicate").Add(float64(len(prepared) - len(fresh)))
	if len(fresh) == 0 {
		return ids, nil
	}
	if err := s.checkBacklog(c, len(fresh)); err != nil {
		return nil, err
	}
	// Attachments first: once the statement is published it may be read,
	// and it must never be visible without them.
	if err := s.deps.Attachments.PutAttachments(c.UserContext(), p.Tenant, atts); err != nil {
		return nil, fmt.Errorf("store attachments: %w", err)
	}
	batch := stream.Batch{Tenant: p.Tenant, Statements: make([]stream.Statement, len(fresh))}
	for i, st := range fresh {
		batch.Statements[i] = stream.Statement{ID: st.ID, Stored: stored, Fingerprint: st.Fingerprint, Statement: st.JSON}
		prov.mark(&batch.Statements[i])
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.PublishTimeout)
	defer cancel()
	part, off, err := s.deps.Publisher.Publish(ctx, batch)
	if errors.Is(err, stream.ErrTooLarge) {
		return nil, newError(fiber.StatusRequestEntityTooLarge, "the statements are larger than the topic accepts in one record")
	}
	if err != nil {
		s.logAt(c, zapcore.ErrorLevel, "publish failed", zap.Error(err), zap.Int("statements", len(fresh)))
		c.Set(fiber.HeaderRetryAfter, "5")
		msg := "the statement stream is unavailable; nothing was stored, retry later"
		if errors.Is(err, stream.ErrNotAcknowledged) {
			msg = "the statement stream did not acknowledge in time; the statements are not reported as stored: retry later with the same statement ids (a retry never creates a duplicate)"
		}
		return nil, newError(fiber.StatusServiceUnavailable, msg)
	}
	decision.Published(part, off)
	s.metrics.statements.WithLabelValues("accepted").Add(float64(len(fresh)))
	s.logAt(c, zapcore.DebugLevel, "published", zap.Int32("partition", part), zap.Int64("offset", off), zap.Int("statements", len(fresh)))
	return ids, nil
}

// checkBacklog refuses writes while the store is more than
// MaxBacklogBytes behind: past the topic's retention the store-writer
// would lose records it has not read, so the clients must wait instead.
func (s *Server) checkBacklog(c *fiber.Ctx, statements int) error {
	if s.cfg.MaxBacklogBytes == 0 {
		return nil
	}
	b := s.deps.Backlog.Backlog()
	if b <= s.cfg.MaxBacklogBytes {
		return nil
	}
	s.metrics.statements.WithLabelValues("backlog").Add(float64(statements))
	s.logAt(c, zapcore.WarnLevel, "write refused: the store is too far behind", zap.Int64("backlog_bytes", b), zap.Int64("max_backlog_bytes", s.cfg.MaxBacklogBytes))
	c.Set(fiber.HeaderRetryAfter, "5")
	return newError(fiber.StatusServiceUnavailable, fmt.Sprintf(
		"the statement store is %d MB behind the stream (the limit is %d MB); nothing was stored, retry later",
		b>>20, s.cfg.MaxBacklogBytes>>20))
}

// dropKnown applies the statement comparison rules to the ids the client
// chose (pkg/conflict): the same statement acknowledged before is accepted
// again without a second copy, a different one is a 409. It returns the
// statements to publish and the decision to release once the publish ended.
func (s *Server) dropKnown(ctx context.Context, tenant string, prepared []xapi.Prepared, generated map[string]bool) ([]xapi.Prepared, *conflict.Decision, error) {
	if len(generated) == len(prepared) {
		return prepared, nil, nil
	}
	chosen := make([]conflict.Statement, 0, len(prepared)-len(generated))
	for _, st := range prepared {
		if !generated[st.ID] {
			chosen = append(chosen, conflict.Statement{ID: st.ID, Fingerprint: st.Fingerprint})
		}
	}
	d, err := s.deps.Conflicts.Check(ctx, tenant, chosen)
	var ce *conflict.ConflictError
	if errors.As(err, &ce) {
		return nil, nil, newError(fiber.StatusConflict, ce.Error())
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

var getParams = map[string]bool{
	"statementId": true, "voidedStatementId": true, "agent": true, "verb": true, "activity": true,
	"registration": true, "related_activities": true, "related_agents": true, "since": true, "until": true,
	"limit": true, "format": true, "attachments": true, "ascending": true, "more": true,
}

func (s *Server) getStatements(c *fiber.Ctx) error {
	if err := requireScope(c, auth.ScopeStatementsRead, auth.ScopeStatementsReadMine); err != nil {
		return err
	}
	// Consistent-Through goes on every statement GET, errors included: the
	// wait happens before anything else.
	through, caughtUp, err := s.deps.Watermark.Sync(c.UserContext())
	if err != nil {
		s.logAt(c, zapcore.WarnLevel, "read without a fresh watermark", zap.Error(err))
	}
	if !caughtUp && err == nil {
		s.logAt(c, zapcore.DebugLevel, "store behind the topic after the read wait")
	}
	c.Set(headerConsistentThrough, through.UTC().Format(timeFormat))

	args := c.Request().URI().QueryArgs()
	var bad []string
	args.VisitAll(func(k, _ []byte) {
		if !getParams[string(k)] {
			bad = append(bad, string(k))
		}
	})
	if len(bad) > 0 {
		return badRequest("unknown parameter(s) " + strings.Join(bad, ", ") + " (names are case-sensitive)")
	}
	format, err := xapi.ParseFormat(c.Query("format"))
	if err != nil {
		return badRequest(err.Error())
	}
	langs := xapi.ParseAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
	withAttachments, err := boolParam(c, "attachments")
	if err != nil {
		return err
	}
	tenant := principal(c).Tenant
	for _, name := range []string{"statementId", "voidedStatementId"} {
		id := c.Query(name)
		if id == "" {
			continue
		}
		if err := onlyParams(c, "statementId", "voidedStatementId", "format", "attachments"); err != nil {
			return err
		}
		if c.Query("statementId") != "" && c.Query("voidedStatementId") != "" {
			return badRequest("statementId and voidedStatementId cannot be used together")
		}
		st, err := s.deps.Store.GetStatement(c.UserContext(), tenant, strings.ToLower(id), name == "voidedStatementId")
		if errors.Is(err, store.ErrNotFound) || (err == nil && !mayRead(c, st)) {
			return newError(fiber.StatusNotFound, "no statement "+id)
		}
		if err != nil {
			return err
		}
		body, err := xapi.FormatStatement(st.JSON, format, langs)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderLastModified, st.Stored.UTC().Format(http.TimeFormat))
		if withAttachments {
			return s.multipartResponse(c, tenant, body, [][]byte{st.JSON})
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	}

	q, err := listQuery(c, tenant)
	if err != nil {
		return err
	}
	restrictToOwn(c, &q)
	page, err := s.deps.Store.QueryStatements(c.UserContext(), q)
	if errors.Is(err, store.ErrInvalidQuery) {
		return badRequest(err.Error())
	}
	if err != nil {
		return err
	}
	var (
		b   bytes.Buffer
		raw = make([][]byte, len(page.Statements))
	)
	b.WriteString(`{"statements":[`)
	for i, st := range page.Statements {
		raw[i] = st.JSON
		if i > 0 {
			b.WriteByte(',')
		}
		body, err := xapi.FormatStatement(st.JSON, format, langs)
		if err != nil {
			return err
		}
		b.Write(body)
	}
	b.WriteString(`],"more":"`)
	if page.More != "" {
		b.WriteString(s.cfg.Prefix + "/statements?more=" + url.QueryEscape(page.More))
	}
	b.WriteString(`"}`)
	var newest time.Time
	for _, st := range page.Statements {
		if st.Stored.After(newest) {
			newest = st.Stored
		}
	}
	if !newest.IsZero() {
		c.Set(fiber.HeaderLastModified, newest.UTC().Format(http.TimeFormat))
	}
	if withAttachments {
		return s.multipartResponse(c, tenant, b.Bytes(), raw)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b.Bytes())
}

func onlyParams(c *fiber.Ctx, allowed ...string) error {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	var bad []string
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		if !ok[string(k)] {
			bad = append(bad, string(k))
		}
	})
	if len(bad) > 0 {
		return badRequest("parameter(s) " + strings.Join(bad, ", ") + " cannot be used here; allowed: " + strings.Join(allowed, ", "))
	}
	return nil
}

func listQuery(c *fiber.Ctx, tenant string) (store.Query, error) {
	q := store.Query{Tenant: tenant}
	if more := c.Query("more"); more != "" {
		if err := onlyParams(c, "more", "format", "attachments"); err != nil {
			return q, err
		}
		q.Cursor = more
		return q, nil
	}
	q.Agent = c.Query("agent")
	q.Verb = c.Query("verb")
	q.Activity = c.Query("activity")
	q.Registration = c.Query("registration")
	var err error
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"related_activities", &q.RelatedActivities}, {"related_agents", &q.RelatedAgents}, {"ascending", &q.Ascending}} {
		if *b.dst, err = boolParam(c, b.name); err != nil {
			return q, err
		}
	}
	if _, err := boolParam(c, "attachments"); err != nil {
		return q, err
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.Query(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return q, badRequest(fmt.Sprintf("%s %q: want an RFC 3339 timestamp", t.name, v))
			}
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, badRequest(fmt.Sprintf("limit %q: want a non-negative integer", v))
		}
		q.Limit = n
	}
	return q, nil
}

func boolParam(c *fiber.Ctx, name string) (bool, error) {
	switch v := c.Query(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest(fmt.Sprintf("%s %q: want true or false", name, v))
	}
}
