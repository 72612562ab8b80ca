package analytics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
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
	source               string
	originalStored       *int64 // NULL when the statement had none
	originalStoredMS     uint16
	json                 []byte // the caller's statement JSON, not copied
	// month is the partition (toYYYYMM(timestamp)) the row lands in.
	month int
}

// flattener parses statements with a reusable fastjson parser: JSON
// decoding is most of the cost of an insert, and fastjson decodes without
// allocating per value (encoding/json managed about 40k statements/s per
// core here, a third of the target). One flattener per goroutine.
type flattener struct {
	p fastjson.Parser
}

// flatten turns one statement into a row. An error means the statement can
// never be written (it is not a statement the LRS could have accepted).
func (f *flattener) flatten(s Statement) (row, error) {
	var r row
	if s.Tenant == "" {
		return r, errors.New("tenant is empty")
	}
	st, err := f.p.ParseBytes(s.JSON)
	if err != nil {
		return r, fmt.Errorf("statement JSON: %w", err)
	}
	if st.Type() != fastjson.TypeObject {
		return r, errors.New("statement JSON is not an object")
	}
	idText, err := str(st, "id")
	if err != nil {
		return r, err
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return r, fmt.Errorf("id %q: %w", idText, err)
	}
	actor := st.Get("actor")
	if actor == nil || actor.Type() != fastjson.TypeObject {
		return r, errors.New("actor is missing")
	}
	verbID, err := str(st, "verb", "id")
	if err != nil || verbID == "" {
		return r, errors.New("verb.id is missing")
	}
	object := st.Get("object")
	if object == nil || object.Type() != fastjson.TypeObject {
		return r, errors.New("object is missing")
	}
	ts, err := parseTime(st, "timestamp")
	if err != nil {
		return r, err
	}
	stored, err := parseTime(st, "stored")
	if err != nil {
		return r, err
	}
	version, err := str(st, "version")
	if err != nil {
		return r, err
	}
	verbDisplay, err := pickLanguage(st.Get("verb", "display"))
	if err != nil {
		return r, fmt.Errorf("verb.display: %w", err)
	}

	r = row{
		tenant:      s.Tenant,
		statementID: id,
		timestamp:   ts.Unix(),
		timestampMS: uint16(ts.Nanosecond() / int(time.Millisecond)),
		stored:      stored.Unix(),
		storedMS:    uint16(stored.Nanosecond() / int(time.Millisecond)),
		month:       ts.Year()*100 + int(ts.Month()),
		verbID:      verbID,
		verbDisplay: verbDisplay,
		version:     version,
		source:      s.Source,
		json:        s.JSON,
	}
	// An original stored time DateTime cannot hold stays NULL: it is no
	// reason to keep the statement out of ClickHouse.
	if t := s.OriginalStored; !t.IsZero() && !t.Before(minDateTime) && !t.After(maxDateTime) {
		sec := t.Unix()
		r.originalStored, r.originalStoredMS = &sec, uint16(t.Nanosecond()/int(time.Millisecond))
	}

	if r.actorKind, err = agentKind(actor); err != nil {
		return r, fmt.Errorf("actor: %w", err)
	}
	if r.actorIFIKind, r.actorIFI, err = ifi(actor); err != nil {
		return r, fmt.Errorf("actor: %w", err)
	}
	if r.actorName, err = str(actor, "name"); err != nil {
		return r, fmt.Errorf("actor: %w", err)
	}
	if r.actorIFIKind == "account" {
		r.actorAccountHomePage, _ = str(actor, "account", "homePage")
		r.actorAccountName, _ = str(actor, "account", "name")
	}

	if err := r.setObject(object); err != nil {
		return r, err
	}
	if err := r.setResult(st.Get("result")); err != nil {
		return r, fmt.Errorf("result: %w", err)
	}
	if err := r.setContext(st.Get("context")); err != nil {
		return r, fmt.Errorf("context: %w", err)
	}
	if a := st.Get("authority"); a != nil {
		if r.authority, err = authorityKey(a); err != nil {
			return r, fmt.Errorf("authority: %w", err)
		}
	}
	return r, nil
}

func (r *row) setObject(o *fastjson.Value) error {
	var err error
	if r.objectKind, err = str(o, "objectType"); err != nil {
		return fmt.Errorf("object: %w", err)
	}
	if r.objectKind == "" {
		r.objectKind = "Activity"
	}
	switch r.objectKind {
	case "Activity":
		if r.objectID, err = str(o, "id"); err != nil {
			return fmt.Errorf("object: %w", err)
		}
		if d := o.Get("definition"); d != nil {
			if r.objectType, err = str(d, "type"); err != nil {
				return fmt.Errorf("object.definition: %w", err)
			}
			if r.objectName, err = pickLanguage(d.Get("name")); err != nil {
				return fmt.Errorf("object.definition.name: %w", err)
			}
			if r.objectExtKeys, err = extensionKeys(d.Get("extensions")); err != nil {
				return fmt.Errorf("object.definition.extensions: %w", err)
			}
		}
	case "Agent", "Group":
		if _, r.objectID, err = ifi(o); err != nil {
			return fmt.Errorf("object: %w", err)
		}
		if r.objectName, err = str(o, "name"); err != nil {
			return fmt.Errorf("object: %w", err)
		}
	case "StatementRef":
		ref, _ := str(o, "id")
		target, err := uuid.Parse(ref)
		if err != nil {
			return fmt.Errorf("object.id of StatementRef %q: %w", ref, err)
		}
		r.objectID = target.String()
		if r.verbID == VerbVoided {
			r.voidedStatementID = &target
		}
	case "SubStatement":
		// A SubStatement has no id; its content stays in statement_json.
	default:
		return fmt.Errorf("object.objectType %q is not an xAPI object type", r.objectKind)
	}
	if r.verbID == VerbVoided && r.voidedStatementID == nil {
		return errors.New("voiding statement's object is not a StatementRef")
	}
	return nil
}

func (r *row) setResult(res *fastjson.Value) error {
	if res == nil {
		return nil
	}
	var err error
	if r.resultSuccess, err = optBool(res, "success"); err != nil {
		return err
	}
	if r.resultCompletion, err = optBool(res, "completion"); err != nil {
		return err
	}
	for _, sc := range []struct {
		key string
		dst **float64
	}{{"scaled", &r.scoreScaled}, {"raw", &r.scoreRaw}, {"min", &r.scoreMin}, {"max", &r.scoreMax}} {
		if *sc.dst, err = optFloat(res, "score", sc.key); err != nil {
			return err
		}
	}
	if res.Get("duration") != nil {
		text, err := str(res, "duration")
		if err != nil {
			return err
		}
		d, err := parseDuration(text)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		r.durationS = &d
	}
	if res.Get("response") != nil {
		resp, err := str(res, "response")
		if err != nil {
			return err
		}
		r.response = &resp
	}
	if r.resultExtKeys, err = extensionKeys(res.Get("extensions")); err != nil {
		return fmt.Errorf("extensions: %w", err)
	}
	return nil
}

func (r *row) setContext(c *fastjson.Value) error {
	if c == nil {
		return nil
	}
	var err error
	if c.Get("registration") != nil {
		text, err := str(c, "registration")
		if err != nil {
			return err
		}
		reg, err := uuid.Parse(text)
		if err != nil {
			return fmt.Errorf("registration %q: %w", text, err)
		}
		r.registration = &reg
	}
	if r.platform, err = str(c, "platform"); err != nil {
		return err
	}
	if r.language, err = str(c, "language"); err != nil {
		return err
	}
	if a := c.Get("instructor"); a != nil {
		if _, r.instructor, err = ifi(a); err != nil {
			return fmt.Errorf("instructor: %w", err)
		}
	}
	if a := c.Get("team"); a != nil {
		if _, r.team, err = ifi(a); err != nil {
			return fmt.Errorf("team: %w", err)
		}
	}
	if ca := c.Get("contextActivities"); ca != nil {
		for _, l := range []struct {
			key string
			dst *[]string
		}{{"parent", &r.parentIDs}, {"grouping", &r.groupingIDs}, {"category", &r.categoryIDs}, {"other", &r.otherIDs}} {
			if *l.dst, err = activityIDs(ca.Get(l.key)); err != nil {
				return fmt.Errorf("contextActivities.%s: %w", l.key, err)
			}
		}
	}
	if r.contextAgents, err = memberIFIs(c.Get("contextAgents"), "agent"); err != nil {
		return fmt.Errorf("contextAgents: %w", err)
	}
	if r.contextGroups, err = memberIFIs(c.Get("contextGroups"), "group"); err != nil {
		return fmt.Errorf("contextGroups: %w", err)
	}
	if r.contextExtKeys, err = extensionKeys(c.Get("extensions")); err != nil {
		return fmt.Errorf("extensions: %w", err)
	}
	return nil
}

// str reads an optional string member: absent is "", another type is an
// error.
func str(v *fastjson.Value, keys ...string) (string, error) {
	m := v.Get(keys...)
	if m == nil {
		return "", nil
	}
	b, err := m.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(keys, "."), err)
	}
	return string(b), nil
}

func optBool(v *fastjson.Value, key string) (*uint8, error) {
	m := v.Get(key)
	if m == nil {
		return nil, nil
	}
	b, err := m.Bool()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var u uint8
	if b {
		u = 1
	}
	return &u, nil
}

func optFloat(v *fastjson.Value, keys ...string) (*float64, error) {
	m := v.Get(keys...)
	if m == nil {
		return nil, nil
	}
	f, err := m.Float64()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(keys, "."), err)
	}
	return &f, nil
}

// extensionKeys keeps only the sorted keys of an extensions object: the
// values can be anything and stay queryable in statement_json.
func extensionKeys(v *fastjson.Value) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, o.Len())
	o.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, string(k)) })
	slices.Sort(keys)
	return keys, nil
}

// activityIDs reads a contextActivities member, which xAPI 1.0.0 allowed to
// be a single activity instead of an array.
func activityIDs(v *fastjson.Value) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if v.Type() == fastjson.TypeObject {
		id, err := str(v, "id")
		return []string{id}, err
	}
	list, err := v.Array()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, a := range list {
		if ids[i], err = str(a, "id"); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// memberIFIs reads the IFIs of xAPI 2.0 contextAgents/contextGroups, whose
// entries wrap the agent or group in the member named key.
func memberIFIs(v *fastjson.Value, key string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, err := v.Array()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		a := e.Get(key)
		if a == nil {
			continue
		}
		_, id, err := ifi(a)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func agentKind(a *fastjson.Value) (string, error) {
	kind, err := str(a, "objectType")
	if kind == "Group" {
		return "Group", err
	}
	return "Agent", err
}

// ifi returns the inverse functional identifier of an agent or identified
// group as (kind, value). An account's value is "homePage|name" so that one
// column identifies a learner whatever the IFI kind. Anonymous groups have
// none and return empty strings.
func ifi(a *fastjson.Value) (kind, value string, err error) {
	if a.Type() != fastjson.TypeObject {
		return "", "", errors.New("agent is not an object")
	}
	for _, k := range []string{"mbox", "mbox_sha1sum", "openid"} {
		v, err := str(a, k)
		if err != nil || v != "" {
			return k, v, err
		}
	}
	if a.Get("account") != nil {
		home, err := str(a, "account", "homePage")
		if err != nil {
			return "", "", err
		}
		name, err := str(a, "account", "name")
		return "account", home + "|" + name, err
	}
	return "", "", nil
}

// authorityKey identifies the credential that sent a statement. OAuth
// authorities are anonymous two-member groups: their members' IFIs, sorted
// and comma-joined, identify them.
func authorityKey(a *fastjson.Value) (string, error) {
	_, v, err := ifi(a)
	if err != nil || v != "" {
		return v, err
	}
	var members []string
	if m := a.Get("member"); m != nil {
		list, err := m.Array()
		if err != nil {
			return "", fmt.Errorf("member: %w", err)
		}
		for _, agent := range list {
			_, id, err := ifi(agent)
			if err != nil {
				return "", fmt.Errorf("member: %w", err)
			}
			if id != "" {
				members = append(members, id)
			}
		}
	}
	slices.Sort(members)
	return strings.Join(members, ","), nil
}

// pickLanguage chooses one entry of a language map for display columns:
// en-US, then en, then the smallest tag, so that the choice is stable.
func pickLanguage(v *fastjson.Value) (string, error) {
	if v == nil {
		return "", nil
	}
	o, err := v.Object()
	if err != nil {
		return "", err
	}
	var best []byte
	var bestValue *fastjson.Value
	rank := func(tag []byte) int {
		switch string(tag) {
		case "en-US":
			return 0
		case "en":
			return 1
		}
		return 2
	}
	o.Visit(func(k []byte, val *fastjson.Value) {
		if bestValue == nil || rank(k) < rank(best) || (rank(k) == rank(best) && string(k) < string(best)) {
			best, bestValue = k, val
		}
	})
	if bestValue == nil {
		return "", nil
	}
	b, err := bestValue.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: %w", best, err)
	}
	return string(b), nil
}

func parseTime(st *fastjson.Value, field string) (time.Time, error) {
	v, err := str(st, field)
	if err != nil {
		return time.Time{}, err
	}
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
