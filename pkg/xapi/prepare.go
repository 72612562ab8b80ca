package xapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Assign is what the LRS sets on every statement it accepts.
type Assign struct {
	Stored      time.Time       // set as "stored" (RFC 3339, UTC, millisecond precision)
	Authority   json.RawMessage // the credential's Agent/Group; replaces/sets "authority"
	NewID       func() string   // called for statements without an id (lower-case UUID v4)
	StatementID string          // PUT: the statementId parameter; the statement's id must match it or be absent
}

// Prepared is one validated statement ready to publish and store.
type Prepared struct {
	ID          string // lower-case UUID
	JSON        []byte // the statement with id, stored, authority, version (and timestamp if absent) set
	Fingerprint string // hex SHA-256 of the canonical form under the statement comparison rules
	VoidedID    string // the id of the statement this one voids, or ""
}

const verbVoided = "http://adlnet.gov/expapi/verbs/voided"

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// PrepareStatements parses a request body holding one statement object or an
// array of them, validates each for version v, and returns them in order with
// the assigned fields set. The whole batch fails if any statement fails.
// Errors are *ValidationError.
func PrepareStatements(body []byte, v Version, a Assign) ([]Prepared, error) {
	if v != V1_0_3 && v != V2_0_0 {
		return nil, fmt.Errorf("unsupported xAPI version %q", v)
	}
	if a.NewID == nil {
		return nil, fmt.Errorf("assign: NewID is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	verr := &ValidationError{}
	if err := dec.Decode(&doc); err != nil {
		verr.add("", "body is not valid JSON: "+err.Error())
		return nil, verr
	}
	if dec.More() {
		verr.add("", "body holds more than one JSON value")
		return nil, verr
	}
	var stmts []any
	prefix := ""
	isArray := false
	switch d := doc.(type) {
	case []any:
		stmts, isArray = d, true
		if len(d) == 0 {
			verr.add("", "statement array is empty")
			return nil, verr
		}
	case map[string]any:
		stmts = []any{d}
	default:
		verr.add("", "body must be a statement object or an array of statements")
		return nil, verr
	}
	if a.StatementID != "" && (isArray || !uuidRE.MatchString(a.StatementID)) {
		verr.add("", "PUT takes one statement and a UUID statementId")
		return nil, verr
	}
	out := make([]Prepared, 0, len(stmts))
	seen := map[string]int{}
	stored := a.Stored.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	for i, s := range stmts {
		if isArray {
			prefix = "/" + indexToken(i)
		}
		m, ok := s.(map[string]any)
		if !ok {
			verr.add(prefix, "a statement must be a JSON object")
			continue
		}
		w := walker{v: v, err: verr}
		w.statement(prefix, m, false)
		id, _ := m["id"].(string)
		if a.StatementID != "" {
			if id != "" && !strings.EqualFold(id, a.StatementID) {
				verr.add(prefix+"/id", "must equal the statementId parameter")
			}
			id = a.StatementID
		}
		if id == "" {
			id = a.NewID()
		}
		id = strings.ToLower(id)
		if j, dup := seen[id]; dup {
			verr.add(prefix+"/id", fmt.Sprintf("the same id is used by statement %d of this batch", j))
		}
		seen[id] = i
		if len(verr.Errors) > 0 {
			continue
		}
		fp := fingerprint(m)
		m["id"] = id
		m["stored"] = stored
		if len(a.Authority) > 0 {
			m["authority"] = a.Authority
		}
		if _, ok := m["version"]; !ok {
			m["version"] = defaultVersion(v)
		}
		if _, ok := m["timestamp"]; !ok {
			m["timestamp"] = stored
		}
		js, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode statement %d: %w", i, err)
		}
		p := Prepared{ID: id, JSON: js, Fingerprint: fp}
		if vb, _ := m["verb"].(map[string]any); vb != nil && vb["id"] == verbVoided {
			if o, _ := m["object"].(map[string]any); o != nil {
				ref, _ := o["id"].(string)
				p.VoidedID = strings.ToLower(ref)
			}
		}
		out = append(out, p)
	}
	if len(verr.Errors) > 0 {
		return nil, verr
	}
	return out, nil
}

// defaultVersion is the "version" set on statements sent without one: 1.0.x
// requires "1.0.0" (Data 2.4.10), 2.0 the version it was accepted with.
func defaultVersion(v Version) string {
	if v == V2_0_0 {
		return "2.0.0"
	}
	return "1.0.0"
}

// fingerprint hashes the properties the comparison rules look at: everything
// but id, stored, authority and version, with contextActivities as arrays.
func fingerprint(m map[string]any) string {
	c := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "id", "stored", "authority", "version":
			continue
		}
		c[k] = v
	}
	if ctx, ok := c["context"].(map[string]any); ok {
		c["context"] = normalizeContext(ctx)
	}
	if ts, ok := c["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			c["timestamp"] = t.UTC().Format(time.RFC3339Nano)
		}
	}
	js, _ := json.Marshal(c)
	sum := sha256.Sum256(js)
	return hex.EncodeToString(sum[:])
}

func normalizeContext(ctx map[string]any) map[string]any {
	ca, ok := ctx["contextActivities"].(map[string]any)
	if !ok {
		return ctx
	}
	n := make(map[string]any, len(ctx))
	for k, v := range ctx {
		n[k] = v
	}
	na := make(map[string]any, len(ca))
	for k, v := range ca {
		if _, isArr := v.([]any); !isArr {
			v = []any{v}
		}
		na[k] = v
	}
	n["contextActivities"] = na
	return n
}

type walker struct {
	v   Version
	err *ValidationError
}

func (w walker) fail(p, rule string) { w.err.add(p, rule) }

func (w walker) statement(p string, m map[string]any, sub bool) {
	allowed := []string{"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments"}
	if sub {
		allowed = []string{"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
	}
	w.onlyKeys(p, m, allowed)
	if id, ok := m["id"]; ok {
		if s, ok := id.(string); !ok || !uuidRE.MatchString(s) {
			w.fail(p+"/id", "must be a UUID string")
		}
	}
	for _, k := range []string{"actor", "verb", "object"} {
		if _, ok := m[k]; !ok {
			w.fail(p+"/"+k, "is required")
		}
	}
	if a, ok := m["actor"]; ok {
		w.agentOrGroup(p+"/actor", a)
	}
	if vb, ok := m["verb"]; ok {
		w.verb(p+"/verb", vb)
	}
	if o, ok := m["object"]; ok {
		w.object(p+"/object", o, sub)
	}
	if ts, ok := m["timestamp"]; ok {
		w.timestamp(p+"/timestamp", ts)
	}
	if ver, ok := m["version"]; ok {
		s, _ := ver.(string)
		if !versionAccepted(w.v, s) {
			w.fail(p+"/version", "must be 1.0 or 1.0.x"+map[bool]string{true: ", or 2.0 or 2.0.x", false: ""}[w.v == V2_0_0])
		}
	}
	if vb, _ := m["verb"].(map[string]any); vb != nil && vb["id"] == verbVoided && !sub {
		o, _ := m["object"].(map[string]any)
		if o == nil || o["objectType"] != "StatementRef" {
			w.fail(p+"/object", "a voiding statement's object must be a StatementRef")
		}
	}
}

func versionAccepted(v Version, s string) bool {
	if s == "1.0" || (strings.HasPrefix(s, "1.0.") && isDigits(s[4:])) {
		return true
	}
	return v == V2_0_0 && (s == "2.0" || (strings.HasPrefix(s, "2.0.") && isDigits(s[4:])))
}

func (w walker) onlyKeys(p string, m map[string]any, allowed []string) {
	for k := range m {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			w.fail(p+"/"+escapePointerToken(k), "is not a property the xAPI specification allows here")
		}
	}
}

func (w walker) timestamp(p string, v any) {
	s, ok := v.(string)
	if !ok {
		w.fail(p, "must be an ISO 8601 timestamp string")
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		w.fail(p, "must be an RFC 3339 timestamp, e.g. 2024-05-01T12:00:00.000Z")
		return
	}
	if w.v == V2_0_0 && (strings.HasSuffix(s, "-00:00") || strings.HasSuffix(s, "-0000") || strings.HasSuffix(s, "-00")) {
		w.fail(p, "the offset -00:00 is not allowed: use Z")
	}
}

func (w walker) iri(p string, v any) {
	s, ok := v.(string)
	if !ok {
		w.fail(p, "must be an IRI string")
		return
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		w.fail(p, "must be an absolute IRI (with a scheme, e.g. https://)")
	}
}

func (w walker) verb(p string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		w.fail(p, "must be a Verb object")
		return
	}
	w.onlyKeys(p, m, []string{"id", "display"})
	if id, ok := m["id"]; ok {
		w.iri(p+"/id", id)
	} else {
		w.fail(p+"/id", "is required")
	}
	if d, ok := m["display"]; ok {
		w.languageMap(p+"/display", d)
	}
}

func (w walker) languageMap(p string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		w.fail(p, "must be a language map object")
		return
	}
	for k, val := range m {
		if _, ok := val.(string); !ok {
			w.fail(p+"/"+escapePointerToken(k), "must be a string")
		}
	}
}

func (w walker) agentOrGroup(p string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		w.fail(p, "must be an Agent or Group object")
		return
	}
	ot, _ := m["objectType"].(string)
	if ot == "Group" {
		w.onlyKeys(p, m, []string{"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member"})
		n := w.ifis(p, m, true)
		mem, hasMembers := m["member"]
		if n == 0 && !hasMembers {
			w.fail(p+"/member", "an anonymous Group must list its members")
		}
		if hasMembers {
			arr, ok := mem.([]any)
			if !ok {
				w.fail(p+"/member", "must be an array of Agents")
			}
			for i, a := range arr {
				am, _ := a.(map[string]any)
				if am != nil && am["objectType"] == "Group" {
					w.fail(p+"/member/"+indexToken(i), "a Group member must be an Agent")
					continue
				}
				w.agentOrGroup(p+"/member/"+indexToken(i), a)
			}
		}
		return
	}
	if _, ok := m["objectType"]; ok && ot != "Agent" {
		w.fail(p+"/objectType", `must be "Agent" or "Group"`)
	}
	w.onlyKeys(p, m, []string{"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
	if w.ifis(p, m, false) != 1 {
		w.fail(p, "an Agent needs exactly one of mbox, mbox_sha1sum, openid, account")
	}
}

var sha1RE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

func (w walker) ifis(p string, m map[string]any, group bool) int {
	n := 0
	if v, ok := m["mbox"]; ok {
		n++
		s, _ := v.(string)
		if !strings.HasPrefix(s, "mailto:") {
			w.fail(p+"/mbox", "must be a mailto: IRI")
		} else if _, err := mail.ParseAddress(s[len("mailto:"):]); err != nil {
			w.fail(p+"/mbox", "must be a mailto: IRI with a valid address")
		}
	}
	if v, ok := m["mbox_sha1sum"]; ok {
		n++
		s, _ := v.(string)
		if !sha1RE.MatchString(s) {
			w.fail(p+"/mbox_sha1sum", "must be a 40-digit hex SHA-1")
		}
	}
	if v, ok := m["openid"]; ok {
		n++
		w.iri(p+"/openid", v)
	}
	if v, ok := m["account"]; ok {
		n++
		a, ok := v.(map[string]any)
		if !ok {
			w.fail(p+"/account", "must be an object with homePage and name")
		} else {
			w.onlyKeys(p+"/account", a, []string{"homePage", "name"})
			if hp, ok := a["homePage"]; ok {
				w.iri(p+"/account/homePage", hp)
			} else {
				w.fail(p+"/account/homePage", "is required")
			}
			if nm, ok := a["name"].(string); !ok || nm == "" {
				w.fail(p+"/account/name", "is required and must be a string")
			}
		}
	}
	if group && n > 1 {
		w.fail(p, "an identified Group needs exactly one of mbox, mbox_sha1sum, openid, account")
	}
	return n
}

func (w walker) object(p string, v any, inSub bool) {
	m, ok := v.(map[string]any)
	if !ok {
		w.fail(p, "must be an object")
		return
	}
	ot, _ := m["objectType"].(string)
	switch ot {
	case "", "Activity":
		w.onlyKeys(p, m, []string{"objectType", "id", "definition"})
		if id, ok := m["id"]; ok {
			w.iri(p+"/id", id)
		} else {
			w.fail(p+"/id", "is required")
		}
	case "Agent", "Group":
		w.agentOrGroup(p, m)
	case "StatementRef":
		w.onlyKeys(p, m, []string{"objectType", "id"})
		if s, ok := m["id"].(string); !ok || !uuidRE.MatchString(s) {
			w.fail(p+"/id", "must be a UUID string")
		}
	case "SubStatement":
		if inSub {
			w.fail(p+"/objectType", "a SubStatement cannot contain a SubStatement")
			return
		}
		w.statement(p, m, true)
	default:
		w.fail(p+"/objectType", "must be Activity, Agent, Group, StatementRef or SubStatement")
	}
}
