package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// VerbVoided is the verb of a voiding statement.
const VerbVoided = "http://adlnet.gov/expapi/verbs/voided"

// ClickHouse DateTime is an unsigned 32-bit count of seconds since the epoch.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(1<<32-1, 0).UTC()
)

// row is one statement flattened into the columns of the statements table.
type row struct {
	tenant               string
	statementID          uuid.UUID
	timestamp            int64
	timestampMS          uint16
	stored               int64
	storedMS             uint16
	actorKind            string
	actorIFIKind         string
	actorIFI             string
	actorName            string
	actorAccountHomePage string
	actorAccountName     string
	verbID               string
	verbDisplay          string
	objectKind           string
	objectID             string
	objectType           string
	objectName           string
	resultSuccess        *uint8
	resultCompletion     *uint8
	scoreScaled          *float64
	scoreRaw             *float64
	scoreMin             *float64
	scoreMax             *float64
	durationS            *float64
	response             *string
	registration         *uuid.UUID
	platform             string
	language             string
	instructor           string
	team                 string
	parentIDs            []string
	groupingIDs          []string
	categoryIDs          []string
	otherIDs             []string
	contextAgents        []string
	contextGroups        []string
	contextExtKeys       []string
	resultExtKeys        []string
	objectExtKeys        []string
	version              string
	authority            string
	voidedStatementID    *uuid.UUID
	json                 string
	// month is the partition (toYYYYMM(timestamp)) the row lands in.
	month int
}

// The JSON shapes below name only the members the columns need;
// encoding/json skips the rest.

type agentJSON struct {
	ObjectType  string       `json:"objectType"`
	Name        string       `json:"name"`
	Mbox        string       `json:"mbox"`
	MboxSHA1Sum string       `json:"mbox_sha1sum"`
	OpenID      string       `json:"openid"`
	Account     *accountJSON `json:"account"`
	Member      []agentJSON  `json:"member"`
}

type accountJSON struct {
	HomePage string `json:"homePage"`
	Name     string `json:"name"`
}

type verbJSON struct {
	ID      string            `json:"id"`
	Display map[string]string `json:"display"`
}

type definitionJSON struct {
	Type       string            `json:"type"`
	Name       map[string]string `json:"name"`
	Extensions extensionKeys     `json:"extensions"`
}

type objectJSON struct {
	agentJSON
	ID         string          `json:"id"`
	Definition *definitionJSON `json:"definition"`
}

type scoreJSON struct {
	Scaled *float64 `json:"scaled"`
	Raw    *float64 `json:"raw"`
	Min    *float64 `json:"min"`
	Max    *float64 `json:"max"`
}

type resultJSON struct {
	Success    *bool         `json:"success"`
	Completion *bool         `json:"completion"`
	Score      *scoreJSON    `json:"score"`
	Duration   string        `json:"duration"`
	Response   *string       `json:"response"`
	Extensions extensionKeys `json:"extensions"`
}

type contextActivitiesJSON struct {
	Parent   activityIDs `json:"parent"`
	Grouping activityIDs `json:"grouping"`
	Category activityIDs `json:"category"`
	Other    activityIDs `json:"other"`
}

type contextJSON struct {
	Registration      string                 `json:"registration"`
	Platform          string                 `json:"platform"`
	Language          string                 `json:"language"`
	Instructor        *agentJSON             `json:"instructor"`
	Team              *agentJSON             `json:"team"`
	ContextActivities *contextActivitiesJSON `json:"contextActivities"`
	ContextAgents     []struct {
		Agent *agentJSON `json:"agent"`
	} `json:"contextAgents"`
	ContextGroups []struct {
		Group *agentJSON `json:"group"`
	} `json:"contextGroups"`
	Extensions extensionKeys `json:"extensions"`
}

type statementJSON struct {
	ID        string       `json:"id"`
	Actor     *agentJSON   `json:"actor"`
	Verb      *verbJSON    `json:"verb"`
	Object    *objectJSON  `json:"object"`
	Result    *resultJSON  `json:"result"`
	Context   *contextJSON `json:"context"`
	Timestamp string       `json:"timestamp"`
	Stored    string       `json:"stored"`
	Authority *agentJSON   `json:"authority"`
	Version   string       `json:"version"`
}

// extensionKeys keeps only the sorted keys of an extensions object: the
// values can be anything and stay queryable in statement_json.
type extensionKeys []string

func (e *extensionKeys) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	*e = keys
	return nil
}

// activityIDs reads a contextActivities member, which xAPI 1.0.0 allowed to
// be a single activity instead of an array.
type activityIDs []string

func (a *activityIDs) UnmarshalJSON(b []byte) error {
	type activity struct {
		ID string `json:"id"`
	}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '{' {
		var one activity
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*a = []string{one.ID}
		return nil
	}
	var many []activity
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	ids := make([]string, len(many))
	for i, m := range many {
		ids[i] = m.ID
	}
	*a = ids
	return nil
}

// flatten turns one statement into a row. An error means the statement can
// never be written (it is not a statement the LRS could have accepted).
func flatten(s Statement) (row, error) {
	var r row
	if s.Tenant == "" {
		return r, errors.New("tenant is empty")
	}
	var st statementJSON
	if err := json.Unmarshal(s.JSON, &st); err != nil {
		return r, fmt.Errorf("statement JSON: %w", err)
	}
	id, err := uuid.Parse(st.ID)
	if err != nil {
		return r, fmt.Errorf("id %q: %w", st.ID, err)
	}
	if st.Actor == nil {
		return r, errors.New("actor is missing")
	}
	if st.Verb == nil || st.Verb.ID == "" {
		return r, errors.New("verb.id is missing")
	}
	if st.Object == nil {
		return r, errors.New("object is missing")
	}
	ts, err := parseTime("timestamp", st.Timestamp)
	if err != nil {
		return r, err
	}
	stored, err := parseTime("stored", st.Stored)
	if err != nil {
		return r, err
	}

	r = row{
		tenant:      s.Tenant,
		statementID: id,
		timestamp:   ts.Unix(),
		timestampMS: uint16(ts.Nanosecond() / int(time.Millisecond)),
		stored:      stored.Unix(),
		storedMS:    uint16(stored.Nanosecond() / int(time.Millisecond)),
		month:       ts.Year()*100 + int(ts.Month()),
		verbID:      st.Verb.ID,
		verbDisplay: pickLanguage(st.Verb.Display),
		version:     st.Version,
		json:        string(s.JSON),
	}

	r.actorKind = agentKind(st.Actor)
	r.actorIFIKind, r.actorIFI = ifi(st.Actor)
	r.actorName = st.Actor.Name
	if st.Actor.Account != nil {
		r.actorAccountHomePage = st.Actor.Account.HomePage
		r.actorAccountName = st.Actor.Account.Name
	}

	if err := r.setObject(st.Object); err != nil {
		return r, err
	}
	if err := r.setResult(st.Result); err != nil {
		return r, err
	}
	if err := r.setContext(st.Context); err != nil {
		return r, err
	}
	if st.Authority != nil {
		r.authority = authorityKey(st.Authority)
	}
	return r, nil
}

func (r *row) setObject(o *objectJSON) error {
	r.objectKind = o.ObjectType
	if r.objectKind == "" {
		r.objectKind = "Activity"
	}
	switch r.objectKind {
	case "Activity":
		r.objectID = o.ID
		if d := o.Definition; d != nil {
			r.objectType = d.Type
			r.objectName = pickLanguage(d.Name)
			r.objectExtKeys = d.Extensions
		}
	case "Agent", "Group":
		_, r.objectID = ifi(&o.agentJSON)
		r.objectName = o.Name
	case "StatementRef":
		target, err := uuid.Parse(o.ID)
		if err != nil {
			return fmt.Errorf("object.id of StatementRef %q: %w", o.ID, err)
		}
		r.objectID = target.String()
		if r.verbID == VerbVoided {
			r.voidedStatementID = &target
		}
	case "SubStatement":
		// A SubStatement has no id; its content stays in statement_json.
	default:
		return fmt.Errorf("object.objectType %q is not an xAPI object type", o.ObjectType)
	}
	if r.verbID == VerbVoided && r.voidedStatementID == nil {
		return errors.New("voiding statement's object is not a StatementRef")
	}
	return nil
}

func (r *row) setResult(res *resultJSON) error {
	if res == nil {
		return nil
	}
	r.resultSuccess = boolColumn(res.Success)
	r.resultCompletion = boolColumn(res.Completion)
	if sc := res.Score; sc != nil {
		r.scoreScaled, r.scoreRaw, r.scoreMin, r.scoreMax = sc.Scaled, sc.Raw, sc.Min, sc.Max
	}
	if res.Duration != "" {
		d, err := parseDuration(res.Duration)
		if err != nil {
			return fmt.Errorf("result.duration: %w", err)
		}
		r.durationS = &d
	}
	r.response = res.Response
	r.resultExtKeys = res.Extensions
	return nil
}

func (r *row) setContext(c *contextJSON) error {
	if c == nil {
		return nil
	}
	if c.Registration != "" {
		reg, err := uuid.Parse(c.Registration)
		if err != nil {
			return fmt.Errorf("context.registration %q: %w", c.Registration, err)
		}
		r.registration = &reg
	}
	r.platform = c.Platform
	r.language = c.Language
	if c.Instructor != nil {
		_, r.instructor = ifi(c.Instructor)
	}
	if c.Team != nil {
		_, r.team = ifi(c.Team)
	}
	if ca := c.ContextActivities; ca != nil {
		r.parentIDs, r.groupingIDs = ca.Parent, ca.Grouping
		r.categoryIDs, r.otherIDs = ca.Category, ca.Other
	}
	for _, a := range c.ContextAgents {
		if a.Agent != nil {
			_, v := ifi(a.Agent)
			r.contextAgents = append(r.contextAgents, v)
		}
	}
	for _, g := range c.ContextGroups {
		if g.Group != nil {
			_, v := ifi(g.Group)
			r.contextGroups = append(r.contextGroups, v)
		}
	}
	r.contextExtKeys = c.Extensions
	return nil
}

func agentKind(a *agentJSON) string {
	if a.ObjectType == "Group" {
		return "Group"
	}
	return "Agent"
}

// ifi returns the inverse functional identifier of an agent or identified
// group as (kind, value). An account's value is "homePage|name" so that one
// column identifies a learner whatever the IFI kind. Anonymous groups have
// none and return empty strings.
func ifi(a *agentJSON) (kind, value string) {
	switch {
	case a.Mbox != "":
		return "mbox", a.Mbox
	case a.MboxSHA1Sum != "":
		return "mbox_sha1sum", a.MboxSHA1Sum
	case a.OpenID != "":
		return "openid", a.OpenID
	case a.Account != nil:
		return "account", a.Account.HomePage + "|" + a.Account.Name
	}
	return "", ""
}

// authorityKey identifies the credential that sent a statement. OAuth
// authorities are anonymous two-member groups: their members' IFIs, sorted
// and comma-joined, identify them.
func authorityKey(a *agentJSON) string {
	if _, v := ifi(a); v != "" {
		return v
	}
	members := make([]string, 0, len(a.Member))
	for i := range a.Member {
		if _, v := ifi(&a.Member[i]); v != "" {
			members = append(members, v)
		}
	}
	slices.Sort(members)
	return strings.Join(members, ",")
}

func boolColumn(b *bool) *uint8 {
	if b == nil {
		return nil
	}
	var v uint8
	if *b {
		v = 1
	}
	return &v
}

// pickLanguage chooses one entry of a language map for display columns:
// en-US, then en, then the smallest tag, so that the choice is stable.
func pickLanguage(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	if v, ok := m["en-US"]; ok {
		return v
	}
	if v, ok := m["en"]; ok {
		return v
	}
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return m[first]
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("%s is missing", field)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: %w", field, v, err)
	}
	t = t.UTC()
	if t.Before(minDateTime) || t.After(maxDateTime) {
		return time.Time{}, fmt.Errorf("%s %s is outside the range ClickHouse DateTime holds (1970 to 2106)", field, v)
	}
	return t, nil
}
