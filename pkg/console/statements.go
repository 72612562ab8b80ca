package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// filters are the browser's form: the xAPI statement filters, by the names
// of their query parameters.
type filters struct {
	Agent, Verb, Activity, Registration string
	Since, Until                        string
	RelatedActivities, RelatedAgents    bool
	Ascending                           bool
	// ID looks one statement up, voided or not (xAPI lists never hold
	// voided statements; voidedStatementId finds them).
	ID string
}

func readFilters(ctx *fiber.Ctx) filters {
	q := func(k string) string { return strings.TrimSpace(ctx.Query(k)) }
	return filters{Agent: q("agent"), Verb: q("verb"), Activity: q("activity"), Registration: q("registration"),
		Since: q("since"), Until: q("until"), RelatedActivities: q("related_activities") != "", RelatedAgents: q("related_agents") != "",
		Ascending: q("ascending") != "", ID: strings.ToLower(q("id"))}
}

// agentJSON turns what an operator types into the agent filter: an Agent
// object as xAPI takes it, an e-mail address, or a mailto: IRI.
func agentJSON(s string) (string, error) {
	switch {
	case s == "":
		return "", nil
	case strings.HasPrefix(s, "{"):
		return s, nil
	case strings.HasPrefix(s, "mailto:"):
		s = strings.TrimPrefix(s, "mailto:")
	}
	if !strings.Contains(s, "@") {
		return "", fmt.Errorf("%w: agent %q: give an e-mail address or an Agent as JSON, e.g. {\"account\":{\"homePage\":\"https://lms.example.com\",\"name\":\"42\"}}", store.ErrInvalidQuery, s)
	}
	b, _ := json.Marshal(map[string]string{"mbox": "mailto:" + s})
	return string(b), nil
}

// parseTime reads a time from the form: RFC 3339, or the date and time a
// datetime-local input sends, taken as UTC.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %q: want a date and time like 2026-12-02T08:00 (UTC) or RFC 3339", store.ErrInvalidQuery, name, s)
}

func (f filters) query(tenant string) (store.Query, error) {
	agent, err := agentJSON(f.Agent)
	if err != nil {
		return store.Query{}, err
	}
	since, err := parseTime("since", f.Since)
	if err != nil {
		return store.Query{}, err
	}
	until, err := parseTime("until", f.Until)
	if err != nil {
		return store.Query{}, err
	}
	return store.Query{Tenant: tenant, Agent: agent, Verb: f.Verb, Activity: f.Activity, Registration: f.Registration,
		RelatedActivities: f.RelatedActivities, RelatedAgents: f.RelatedAgents, Since: since, Until: until,
		Ascending: f.Ascending, Limit: pageSize}, nil
}

const pageSize = 25

type statementsData struct {
	Filters filters
	Rows    []summary
	More    string // the URL of the next page
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (c *Console) statements(ctx *fiber.Ctx) error {
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	f := readFilters(ctx)
	if f.ID != "" {
		if !uuidRE.MatchString(f.ID) {
			return c.fail(ctx, http.StatusBadRequest, "statement id "+f.ID+": want a UUID")
		}
		return ctx.Redirect(Prefix+"/t/"+t.ID+"/statements/"+f.ID, http.StatusSeeOther)
	}
	var q store.Query
	if more := ctx.Query("more"); more != "" {
		q = store.Query{Tenant: t.ID, Cursor: more}
	} else if q, err = f.query(t.ID); err != nil {
		return c.failErr(ctx, err)
	}
	p, err := c.d.Statements.QueryStatements(ctx.UserContext(), q)
	if err != nil {
		return c.failErr(ctx, err)
	}
	d := statementsData{Filters: f}
	for _, s := range p.Statements {
		d.Rows = append(d.Rows, summarize(s, false))
	}
	if p.More != "" {
		v, _ := url.ParseQuery(string(ctx.Request().URI().QueryString()))
		v.Set("more", p.More)
		d.More = Prefix + "/t/" + t.ID + "/statements?" + v.Encode()
	}
	return c.render(ctx, http.StatusOK, "statements", page{Title: "Statements of " + t.ID, Nav: "statements", Tenant: t.ID, Data: d})
}

// summary is a statement as a row of the list and the head of its page.
type summary struct {
	ID, Actor, Verb, VerbID, Object, ObjectID, Result string
	Stored, Timestamp                                 string
	Voided                                            bool
	// Voids is the id a voiding statement voids.
	Voids string
}

const voidedVerb = "http://adlnet.gov/expapi/verbs/voided"

// stmt is the part of a statement the console reads.
type stmt struct {
	ID        string          `json:"id"`
	Actor     json.RawMessage `json:"actor"`
	Verb      verb            `json:"verb"`
	Object    json.RawMessage `json:"object"`
	Result    *result         `json:"result"`
	Context   *stmtContext    `json:"context"`
	Timestamp string          `json:"timestamp"`
	Stored    string          `json:"stored"`
	Authority json.RawMessage `json:"authority"`
	Version   string          `json:"version"`
	// Attachments are what the statement says of its attachments.
	Attachments []attachmentRef `json:"attachments"`
}

type verb struct {
	ID      string            `json:"id"`
	Display map[string]string `json:"display"`
}

type result struct {
	Score *struct {
		Scaled, Raw, Min, Max *float64
	} `json:"score"`
	Success    *bool           `json:"success"`
	Completion *bool           `json:"completion"`
	Response   string          `json:"response"`
	Duration   string          `json:"duration"`
	Extensions json.RawMessage `json:"extensions"`
}

type stmtContext struct {
	Registration      string          `json:"registration"`
	Instructor        json.RawMessage `json:"instructor"`
	Team              json.RawMessage `json:"team"`
	ContextActivities map[string]json.RawMessage
	Platform          string          `json:"platform"`
	Language          string          `json:"language"`
	Revision          string          `json:"revision"`
	Statement         json.RawMessage `json:"statement"`
	Extensions        json.RawMessage `json:"extensions"`
}

func (c *stmtContext) UnmarshalJSON(b []byte) error {
	type plain stmtContext
	var p struct {
		plain
		ContextActivities map[string]json.RawMessage `json:"contextActivities"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = stmtContext(p.plain)
	c.ContextActivities = p.ContextActivities
	return nil
}

type attachmentRef struct {
	UsageType   string            `json:"usageType"`
	Display     map[string]string `json:"display"`
	ContentType string            `json:"contentType"`
	Length      int64             `json:"length"`
	SHA2        string            `json:"sha2"`
	FileURL     string            `json:"fileUrl"`
}

// lang picks en-US, else any English, else the first by key.
func lang(m map[string]string) string {
	if v, ok := m["en-US"]; ok {
		return v
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "en") {
			return m[k]
		}
	}
	if len(keys) > 0 {
		return m[keys[0]]
	}
	return ""
}

// agentName is how an Agent or Group reads: its name, else its identifier.
func agentName(raw json.RawMessage) string {
	var a struct {
		Name         string            `json:"name"`
		Mbox         string            `json:"mbox"`
		MboxSHA1     string            `json:"mbox_sha1sum"`
		OpenID       string            `json:"openid"`
		ObjectType   string            `json:"objectType"`
		Member       []json.RawMessage `json:"member"`
		AccountField *struct {
			HomePage string `json:"homePage"`
			Name     string `json:"name"`
		} `json:"account"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return ""
	}
	switch {
	case a.Name != "":
		return a.Name
	case a.Mbox != "":
		return strings.TrimPrefix(a.Mbox, "mailto:")
	case a.AccountField != nil:
		return a.AccountField.Name + " @ " + a.AccountField.HomePage
	case a.OpenID != "":
		return a.OpenID
	case a.MboxSHA1 != "":
		return "sha1:" + a.MboxSHA1
	case a.ObjectType == "Group":
		return fmt.Sprintf("anonymous group of %d", len(a.Member))
	}
	return ""
}

// objectName is how the object reads, and its id.
func objectName(raw json.RawMessage) (name, id string) {
	var o struct {
		ObjectType string `json:"objectType"`
		ID         string `json:"id"`
		Definition *struct {
			Name map[string]string `json:"name"`
		} `json:"definition"`
		Verb *verb `json:"verb"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return "", ""
	}
	switch o.ObjectType {
	case "Agent", "Group":
		return agentName(raw), ""
	case "StatementRef":
		return "statement " + o.ID, o.ID
	case "SubStatement":
		if o.Verb != nil {
			return "sub-statement: " + lang(o.Verb.Display), ""
		}
		return "sub-statement", ""
	}
	if o.Definition != nil {
		if n := lang(o.Definition.Name); n != "" {
			return n, o.ID
		}
	}
	return o.ID, o.ID
}

func (r *result) summary() string {
	if r == nil {
		return ""
	}
	var parts []string
	if r.Score != nil {
		switch {
		case r.Score.Scaled != nil:
			parts = append(parts, fmt.Sprintf("score %.0f%%", *r.Score.Scaled*100))
		case r.Score.Raw != nil && r.Score.Max != nil:
			parts = append(parts, fmt.Sprintf("score %g/%g", *r.Score.Raw, *r.Score.Max))
		case r.Score.Raw != nil:
			parts = append(parts, fmt.Sprintf("score %g", *r.Score.Raw))
		}
	}
	if r.Success != nil {
		parts = append(parts, map[bool]string{true: "passed", false: "failed"}[*r.Success])
	}
	if r.Completion != nil && *r.Completion {
		parts = append(parts, "completed")
	}
	if r.Duration != "" {
		parts = append(parts, r.Duration)
	}
	return strings.Join(parts, ", ")
}

func summarize(s store.Statement, voided bool) summary {
	var st stmt
	_ = json.Unmarshal(s.JSON, &st)
	out := summary{ID: s.ID, Actor: agentName(st.Actor), Verb: lang(st.Verb.Display), VerbID: st.Verb.ID,
		Result: st.Result.summary(), Stored: s.Stored.UTC().Format("2006-01-02 15:04:05"), Timestamp: st.Timestamp, Voided: voided}
	if out.Verb == "" {
		out.Verb = st.Verb.ID
	}
	out.Object, out.ObjectID = objectName(st.Object)
	if st.Verb.ID == voidedVerb {
		out.Voids = out.ObjectID
	}
	return out
}

type statementData struct {
	// CanVoid offers the voiding button: a statement neither voided nor
	// voiding, on a console that can void.
	CanVoid     bool
	Summary     summary
	Statement   stmt
	Raw         string
	Context     []kv
	Attachments []attachmentRef
}

type kv struct{ Key, Value string }

func (c *Console) statement(ctx *fiber.Ctx) error {
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	id := strings.ToLower(ctx.Params("id"))
	voided := false
	s, err := c.d.Statements.GetStatement(ctx.UserContext(), t.ID, id, false)
	if errors.Is(err, store.ErrNotFound) {
		voided = true
		s, err = c.d.Statements.GetStatement(ctx.UserContext(), t.ID, id, true)
	}
	if errors.Is(err, store.ErrNotFound) {
		return c.fail(ctx, http.StatusNotFound, "tenant "+t.ID+" has no statement "+id+" (or the store has not written it yet)")
	}
	if err != nil {
		return c.failErr(ctx, err)
	}
	d := statementData{Summary: summarize(s, voided)}
	_ = json.Unmarshal(s.JSON, &d.Statement)
	var pretty map[string]any
	if json.Unmarshal(s.JSON, &pretty) == nil {
		b, _ := json.MarshalIndent(pretty, "", "  ")
		d.Raw = string(b)
	} else {
		d.Raw = string(s.JSON)
	}
	d.Context = contextRows(d.Statement)
	d.Attachments = d.Statement.Attachments
	d.CanVoid = c.d.Voider != nil && !voided && d.Summary.Voids == ""
	p := page{Title: "Statement " + id, Nav: "statements", Tenant: t.ID, Data: d}
	switch v := ctx.Query("voidedBy"); {
	case v != "" && voided:
		p.Notice = "Voiding statement " + v + " voided this statement."
	case v != "":
		p.Notice = "Voiding statement " + v + " was accepted; this statement shows as voided once the store has applied it."
	}
	return c.render(ctx, http.StatusOK, "statement", p)
}

// Voider voids a statement as p (xapiservice.Statements).
type Voider interface {
	Void(ctx context.Context, p auth.Principal, id string) (string, error)
}

// consoleAuthority is the actor and authority of the statements the
// console makes: the operator acts for the tenant, not as a learner.
var consoleAuthority = json.RawMessage(`{"objectType":"Agent","account":{"homePage":"https://streamlrs.invalid/console","name":"console"}}`)

// void voids the statement for the operator, with scope all (which the
// voiding policy lets void any statement of the tenant).
func (c *Console) void(ctx *fiber.Ctx) error {
	if c.d.Voider == nil {
		return c.fail(ctx, http.StatusNotFound, "this console does not void statements")
	}
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	id := strings.ToLower(ctx.Params("id"))
	p := auth.Principal{Tenant: t.ID, Key: "console", Label: "console", Scopes: []string{auth.ScopeAll}, Authority: consoleAuthority}
	vid, err := c.d.Voider.Void(ctx.UserContext(), p, id)
	var xe *xapiservice.Error
	if errors.As(err, &xe) {
		return c.fail(ctx, xe.Status, xe.Message)
	}
	if err != nil {
		return c.failErr(ctx, err)
	}
	c.log.Info("statement voided in the console", zap.String("tenant", t.ID), zap.String("statement_id", id), zap.String("voiding_id", vid))
	return ctx.Redirect(Prefix+"/t/"+t.ID+"/statements/"+id+"?voidedBy="+url.QueryEscape(vid), http.StatusSeeOther)
}

// contextRows is the statement's context and authority, as label and text.
func contextRows(st stmt) []kv {
	var out []kv
	add := func(k, v string) {
		if v != "" {
			out = append(out, kv{k, v})
		}
	}
	if cx := st.Context; cx != nil {
		add("Registration", cx.Registration)
		add("Instructor", agentName(cx.Instructor))
		add("Team", agentName(cx.Team))
		keys := make([]string, 0, len(cx.ContextActivities))
		for k := range cx.ContextActivities {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var acts []struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(cx.ContextActivities[k], &acts) != nil {
				var one struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(cx.ContextActivities[k], &one) == nil {
					acts = append(acts, one)
				}
			}
			ids := make([]string, len(acts))
			for i, a := range acts {
				ids[i] = a.ID
			}
			add("Context activities: "+k, strings.Join(ids, ", "))
		}
		add("Platform", cx.Platform)
		add("Language", cx.Language)
		add("Revision", cx.Revision)
		if len(cx.Extensions) > 0 {
			add("Extensions", string(cx.Extensions))
		}
	}
	add("Authority", agentName(st.Authority))
	add("Version", st.Version)
	return out
}

var sha2RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *Console) attachment(ctx *fiber.Ctx) error {
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	sha2 := strings.ToLower(ctx.Params("sha2"))
	if !sha2RE.MatchString(sha2) {
		return c.fail(ctx, http.StatusBadRequest, "attachment "+sha2+": want the SHA-256 of its content in hex")
	}
	as, err := c.d.Statements.GetAttachments(ctx.UserContext(), t.ID, []string{sha2})
	if err != nil {
		return c.failErr(ctx, err)
	}
	if len(as) == 0 {
		return c.fail(ctx, http.StatusNotFound, "tenant "+t.ID+" holds no attachment "+sha2)
	}
	// A download, never a page of this origin: whatever the content type
	// says, the browser saves it.
	ctx.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	ctx.Set(fiber.HeaderContentDisposition, `attachment; filename="`+sha2[:16]+`"`)
	ctx.Set(fiber.HeaderContentType, "application/octet-stream")
	return ctx.Send(as[0].Content)
}
