package xapi

import (
	"bytes"
	"slices"
	"strconv"
)

// checker validates statements in a parsed document. It carries the JSON
// pointer of the value being checked as a stack of node indices, so a
// pointer string is only built when a rule is broken.
type checker struct {
	d      *document
	v      Version
	prefix int // index of the statement in a batch; -1 for a lone statement
	path   []pathElem
	errs   []FieldError
	more   bool // errors were dropped after MaxFieldErrors
	keyBuf []byte
	valBuf []byte
	spans  []uint32 // scratch for duplicate detection
}

type pathElem struct {
	key   uint32 // node index of the member name; 0 when index is used
	index int
}

// What the spec calls each object, for messages.
const (
	inStatement    = "a Statement"
	inSubStatement = "a SubStatement"
)

func (c *checker) reset(d *document, v Version) {
	c.d, c.v = d, v
	c.prefix = -1
	c.path = c.path[:0]
	c.errs = c.errs[:0]
	c.more = false
}

func (c *checker) enter(value uint32) { c.path = append(c.path, pathElem{key: value - 1}) }
func (c *checker) enterIndex(i int)   { c.path = append(c.path, pathElem{index: i}) }
func (c *checker) leave()             { c.path = c.path[:len(c.path)-1] }

// pointer renders the current path (plus an optional child name) as an
// RFC 6901 JSON pointer relative to the request body.
func (c *checker) pointer(child string) string {
	var b []byte
	if c.prefix >= 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(c.prefix), 10)
	}
	for _, e := range c.path {
		b = append(b, '/')
		if e.key != 0 {
			b = appendPointerToken(b, c.d.text(e.key, nil))
		} else {
			b = strconv.AppendInt(b, int64(e.index), 10)
		}
	}
	if child != "" {
		b = append(b, '/')
		b = appendPointerToken(b, []byte(child))
	}
	return string(b)
}

func appendPointerToken(b, tok []byte) []byte {
	for _, ch := range tok {
		switch ch {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, ch)
		}
	}
	return b
}

func (c *checker) failChild(child, rule string) {
	if len(c.errs) >= MaxFieldErrors {
		c.more = true
		return
	}
	c.errs = append(c.errs, FieldError{Pointer: c.pointer(child), Rule: rule})
}

func (c *checker) fail(rule string) { c.failChild("", rule) }

// failAt reports a rule broken by the member whose value is node v.
func (c *checker) failAt(v uint32, rule string) {
	c.enter(v)
	c.fail(rule)
	c.leave()
}

func (c *checker) kind(v uint32) kind { return c.d.nodes[v].kind }

// want reports whether v has kind k, recording rule otherwise.
func (c *checker) want(v uint32, k kind, rule string) bool {
	if c.kind(v) == k {
		return true
	}
	if c.kind(v) == kindNull {
		rule += ", not null (null is only allowed inside extensions)"
	}
	c.fail(rule)
	return false
}

// keyText returns a member name, unescaped into the checker's own buffer
// when needed (never into the caller's body).
func (c *checker) keyText(k uint32) []byte {
	if c.d.nodes[k].escaped {
		c.keyBuf = c.d.text(k, c.keyBuf)
		return c.keyBuf
	}
	return c.d.raw(k)
}

func (c *checker) valText(v uint32) []byte {
	if c.d.nodes[v].escaped {
		c.valBuf = c.d.text(v, c.valBuf)
		return c.valBuf
	}
	return c.d.raw(v)
}

// member returns the value node of o's first member called name, or 0.
func (c *checker) member(o uint32, name string) uint32 {
	d := c.d
	end := d.nodes[o].next
	for k := o + 1; k < end; k = d.nodes[k+1].next {
		if string(c.keyText(k)) == name {
			return k + 1
		}
	}
	return 0
}

// fields maps the members of object o onto slots (value node indices) by
// name and reports members the spec does not allow there and members given
// twice (Data 2.2: a property is used at most once).
func (c *checker) fields(o uint32, names []string, slots []uint32, where string) {
	d := c.d
	end := d.nodes[o].next
	for k := o + 1; k < end; k = d.nodes[k+1].next {
		name := c.keyText(k)
		found := -1
		for i, n := range names {
			if string(name) == n {
				found = i
				break
			}
		}
		switch {
		case found < 0:
			c.failAt(k+1, "is not a property the xAPI specification allows in "+where)
		case slots[found] != 0:
			c.failAt(k+1, "appears more than once in "+where)
		default:
			slots[found] = k + 1
		}
	}
}

// str checks that v is a string and returns its value.
func (c *checker) str(v uint32, rule string) ([]byte, bool) {
	if !c.want(v, kindString, rule) {
		return nil, false
	}
	return c.valText(v), true
}

// iriKind names what an IRI-valued property holds, for messages.
type iriKind uint8

const (
	anIRI iriKind = iota
	anIRL
	aURI
)

var iriRules = [...]struct{ typ, format string }{
	anIRI: {"must be a string holding an IRI", "must be an IRI: absolute, with a scheme (e.g. https://example.com/path), without spaces"},
	anIRL: {"must be a string holding an IRL", "must be an IRL: absolute, with a scheme (e.g. https://example.com/path), without spaces"},
	aURI:  {"must be a string holding a URI", "must be a URI: absolute, with a scheme (e.g. https://example.com/path), without spaces"},
}

func (c *checker) iri(v uint32, k iriKind) {
	if s, ok := c.str(v, iriRules[k].typ); ok && !validIRI(s) {
		c.fail(iriRules[k].format)
	}
}

func (c *checker) uuid(v uint32) {
	if s, ok := c.str(v, "must be a UUID string"); ok && !validUUID(s) {
		c.fail("must be a UUID in standard form, e.g. 3bc2e4a1-6d6f-4c6e-9a9b-0123456789ab")
	}
}

func (c *checker) boolean(v uint32) {
	k := c.kind(v)
	if k != kindTrue && k != kindFalse {
		c.want(v, kindTrue, "must be true or false")
	}
}

// number checks a number node and reads it exactly. Numbers beyond the
// float64 range are rejected: stores and analytics keep them as floats.
func (c *checker) number(v uint32) (decimal, bool) {
	if !c.want(v, kindNumber, "must be a number") {
		return decimal{}, false
	}
	raw := c.d.raw(v)
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		c.fail("must be a number within the range of a 64-bit float")
		return decimal{}, false
	}
	return parseDecimal(raw), true
}

func (c *checker) plainString(v uint32) { c.want(v, kindString, "must be a string") }

// languageMap checks a language map: RFC 5646 tags as keys, strings as
// values, no tag twice.
func (c *checker) languageMap(v uint32) {
	if !c.want(v, kindObject, "must be a language map: an object from RFC 5646 language tags to strings") {
		return
	}
	d := c.d
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		if !validLanguageTag(c.keyText(k)) {
			c.failAt(k+1, "is not a valid RFC 5646 language tag (e.g. en, en-US, zh-Hant-TW)")
		}
		c.enter(k + 1)
		c.plainString(k + 1)
		c.leave()
	}
	c.duplicateKeys(v)
}

// extensions checks an extensions map: IRI keys, any values (Data 4.1: an
// LRS must not reject a statement for its extension values).
func (c *checker) extensions(v uint32) {
	if !c.want(v, kindObject, "must be an object whose keys are IRIs") {
		return
	}
	d := c.d
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		if !validIRI(c.keyText(k)) {
			c.failAt(k+1, "is not a valid extension key: extension keys must be absolute IRIs")
		}
	}
	c.duplicateKeys(v)
}

// duplicateKeys reports keys used twice in a map-like object (language
// maps, extensions) whose keys are not fixed by the spec.
func (c *checker) duplicateKeys(o uint32) {
	d := c.d
	if d.nodes[o].count < 2 {
		return
	}
	end := d.nodes[o].next
	keys := c.spans[:0]
	for k := o + 1; k < end; k = d.nodes[k+1].next {
		keys = append(keys, k)
	}
	c.spans = keys
	for _, k := range c.duplicates(keys) {
		c.failAt(k+1, "appears more than once")
	}
}

// duplicates returns the string nodes among idx whose value equals that of
// an earlier one. Small lists compare pairwise; large ones are sorted so
// that hostile input cannot make this quadratic.
func (c *checker) duplicates(idx []uint32) []uint32 {
	d := c.d
	var dups []uint32
	if len(idx) <= 16 {
		for i := 1; i < len(idx); i++ {
			for j := 0; j < i; j++ {
				if d.equalStrings(idx[i], idx[j]) {
					dups = append(dups, idx[i])
					break
				}
			}
		}
		return dups
	}
	sorted := slices.Clone(idx)
	slices.SortStableFunc(sorted, d.compareStrings)
	for i := 1; i < len(sorted); i++ {
		if d.compareStrings(sorted[i-1], sorted[i]) == 0 {
			dups = append(dups, sorted[i])
		}
	}
	return dups
}

func (d *document) equalStrings(a, b uint32) bool {
	na, nb := &d.nodes[a], &d.nodes[b]
	if !na.escaped && !nb.escaped {
		return bytes.Equal(d.raw(a), d.raw(b))
	}
	return d.compareStrings(a, b) == 0
}

func (d *document) compareStrings(a, b uint32) int {
	na, nb := &d.nodes[a], &d.nodes[b]
	if !na.escaped && !nb.escaped {
		return bytes.Compare(d.raw(a), d.raw(b))
	}
	return bytes.Compare(d.text(a, nil), d.text(b, nil))
}

// Statement members, in the order they are checked.
var statementFields = []string{"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version", "attachments", "objectType"}

const (
	fID = iota
	fActor
	fVerb
	fObject
	fResult
	fContext
	fTimestamp
	fStored
	fAuthority
	fVersion
	fAttachments
	fObjectType
	nStatementFields
)

// stmtInfo is what validation learns about a top-level statement that
// assigning and canonicalizing need.
type stmtInfo struct {
	f         [nStatementFields]uint32
	voidedRef uint32 // the StatementRef id node a voiding statement targets
}

type objectKind uint8

const (
	objInvalid objectKind = iota
	objActivity
	objAgent
	objGroup
	objStatementRef
	objSubStatement
)

const verbVoided = "http://adlnet.gov/expapi/verbs/voided"

// statement validates a Statement (or a SubStatement when sub) at node o.
func (c *checker) statement(o uint32, sub bool, info *stmtInfo) {
	where := inStatement
	if sub {
		where = inSubStatement
	}
	if !c.want(o, kindObject, "must be a Statement object") {
		return
	}
	f := &info.f
	c.fields(o, statementFields, f[:], where)
	if sub {
		for _, i := range [...]int{fID, fStored, fAuthority, fVersion} {
			if f[i] != 0 {
				c.failAt(f[i], "a SubStatement must not have id, stored, version or authority")
			}
		}
	} else if f[fObjectType] != 0 {
		c.failAt(f[fObjectType], "is not a property the xAPI specification allows in a Statement")
	}
	for _, r := range [...]struct {
		i    int
		name string
	}{{fActor, "actor"}, {fVerb, "verb"}, {fObject, "object"}} {
		if f[r.i] == 0 {
			c.failChild(r.name, "is required: every Statement has an actor, a verb and an object")
		}
	}
	if v := f[fID]; v != 0 && !sub {
		c.enter(v)
		c.uuid(v)
		c.leave()
	}
	if v := f[fActor]; v != 0 {
		c.enter(v)
		c.agentOrGroup(v, roleActor)
		c.leave()
	}
	voidedVerb := false
	if v := f[fVerb]; v != 0 {
		c.enter(v)
		voidedVerb = c.verb(v)
		c.leave()
	}
	obj := objInvalid
	if v := f[fObject]; v != 0 {
		c.enter(v)
		obj = c.object(v, sub)
		c.leave()
	}
	if voidedVerb && !sub {
		if f[fObject] != 0 && obj != objStatementRef {
			c.failAt(f[fObject], `a voiding Statement (verb `+verbVoided+`) must have a StatementRef object naming the statement it voids`)
		} else if obj == objStatementRef {
			info.voidedRef = c.member(f[fObject], "id")
		}
	}
	if v := f[fResult]; v != 0 {
		c.enter(v)
		c.result(v)
		c.leave()
	}
	if v := f[fContext]; v != 0 {
		c.enter(v)
		c.context(v, obj == objActivity || obj == objInvalid)
		c.leave()
	}
	if v := f[fTimestamp]; v != 0 {
		c.enter(v)
		c.timestamp(v)
		c.leave()
	}
	if v := f[fStored]; v != 0 && !sub {
		c.enter(v)
		c.timestamp(v)
		c.leave()
	}
	if v := f[fAuthority]; v != 0 && !sub {
		c.enter(v)
		c.agentOrGroup(v, roleAuthority)
		c.leave()
	}
	if v := f[fVersion]; v != 0 && !sub {
		c.enter(v)
		if s, ok := c.str(v, "must be a version string"); ok && !validVersion(s, c.v) {
			if c.v == V2_0_0 {
				c.fail(`must be "1.0", "1.0.x", "2.0" or "2.0.x"`)
			} else {
				c.fail(`must be "1.0" or "1.0.x" (2.0 statements need X-Experience-API-Version: 2.0.0)`)
			}
		}
		c.leave()
	}
	if v := f[fAttachments]; v != 0 {
		c.enter(v)
		c.attachments(v)
		c.leave()
	}
}

func (c *checker) timestamp(v uint32) {
	s, ok := c.str(v, "must be a timestamp string")
	if !ok {
		return
	}
	if _, ok := parseTimestamp(s, c.v); !ok {
		if c.v == V2_0_0 {
			c.fail("must be an RFC 3339 timestamp, e.g. 2024-05-01T12:30:00.000Z or 2024-05-01T14:30:00.000+02:00 (offsets -00:00, -00 and -0000 are not allowed)")
		} else {
			c.fail("must be an ISO 8601 timestamp, e.g. 2024-05-01T12:30:00.000Z (offsets -00:00, -00 and -0000 are not allowed)")
		}
	}
}

var verbFields = []string{"id", "display"}

// verb checks a Verb and reports whether it is the voiding verb.
func (c *checker) verb(v uint32) bool {
	if !c.want(v, kindObject, "must be a Verb object with an id") {
		return false
	}
	var f [2]uint32
	c.fields(v, verbFields, f[:], "a Verb")
	voided := false
	if f[0] == 0 {
		c.failChild("id", "is required: a Verb is identified by an IRI")
	} else {
		c.enter(f[0])
		c.iri(f[0], anIRI)
		voided = c.kind(f[0]) == kindString && string(c.valText(f[0])) == verbVoided
		c.leave()
	}
	if f[1] != 0 {
		c.enter(f[1])
		c.languageMap(f[1])
		c.leave()
	}
	return voided
}

type actorRole uint8

const (
	roleActor     actorRole = iota // Agent or Group, objectType optional
	roleObject                     // Agent or Group as a Statement's object: objectType required
	roleAgent                      // only an Agent (Group member, contextAgent)
	roleGroup                      // only a Group (team, contextGroup)
	roleAuthority                  // an Agent, or an anonymous Group of two Agents (OAuth)
)

var agentFields = []string{"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member"}

const ifiList = "mbox, mbox_sha1sum, openid or account"

func (c *checker) agentOrGroup(v uint32, role actorRole) objectKind {
	if !c.want(v, kindObject, "must be an Agent or Group object") {
		return objInvalid
	}
	var f [7]uint32
	group := false
	if ot := c.member(v, "objectType"); ot != 0 {
		c.enter(ot)
		if s, ok := c.str(ot, `must be "Agent" or "Group"`); ok {
			switch string(s) {
			case "Group":
				group = true
			case "Agent":
			default:
				c.fail(`must be "Agent" or "Group" (case matters)`)
			}
		}
		c.leave()
	} else if role == roleGroup {
		c.failChild("objectType", `is required: must be "Group"`)
		group = true
	}
	where := "an Agent"
	if group {
		where = "a Group"
	}
	c.fields(v, agentFields, f[:], where)
	switch {
	case role == roleAgent && group:
		c.failAt(f[0], `must be "Agent": a Group cannot be used here (Groups do not contain Groups)`)
	case role == roleGroup && !group && f[0] != 0:
		c.failAt(f[0], `must be "Group"`)
	}
	if f[1] != 0 {
		c.enter(f[1])
		c.plainString(f[1])
		c.leave()
	}
	n := c.ifis(&f)
	if !group {
		if f[6] != 0 {
			c.failAt(f[6], `only a Group has members: set "objectType": "Group"`)
		}
		if n != 1 {
			c.fail("an Agent must have exactly one inverse functional identifier: " + ifiList)
		}
		return objAgent
	}
	if n > 1 {
		c.fail("an identified Group must have exactly one inverse functional identifier: " + ifiList)
	}
	members := 0
	if m := f[6]; m != 0 {
		c.enter(m)
		if c.want(m, kindArray, "must be an array of Agents") {
			members = int(c.d.nodes[m].count)
			end := c.d.nodes[m].next
			for e, i := m+1, 0; e < end; e, i = c.d.nodes[e].next, i+1 {
				c.enterIndex(i)
				c.agentOrGroup(e, roleAgent)
				c.leave()
			}
		}
		c.leave()
	}
	if n == 0 && members == 0 {
		c.failChild("member", "an anonymous Group (one without "+ifiList+") must list at least one member")
	}
	if role == roleAuthority && (n != 0 || members != 2) {
		c.fail("an authority Group must be an anonymous Group of exactly two Agents (an OAuth consumer and a user)")
	}
	return objGroup
}

// ifis checks the inverse functional identifiers present in an Agent or
// Group's fields and returns how many there are.
func (c *checker) ifis(f *[7]uint32) int {
	n := 0
	if v := f[2]; v != 0 {
		n++
		c.enter(v)
		if s, ok := c.str(v, "must be a mailto IRI string"); ok && !validMailto(s) {
			c.fail(`must be "mailto:" followed by an e-mail address, e.g. mailto:learner@example.com`)
		}
		c.leave()
	}
	if v := f[3]; v != 0 {
		n++
		c.enter(v)
		if s, ok := c.str(v, "must be a string"); ok && !validSHA1(s) {
			c.fail("must be the hex SHA-1 (40 hex digits) of a mailto IRI")
		}
		c.leave()
	}
	if v := f[4]; v != 0 {
		n++
		c.enter(v)
		c.iri(v, aURI)
		c.leave()
	}
	if v := f[5]; v != 0 {
		n++
		c.enter(v)
		c.account(v)
		c.leave()
	}
	return n
}

var accountFields = []string{"homePage", "name"}

func (c *checker) account(v uint32) {
	if !c.want(v, kindObject, "must be an Account object with homePage and name") {
		return
	}
	var f [2]uint32
	c.fields(v, accountFields, f[:], "an Account")
	if f[0] == 0 {
		c.failChild("homePage", "is required: the IRL of the system the account is on")
	} else {
		c.enter(f[0])
		c.iri(f[0], anIRL)
		c.leave()
	}
	if f[1] == 0 {
		c.failChild("name", "is required: the account's login name or id")
	} else {
		c.enter(f[1])
		if s, ok := c.str(f[1], "must be a string"); ok && len(s) == 0 {
			c.fail("must not be empty")
		}
		c.leave()
	}
}

// object checks a Statement's object and returns what it is.
func (c *checker) object(v uint32, inSub bool) objectKind {
	if !c.want(v, kindObject, "must be an object: an Activity, Agent, Group, StatementRef or SubStatement") {
		return objInvalid
	}
	ot := c.member(v, "objectType")
	if ot == 0 {
		c.activity(v)
		return objActivity
	}
	c.enter(ot)
	s, ok := c.str(ot, "must be a string")
	c.leave()
	if !ok {
		return objInvalid
	}
	switch string(s) {
	case "Activity":
		c.activity(v)
		return objActivity
	case "Agent", "Group":
		return c.agentOrGroup(v, roleObject)
	case "StatementRef":
		c.statementRef(v)
		return objStatementRef
	case "SubStatement":
		if inSub {
			c.failAt(ot, "a SubStatement cannot contain another SubStatement")
			return objInvalid
		}
		var sub stmtInfo
		c.statement(v, true, &sub)
		return objSubStatement
	}
	c.failAt(ot, `must be "Activity", "Agent", "Group", "StatementRef" or "SubStatement" (case matters)`)
	return objInvalid
}

var statementRefFields = []string{"objectType", "id"}

func (c *checker) statementRef(v uint32) {
	if !c.want(v, kindObject, "must be a StatementRef object") {
		return
	}
	var f [2]uint32
	c.fields(v, statementRefFields, f[:], "a StatementRef")
	if f[0] == 0 {
		c.failChild("objectType", `is required: must be "StatementRef"`)
	} else {
		c.enter(f[0])
		if s, ok := c.str(f[0], `must be "StatementRef"`); ok && string(s) != "StatementRef" {
			c.fail(`must be "StatementRef"`)
		}
		c.leave()
	}
	if f[1] == 0 {
		c.failChild("id", "is required: the UUID of the referenced Statement")
	} else {
		c.enter(f[1])
		c.uuid(f[1])
		c.leave()
	}
}

var activityFields = []string{"objectType", "id", "definition"}

func (c *checker) activity(v uint32) {
	if !c.want(v, kindObject, "must be an Activity object") {
		return
	}
	var f [3]uint32
	c.fields(v, activityFields, f[:], "an Activity")
	if f[0] != 0 {
		c.enter(f[0])
		if s, ok := c.str(f[0], `must be "Activity"`); ok && string(s) != "Activity" {
			c.fail(`must be "Activity"`)
		}
		c.leave()
	}
	if f[1] == 0 {
		c.failChild("id", "is required: an Activity is identified by an IRI")
	} else {
		c.enter(f[1])
		c.iri(f[1], anIRI)
		c.leave()
	}
	if f[2] != 0 {
		c.enter(f[2])
		c.definition(f[2])
		c.leave()
	}
}

var definitionFields = []string{"name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}

const (
	dName = iota
	dDescription
	dType
	dMoreInfo
	dExtensions
	dInteractionType
	dCorrectResponses
	dChoices
	dScale
	dSource
	dTarget
	dSteps
	nDefinitionFields
)

// componentLists says which interaction component lists each
// interactionType takes (Data 2.4.4.1, Interaction Components).
var componentLists = map[string][]int{
	"true-false":   nil,
	"choice":       {dChoices},
	"fill-in":      nil,
	"long-fill-in": nil,
	"matching":     {dSource, dTarget},
	"performance":  {dSteps},
	"sequencing":   {dChoices},
	"likert":       {dScale},
	"numeric":      nil,
	"other":        nil,
}

func (c *checker) definition(v uint32) {
	if !c.want(v, kindObject, "must be an Activity Definition object") {
		return
	}
	var f [nDefinitionFields]uint32
	c.fields(v, definitionFields, f[:], "an Activity Definition")
	for _, i := range [...]int{dName, dDescription} {
		if f[i] != 0 {
			c.enter(f[i])
			c.languageMap(f[i])
			c.leave()
		}
	}
	if f[dType] != 0 {
		c.enter(f[dType])
		c.iri(f[dType], anIRI)
		c.leave()
	}
	if f[dMoreInfo] != 0 {
		c.enter(f[dMoreInfo])
		c.iri(f[dMoreInfo], anIRL)
		c.leave()
	}
	if f[dExtensions] != 0 {
		c.enter(f[dExtensions])
		c.extensions(f[dExtensions])
		c.leave()
	}
	var lists []int
	typed := false
	if it := f[dInteractionType]; it != 0 {
		c.enter(it)
		if s, ok := c.str(it, "must be a string"); ok {
			l, known := componentLists[string(s)]
			if known {
				lists, typed = l, true
			} else {
				c.fail("must be one of true-false, choice, fill-in, long-fill-in, matching, performance, sequencing, likert, numeric, other")
			}
		}
		c.leave()
	}
	if crp := f[dCorrectResponses]; crp != 0 {
		c.enter(crp)
		if it := f[dInteractionType]; it == 0 {
			c.fail(`is only allowed in an interaction Activity: set "interactionType"`)
		} else if c.want(crp, kindArray, "must be an array of response pattern strings") {
			end := c.d.nodes[crp].next
			for e, i := crp+1, 0; e < end; e, i = c.d.nodes[e].next, i+1 {
				c.enterIndex(i)
				c.plainString(e)
				c.leave()
			}
		}
		c.leave()
	}
	for _, li := range [...]int{dChoices, dScale, dSource, dTarget, dSteps} {
		lv := f[li]
		if lv == 0 {
			continue
		}
		c.enter(lv)
		switch {
		case f[dInteractionType] == 0:
			c.fail(`is only allowed in an interaction Activity: set "interactionType"`)
		case typed && !slices.Contains(lists, li):
			c.fail("is not an interaction component list of this interactionType (choice and sequencing take choices, likert scale, matching source and target, performance steps)")
		default:
			c.components(lv)
		}
		c.leave()
	}
}

var componentFields = []string{"id", "description"}

func (c *checker) components(v uint32) {
	if !c.want(v, kindArray, "must be an array of interaction components") {
		return
	}
	d := c.d
	end := d.nodes[v].next
	ids := make([]uint32, 0, 8)
	for e, i := v+1, 0; e < end; e, i = d.nodes[e].next, i+1 {
		c.enterIndex(i)
		if c.want(e, kindObject, "must be an interaction component object with an id") {
			var f [2]uint32
			c.fields(e, componentFields, f[:], "an interaction component")
			if f[0] == 0 {
				c.failChild("id", "is required")
			} else {
				c.enter(f[0])
				if s, ok := c.str(f[0], "must be a string"); ok {
					if len(s) == 0 {
						c.fail("must not be empty")
					}
					ids = append(ids, f[0])
				}
				c.leave()
			}
			if f[1] != 0 {
				c.enter(f[1])
				c.languageMap(f[1])
				c.leave()
			}
		}
		c.leave()
	}
	for _, id := range c.duplicates(ids) {
		for e, i := v+1, 0; e < end; e, i = d.nodes[e].next, i+1 {
			if e < id && id < d.nodes[e].next {
				c.enterIndex(i)
				c.failAt(id, "interaction component ids must be distinct within a list")
				c.leave()
				break
			}
		}
	}
}

var resultFields = []string{"score", "success", "completion", "response", "duration", "extensions"}

func (c *checker) result(v uint32) {
	if !c.want(v, kindObject, "must be a Result object") {
		return
	}
	var f [6]uint32
	c.fields(v, resultFields, f[:], "a Result")
	if f[0] != 0 {
		c.enter(f[0])
		c.score(f[0])
		c.leave()
	}
	for _, i := range [...]int{1, 2} {
		if f[i] != 0 {
			c.enter(f[i])
			c.boolean(f[i])
			c.leave()
		}
	}
	if f[3] != 0 {
		c.enter(f[3])
		c.plainString(f[3])
		c.leave()
	}
	if f[4] != 0 {
		c.enter(f[4])
		if s, ok := c.str(f[4], "must be an ISO 8601 duration string"); ok && !validDuration(s) {
			c.fail("must be an ISO 8601 duration, e.g. PT1H30M or PT45.5S (weeks, e.g. P2W, cannot be combined with other units)")
		}
		c.leave()
	}
	if f[5] != 0 {
		c.enter(f[5])
		c.extensions(f[5])
		c.leave()
	}
}

var scoreFields = []string{"scaled", "raw", "min", "max"}

func (c *checker) score(v uint32) {
	if !c.want(v, kindObject, "must be a Score object") {
		return
	}
	var f [4]uint32
	var x [4]decimal
	var ok [4]bool
	c.fields(v, scoreFields, f[:], "a Score")
	for i := range f {
		if f[i] != 0 {
			c.enter(f[i])
			x[i], ok[i] = c.number(f[i])
			c.leave()
		}
	}
	const scaled, raw, lo, hi = 0, 1, 2, 3
	if ok[scaled] && (x[scaled].cmp(minusOne) < 0 || x[scaled].cmp(plusOne) > 0) {
		c.failAt(f[scaled], "must be between -1 and 1 inclusive")
	}
	if ok[lo] && ok[hi] && x[lo].cmp(x[hi]) >= 0 {
		c.failAt(f[lo], "must be less than max")
	}
	if ok[raw] && ok[lo] && x[raw].cmp(x[lo]) < 0 {
		c.failAt(f[raw], "must not be less than min")
	}
	if ok[raw] && ok[hi] && x[raw].cmp(x[hi]) > 0 {
		c.failAt(f[raw], "must not be greater than max")
	}
}

var (
	minusOne  = parseDecimal([]byte("-1"))
	plusOne   = parseDecimal([]byte("1"))
	maxLength = parseDecimal([]byte("9007199254740991")) // 2^53-1: exact in every JSON implementation
)

var contextFields = []string{"registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement", "extensions", "contextAgents", "contextGroups"}

func (c *checker) context(v uint32, activityObject bool) {
	if !c.want(v, kindObject, "must be a Context object") {
		return
	}
	var f [11]uint32
	c.fields(v, contextFields, f[:], "a Context")
	if f[0] != 0 {
		c.enter(f[0])
		c.uuid(f[0])
		c.leave()
	}
	if f[1] != 0 {
		c.enter(f[1])
		c.agentOrGroup(f[1], roleActor)
		c.leave()
	}
	if f[2] != 0 {
		c.enter(f[2])
		c.agentOrGroup(f[2], roleGroup)
		c.leave()
	}
	if f[3] != 0 {
		c.enter(f[3])
		c.contextActivities(f[3])
		c.leave()
	}
	for _, i := range [...]int{4, 5} {
		if f[i] != 0 {
			c.enter(f[i])
			if c.want(f[i], kindString, "must be a string") && !activityObject {
				c.fail("is only allowed when the Statement's object is an Activity")
			}
			c.leave()
		}
	}
	if f[6] != 0 {
		c.enter(f[6])
		if s, ok := c.str(f[6], "must be an RFC 5646 language tag string"); ok && !validLanguageTag(s) {
			c.fail("must be an RFC 5646 language tag, e.g. en-US")
		}
		c.leave()
	}
	if f[7] != 0 {
		c.enter(f[7])
		c.statementRef(f[7])
		c.leave()
	}
	if f[8] != 0 {
		c.enter(f[8])
		c.extensions(f[8])
		c.leave()
	}
	for _, i := range [...]int{9, 10} {
		if f[i] == 0 {
			continue
		}
		c.enter(f[i])
		if c.v != V2_0_0 {
			c.fail("is an xAPI 2.0 property: send X-Experience-API-Version: 2.0.0 to use it")
		} else {
			c.contextAgents(f[i], i == 10)
		}
		c.leave()
	}
}

var contextActivitiesFields = []string{"parent", "grouping", "category", "other"}

func (c *checker) contextActivities(v uint32) {
	if !c.want(v, kindObject, "must be an object with parent, grouping, category and/or other") {
		return
	}
	var f [4]uint32
	c.fields(v, contextActivitiesFields, f[:], "contextActivities (allowed: parent, grouping, category, other)")
	for _, a := range f {
		if a == 0 {
			continue
		}
		c.enter(a)
		switch c.kind(a) {
		case kindObject:
			c.activity(a)
		case kindArray:
			end := c.d.nodes[a].next
			for e, i := a+1, 0; e < end; e, i = c.d.nodes[e].next, i+1 {
				c.enterIndex(i)
				c.activity(e)
				c.leave()
			}
		default:
			c.want(a, kindArray, "must be an Activity or an array of Activities")
		}
		c.leave()
	}
}

var contextAgentFields = []string{"objectType", "agent", "relevantTypes"}
var contextGroupFields = []string{"objectType", "group", "relevantTypes"}

// contextAgents checks 2.0 context.contextAgents (or contextGroups).
func (c *checker) contextAgents(v uint32, groups bool) {
	names, objectType, what, role := contextAgentFields, "contextAgent", "agent", roleAgent
	if groups {
		names, objectType, what, role = contextGroupFields, "contextGroup", "group", roleGroup
	}
	if !c.want(v, kindArray, "must be an array of "+objectType+" objects") {
		return
	}
	end := c.d.nodes[v].next
	for e, i := v+1, 0; e < end; e, i = c.d.nodes[e].next, i+1 {
		c.enterIndex(i)
		if c.want(e, kindObject, "must be a "+objectType+" object") {
			var f [3]uint32
			c.fields(e, names, f[:], "a "+objectType)
			if f[0] == 0 {
				c.failChild("objectType", `is required: must be "`+objectType+`"`)
			} else {
				c.enter(f[0])
				if s, ok := c.str(f[0], `must be "`+objectType+`"`); ok && string(s) != objectType {
					c.fail(`must be "` + objectType + `" (case matters)`)
				}
				c.leave()
			}
			if f[1] == 0 {
				c.failChild(what, "is required")
			} else {
				c.enter(f[1])
				c.agentOrGroup(f[1], role)
				c.leave()
			}
			if rt := f[2]; rt != 0 {
				c.enter(rt)
				if c.want(rt, kindArray, "must be an array of IRIs") {
					if c.d.nodes[rt].count == 0 {
						c.fail("must hold at least one IRI when present")
					}
					rend := c.d.nodes[rt].next
					for r, j := rt+1, 0; r < rend; r, j = c.d.nodes[r].next, j+1 {
						c.enterIndex(j)
						c.iri(r, anIRI)
						c.leave()
					}
				}
				c.leave()
			}
		}
		c.leave()
	}
}

var attachmentFields = []string{"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}

func (c *checker) attachments(v uint32) {
	if !c.want(v, kindArray, "must be an array of Attachment objects") {
		return
	}
	end := c.d.nodes[v].next
	for e, i := v+1, 0; e < end; e, i = c.d.nodes[e].next, i+1 {
		c.enterIndex(i)
		c.attachment(e)
		c.leave()
	}
}

func (c *checker) attachment(v uint32) {
	if !c.want(v, kindObject, "must be an Attachment object") {
		return
	}
	var f [7]uint32
	c.fields(v, attachmentFields, f[:], "an Attachment")
	for i, name := range [...]string{"usageType", "display", "", "contentType", "length", "sha2"} {
		if name != "" && f[i] == 0 {
			c.failChild(name, "is required in an Attachment (usageType, display, contentType, length and sha2 are)")
		}
	}
	if f[0] != 0 {
		c.enter(f[0])
		c.iri(f[0], anIRI)
		c.leave()
	}
	for _, i := range [...]int{1, 2} {
		if f[i] != 0 {
			c.enter(f[i])
			c.languageMap(f[i])
			c.leave()
		}
	}
	if f[3] != 0 {
		c.enter(f[3])
		if s, ok := c.str(f[3], "must be an Internet media type string"); ok && !validMediaType(s) {
			c.fail("must be an Internet media type, e.g. application/pdf")
		}
		c.leave()
	}
	if f[4] != 0 {
		c.enter(f[4])
		if c.want(f[4], kindNumber, "must be an integer") {
			if n := parseDecimal(c.d.raw(f[4])); !n.isInt() || n.neg || n.cmp(maxLength) > 0 {
				c.fail("must be a whole number of octets between 0 and 2^53-1")
			}
		}
		c.leave()
	}
	if f[5] != 0 {
		c.enter(f[5])
		if s, ok := c.str(f[5], "must be a string"); ok && !validSHA2(s) {
			c.fail("must be the hex SHA-2 (SHA-224, -256, -384 or -512) of the attachment data")
		}
		c.leave()
	}
	if f[6] != 0 {
		c.enter(f[6])
		c.iri(f[6], anIRL)
		c.leave()
	}
}
