package xapi

import (
	"fmt"
	"strings"
)

// The corpus: statements built from the requirements of xAPI 1.0.3
// (xAPI-Data.md, cited as "Data x.y") and 2.0.0 (IEEE 9274.1.1, with the
// ADL 2.0 conformance requirements), each with the verdict the
// specification demands under each version. Invalid cases name the
// requirement they break; valid ones what they show is allowed.
//
// Most cases are a value variant placed in every slot where such a value
// occurs (an Agent as actor, object, instructor, authority, Group member,
// SubStatement actor, contextAgent...), because each slot is its own code
// path in a validator.

type corpusCase struct {
	name     string
	req      string
	body     string
	ok103    bool
	ok200    bool
	slotName string
}

func (c corpusCase) ok(v Version) bool {
	if v == V2_0_0 {
		return c.ok200
	}
	return c.ok103
}

// A variant is a value and its verdict under each version.
type variant struct {
	name         string
	json         string
	ok103, ok200 bool
	req          string
}

func valid(name, json, why string) variant    { return variant{name, json, true, true, why} }
func invalid(name, json, rule string) variant { return variant{name, json, false, false, rule} }
func only103(name, json, why string) variant  { return variant{name, json, true, false, why} }
func only200(name, json, why string) variant  { return variant{name, json, false, true, why} }

// A slot is a statement template with @@ where the variant goes.
type slot struct {
	name string
	tpl  string
	// typed adds "objectType": typed to object variants that do not set
	// one (objects that are Agents or Groups must say so).
	typed string
	// v2only marks slots that exist only in 2.0: 1.0.3 rejects them all.
	v2only bool
}

const (
	agentA  = `{"mbox":"mailto:ada@example.com"}`
	verbV   = `{"id":"http://adlnet.gov/expapi/verbs/experienced","display":{"en-US":"experienced"}}`
	objectO = `{"id":"http://example.com/activities/a"}`
)

var expand = strings.NewReplacer("$A", agentA, "$V", verbV, "$O", objectO)

func stmt(members string) string {
	return expand.Replace(`{"actor":$A,"verb":$V,"object":$O` + members + `}`)
}

func place(s slot, v variant) corpusCase {
	val := v.json
	if s.typed != "" && strings.HasPrefix(val, "{") && !strings.Contains(val, `"objectType"`) {
		if val == "{}" {
			val = `{"objectType":"` + s.typed + `"}`
		} else {
			val = `{"objectType":"` + s.typed + `",` + val[1:]
		}
	}
	c := corpusCase{
		name:     s.name + ": " + v.name,
		req:      v.req,
		body:     strings.Replace(expand.Replace(s.tpl), "@@", val, 1),
		ok103:    v.ok103,
		ok200:    v.ok200,
		slotName: s.name,
	}
	if s.v2only {
		c.ok103 = false
		if v.ok200 {
			c.req = "contextAgents/contextGroups are xAPI 2.0 properties; " + v.req
		}
	}
	return c
}

func cross(slots []slot, variants []variant) []corpusCase {
	var out []corpusCase
	for _, s := range slots {
		for _, v := range variants {
			out = append(out, place(s, v))
		}
	}
	return out
}

var agentSlots = []slot{
	{name: "actor", tpl: `{"actor":@@,"verb":$V,"object":$O}`},
	{name: "object Agent", tpl: `{"actor":$A,"verb":$V,"object":@@}`, typed: "Agent"},
	{name: "context.instructor", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"instructor":@@}}`},
	{name: "authority", tpl: `{"actor":$A,"verb":$V,"object":$O,"authority":@@}`},
	{name: "Group member", tpl: `{"actor":{"objectType":"Group","member":[@@]},"verb":$V,"object":$O}`},
	{name: "SubStatement actor", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":@@,"verb":$V,"object":$O}}`},
	{name: "SubStatement object Agent", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":@@}}`, typed: "Agent"},
	{name: "contextAgent agent", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"contextAgents":[{"objectType":"contextAgent","agent":@@}]}}`, v2only: true},
}

const ifiRule = "Data 2.4.2.1: an Agent has exactly one inverse functional identifier (mbox, mbox_sha1sum, openid, account)"

var agentVariants = []variant{
	valid("mbox", `{"mbox":"mailto:ada@example.com"}`, "Data 2.4.2.3: mbox is a mailto IRI"),
	valid("typed and named", `{"objectType":"Agent","name":"Ada","mbox":"mailto:ada@example.com"}`, "Data 2.4.2.1: objectType Agent and name are optional"),
	valid("mbox_sha1sum", `{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}`, "Data 2.4.2.3: mbox_sha1sum is a hex SHA-1"),
	valid("mbox_sha1sum upper case", `{"mbox_sha1sum":"EBD31E95054C018B10727CCFFD2EF2EC3A016EE9"}`, "Data 2.4.2.3: hex in either case"),
	valid("openid", `{"openid":"https://openid.example.com/ada"}`, "Data 2.4.2.3: openid is a URI"),
	valid("account", `{"account":{"homePage":"https://lms.example.com","name":"ada-42"}}`, "Data 2.4.2.4: account has homePage and name"),
	valid("mbox plus and subdomain", `{"mbox":"mailto:ada+xapi@mail.example.co.uk"}`, "Data 2.4.2.3: any e-mail address"),
	valid("non-ASCII name", `{"name":"Åda Lövelace","mbox":"mailto:ada@example.com"}`, "Data 2.4.2.1: name is any string"),
	valid("empty name", `{"name":"","mbox":"mailto:ada@example.com"}`, "Data 2.4.2.1: name is any string"),
	valid("internationalized mbox domain", `{"mbox":"mailto:ada@exämple.com"}`, "Data 2.4.2.3: mailto IRIs may hold non-ASCII"),
	invalid("no identifier", `{"name":"Ada"}`, ifiRule),
	invalid("empty object", `{}`, ifiRule),
	invalid("mbox and openid", `{"mbox":"mailto:ada@example.com","openid":"https://openid.example.com/ada"}`, ifiRule),
	invalid("three identifiers", `{"mbox":"mailto:ada@example.com","mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9","account":{"homePage":"https://lms.example.com","name":"a"}}`, ifiRule),
	invalid("mbox without mailto", `{"mbox":"ada@example.com"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox mailto only", `{"mbox":"mailto:"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox without @", `{"mbox":"mailto:ada"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox without domain", `{"mbox":"mailto:ada@"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox without local part", `{"mbox":"mailto:@example.com"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox with space", `{"mbox":"mailto:ada lovelace@example.com"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox domain with empty label", `{"mbox":"mailto:ada@example..com"}`, "Data 2.4.2.3: mbox is \"mailto:\" and an e-mail address"),
	invalid("mbox scheme upper case", `{"mbox":"MAILTO:ada@example.com"}`, "Data 2.4.2.3: the mbox format is \"mailto:email address\" (this LRS takes the scheme as written)"),
	invalid("mbox number", `{"mbox":42}`, "Data 2.2: a string where a string is required"),
	invalid("mbox null", `{"mbox":null}`, "Data 2.2: no null values outside extensions"),
	invalid("mbox_sha1sum 39 digits", `{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee"}`, "Data 2.4.2.3: mbox_sha1sum is a 40-digit hex SHA-1"),
	invalid("mbox_sha1sum 41 digits", `{"mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee90"}`, "Data 2.4.2.3: mbox_sha1sum is a 40-digit hex SHA-1"),
	invalid("mbox_sha1sum not hex", `{"mbox_sha1sum":"gbd31e95054c018b10727ccffd2ef2ec3a016ee9"}`, "Data 2.4.2.3: mbox_sha1sum is a 40-digit hex SHA-1"),
	invalid("openid without scheme", `{"openid":"openid.example.com/ada"}`, "Data 2.2: IRIs have a scheme"),
	invalid("openid with space", `{"openid":"https://openid.example.com/ada lovelace"}`, "Data 2.2 / RFC 3987: an IRI has no spaces"),
	invalid("account without name", `{"account":{"homePage":"https://lms.example.com"}}`, "Data 2.4.2.4: account name is required"),
	invalid("account without homePage", `{"account":{"name":"ada-42"}}`, "Data 2.4.2.4: account homePage is required"),
	invalid("account homePage not an IRL", `{"account":{"homePage":"lms.example.com","name":"ada-42"}}`, "Data 2.4.2.4: homePage is an IRL (absolute, with a scheme)"),
	invalid("account empty name", `{"account":{"homePage":"https://lms.example.com","name":""}}`, "Data 2.2: no empty string where a value is required (account name identifies the account)"),
	invalid("account name number", `{"account":{"homePage":"https://lms.example.com","name":42}}`, "Data 2.2: a string where a string is required"),
	invalid("account extra property", `{"account":{"homePage":"https://lms.example.com","name":"a","id":1}}`, "Data 2.2: properties not in the specification are rejected"),
	invalid("account not an object", `{"account":"ada-42"}`, "Data 2.4.2.4: account is an object"),
	invalid("extra property", `{"mbox":"mailto:ada@example.com","email":"ada@example.com"}`, "Data 2.2: properties not in the specification are rejected"),
	invalid("objectType lower case", `{"objectType":"agent","mbox":"mailto:ada@example.com"}`, "Data 2.2: enumerated values match in case"),
	invalid("objectType number", `{"objectType":1,"mbox":"mailto:ada@example.com"}`, "Data 2.2: a string where a string is required"),
	invalid("name number", `{"name":7,"mbox":"mailto:ada@example.com"}`, "Data 2.2: a string where a string is required"),
	invalid("name null", `{"name":null,"mbox":"mailto:ada@example.com"}`, "Data 2.2: no null values outside extensions"),
	invalid("a string", `"mailto:ada@example.com"`, "Data 2.4.2: an Agent is an object"),
	invalid("an array", `[{"mbox":"mailto:ada@example.com"}]`, "Data 2.4.2: an Agent is an object"),
	invalid("null", `null`, "Data 2.2: no null values outside extensions"),
	invalid("Agent with members", `{"mbox":"mailto:ada@example.com","member":[{"mbox":"mailto:b@example.com"}]}`, "Data 2.4.2.1: only Groups have members"),
	invalid("key in wrong case", `{"Mbox":"mailto:ada@example.com"}`, "Data 2.2: keys match the case of the specification"),
}

var groupSlots = []slot{
	{name: "actor Group", tpl: `{"actor":@@,"verb":$V,"object":$O}`},
	{name: "object Group", tpl: `{"actor":$A,"verb":$V,"object":@@}`},
	{name: "context.team", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"team":@@}}`},
	{name: "context.instructor Group", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"instructor":@@}}`},
	{name: "SubStatement actor Group", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":@@,"verb":$V,"object":$O}}`},
	{name: "contextGroup group", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"contextGroups":[{"objectType":"contextGroup","group":@@}]}}`, v2only: true},
}

var groupVariants = []variant{
	valid("identified by mbox", `{"objectType":"Group","mbox":"mailto:team@example.com"}`, "Data 2.4.2.2: an identified Group has one IFI"),
	valid("identified by account with members", `{"objectType":"Group","name":"Blue","account":{"homePage":"https://lms.example.com","name":"team-blue"},"member":[{"mbox":"mailto:a@example.com"}]}`, "Data 2.4.2.2: an identified Group may list members"),
	valid("identified with empty member list", `{"objectType":"Group","mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9","member":[]}`, "Data 2.4.2.2: members of an identified Group are optional"),
	valid("anonymous with two members", `{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"},{"openid":"https://id.example.com/b"}]}`, "Data 2.4.2.2: an anonymous Group lists its members"),
	valid("anonymous named with one member", `{"objectType":"Group","name":"Pair","member":[{"objectType":"Agent","account":{"homePage":"https://lms.example.com","name":"a"}}]}`, "Data 2.4.2.2: an anonymous Group lists its members"),
	invalid("anonymous without members", `{"objectType":"Group","name":"Nobody"}`, "Data 2.4.2.2: an anonymous Group must include member"),
	invalid("anonymous with empty member list", `{"objectType":"Group","member":[]}`, "Data 2.4.2.2: an anonymous Group must list its members"),
	invalid("two identifiers", `{"objectType":"Group","mbox":"mailto:team@example.com","openid":"https://id.example.com/team"}`, "Data 2.4.2.2: an identified Group has exactly one IFI"),
	invalid("Group as member", `{"objectType":"Group","member":[{"objectType":"Group","mbox":"mailto:inner@example.com"}]}`, "Data 2.4.2.2: a Group must not contain Groups"),
	invalid("member without identifier", `{"objectType":"Group","member":[{"name":"Ada"}]}`, ifiRule),
	invalid("member with two identifiers", `{"objectType":"Group","member":[{"mbox":"mailto:a@example.com","mbox_sha1sum":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}]}`, ifiRule),
	invalid("member not an array", `{"objectType":"Group","member":{"mbox":"mailto:a@example.com"}}`, "Data 2.4.2.2: member is an array of Agents"),
	invalid("member null", `{"objectType":"Group","mbox":"mailto:team@example.com","member":null}`, "Data 2.2: no null values outside extensions"),
	invalid("extra property", `{"objectType":"Group","mbox":"mailto:team@example.com","size":3}`, "Data 2.2: properties not in the specification are rejected"),
	invalid("objectType lower case", `{"objectType":"group","mbox":"mailto:team@example.com"}`, "Data 2.2: enumerated values match in case"),
}

var activitySlots = []slot{
	{name: "object Activity", tpl: `{"actor":$A,"verb":$V,"object":@@}`},
	{name: "SubStatement object Activity", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":@@}}`},
	{name: "contextActivities.parent[]", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"contextActivities":{"parent":[@@]}}}`},
	{name: "contextActivities.grouping single", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"contextActivities":{"grouping":@@}}}`},
	{name: "contextActivities.category[]", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"contextActivities":{"category":[{"id":"http://example.com/c"},@@]}}}`},
	{name: "SubStatement contextActivities.other", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"context":{"contextActivities":{"other":@@}}}}`},
}

const iriRule = "Data 2.2: an IRI value is a valid absolute IRI with a scheme"

var activityVariants = []variant{
	valid("id only", `{"id":"http://example.com/activities/a"}`, "Data 2.4.4.1: only id is required"),
	valid("typed", `{"objectType":"Activity","id":"http://example.com/activities/a"}`, "Data 2.4.4.1: objectType Activity is optional"),
	valid("full definition", `{"id":"http://example.com/activities/a","definition":{"name":{"en-US":"A"},"description":{"en-US":"About A"},"type":"http://adlnet.gov/expapi/activities/course","moreInfo":"https://example.com/a/info","extensions":{"http://example.com/ext/level":3}}}`, "Data 2.4.4.1: Activity Definition properties"),
	valid("empty definition", `{"id":"http://example.com/activities/a","definition":{}}`, "Data 2.4.4.1: every definition property is optional"),
	valid("non-ASCII IRI", `{"id":"http://example.com/activités/été"}`, "Data 4.3: IRIs may hold non-ASCII characters"),
	valid("URN", `{"id":"urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}`, "Data 4.3: any IRI scheme"),
	valid("query and fragment", `{"id":"https://example.com/a?lang=en&v=2#part-3"}`, "RFC 3987: query and fragment"),
	valid("percent-escapes", `{"id":"https://example.com/a%20b%C3%A9"}`, "RFC 3987: percent-encoded octets"),
	valid("tag IRI", `{"id":"tag:example.com,2024:activity-1"}`, "Data 4.3: any IRI scheme"),
	invalid("no id", `{"definition":{"name":{"en-US":"A"}}}`, "Data 2.4.4.1: id is required"),
	invalid("id without scheme", `{"id":"activity-1"}`, iriRule),
	invalid("relative id", `{"id":"/activities/1"}`, "Data 2.4.4.1: IRI fragments (relative IRLs) are not valid IRIs"),
	invalid("id with space", `{"id":"http://example.com/my activity"}`, iriRule),
	invalid("id with two fragments", `{"id":"http://example.com/a#b#c"}`, iriRule),
	invalid("id with bad percent-escape", `{"id":"http://example.com/a%zz"}`, iriRule),
	invalid("id with <", `{"id":"http://example.com/<a>"}`, iriRule),
	invalid("id with {", `{"id":"http://example.com/{a}"}`, iriRule),
	invalid("id scheme only", `{"id":"http:"}`, iriRule),
	invalid("id bad scheme", `{"id":"ab=c://should.fail.com"}`, iriRule),
	invalid("id empty", `{"id":""}`, "Data 2.2: the empty string is not a valid IRI"),
	invalid("id number", `{"id":12}`, "Data 2.2: a string where a string is required"),
	invalid("objectType lower case", `{"objectType":"activity","id":"http://example.com/activities/a"}`, "Data 2.2: enumerated values match in case"),
	invalid("extra property", `{"id":"http://example.com/activities/a","name":"A"}`, "Data 2.2: properties not in the specification are rejected"),
	invalid("definition type not an IRI", `{"id":"http://example.com/activities/a","definition":{"type":"course"}}`, iriRule),
	invalid("definition moreInfo not an IRL", `{"id":"http://example.com/activities/a","definition":{"moreInfo":"example.com/info"}}`, "Data 2.4.4.1: moreInfo is an IRL"),
	invalid("definition extra property", `{"id":"http://example.com/activities/a","definition":{"title":"A"}}`, "Data 2.2: properties not in the specification are rejected"),
	invalid("definition name a string", `{"id":"http://example.com/activities/a","definition":{"name":"A"}}`, "Data 4.2: name is a language map"),
	invalid("definition null", `{"id":"http://example.com/activities/a","definition":null}`, "Data 2.2: no null values outside extensions"),
	invalid("definition extension key not an IRI", `{"id":"http://example.com/activities/a","definition":{"extensions":{"level":3}}}`, "Data 4.1: extension keys are IRIs"),
}

var langMapSlots = []slot{
	{name: "verb.display", tpl: `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced","display":@@},"object":$O}`},
	{name: "definition.name", tpl: `{"actor":$A,"verb":$V,"object":{"id":"http://example.com/a","definition":{"name":@@}}}`},
	{name: "definition.description", tpl: `{"actor":$A,"verb":$V,"object":{"id":"http://example.com/a","definition":{"description":@@}}}`},
	{name: "interaction component description", tpl: `{"actor":$A,"verb":$V,"object":{"id":"http://example.com/a","definition":{"interactionType":"likert","scale":[{"id":"1","description":@@}]}}}`},
	{name: "attachment display", tpl: `{"actor":$A,"verb":$V,"object":$O,"attachments":[{"usageType":"http://example.com/usage","display":@@,"contentType":"text/plain","length":5,"sha2":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]}`},
	{name: "SubStatement verb.display", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":{"id":"http://example.com/verbs/v","display":@@},"object":$O}}`},
}

const langRule = "Data 4.2 / Data 2.2: language map keys are RFC 5646 language tags and values are strings"

var langMapVariants = []variant{
	valid("en-US", `{"en-US":"experienced"}`, "Data 4.2: language map"),
	valid("two languages", `{"en":"experienced","fr":"vécu"}`, "Data 4.2: a map holds many languages"),
	valid("script and region", `{"zh-Hant-TW":"經歷"}`, "RFC 5646: language-script-region"),
	valid("UN M.49 region", `{"es-419":"experimentado"}`, "RFC 5646: numeric region"),
	valid("variant", `{"de-CH-1901":"erlebt"}`, "RFC 5646: variant subtag"),
	valid("extension and private use", `{"en-a-bbb-x-a-ccc":"experienced"}`, "RFC 5646: extension and private-use subtags"),
	valid("private use only", `{"x-klingon":"experienced"}`, "RFC 5646: private-use tag"),
	valid("grandfathered", `{"i-klingon":"experienced"}`, "RFC 5646: grandfathered tag"),
	valid("case-insensitive", `{"EN-us":"experienced"}`, "RFC 5646: tags are case-insensitive"),
	valid("empty map", `{}`, "Data 4.2: a map may be empty"),
	valid("empty string value", `{"en-US":""}`, "Data 4.2: values are any string"),
	invalid("underscore", `{"en_US":"experienced"}`, langRule),
	invalid("one letter", `{"e":"experienced"}`, langRule),
	invalid("nine letters", `{"a12345678":"should error"}`, langRule),
	invalid("trailing dash", `{"en-":"experienced"}`, langRule),
	invalid("double dash", `{"en--US":"experienced"}`, langRule),
	invalid("digits", `{"123":"experienced"}`, langRule),
	invalid("empty key", `{"":"experienced"}`, langRule),
	invalid("bare x", `{"x":"experienced"}`, langRule),
	invalid("extension without subtag", `{"en-a":"experienced"}`, langRule),
	invalid("number value", `{"en-US":5}`, langRule),
	invalid("null value", `{"en-US":null}`, "Data 2.2: no null values outside extensions"),
	invalid("a string", `"experienced"`, "Data 4.2: a language map is an object"),
	invalid("an array", `["en-US"]`, "Data 4.2: a language map is an object"),
}

type versionedValue struct {
	name         string
	value        string
	ok103, ok200 bool
	req          string
}

var timestampSlots = []slot{
	{name: "timestamp", tpl: `{"actor":$A,"verb":$V,"object":$O,"timestamp":@@}`},
	{name: "stored", tpl: `{"actor":$A,"verb":$V,"object":$O,"stored":@@}`},
	{name: "SubStatement timestamp", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"timestamp":@@}}`},
}

const (
	tsRule     = "Data 4.5: a Timestamp is formatted according to ISO 8601 (2.0: RFC 3339)"
	offsetRule = "Data 4.5 / 2.0 timestamps: the offsets -00, -0000 and -00:00 are rejected"
)

var timestampVariants = []variant{
	valid("UTC", `"2024-05-01T12:30:00Z"`, "Data 4.5: RFC 3339 in UTC"),
	valid("milliseconds", `"2024-05-01T12:30:00.123Z"`, "Data 4.5: keeps at least millisecond precision"),
	valid("nanoseconds", `"2024-05-01T12:30:00.123456789Z"`, "Data 4.5: more precision is allowed"),
	valid("positive offset", `"2024-05-01T14:30:00+02:00"`, "Data 4.5: any time zone, converted to UTC"),
	valid("negative offset", `"2024-05-01T07:30:00.5-05:00"`, "Data 4.5: any time zone, converted to UTC"),
	valid("+00:00", `"2008-09-15T15:53:00.601+00:00"`, "2.0 timestamps: valid RFC 3339 offset"),
	valid("negative half-hour offset", `"2024-05-01T12:30:00-00:30"`, "Data 4.5: any time zone"),
	valid("leap day", `"2024-02-29T00:00:00Z"`, "ISO 8601: 29 February in a leap year"),
	valid("leap day in 2000", `"2000-02-29T23:59:59.999Z"`, "ISO 8601: 2000 is a leap year"),
	valid("future", `"2031-11-26T19:13:09.874Z"`, "Data 2.4.7: an LRS should not reject a future timestamp"),
	valid("lower-case t and z", `"2024-05-01t12:30:00z"`, "RFC 3339 5.6: T and Z may be lower case"),
	only103("no seconds", `"2024-05-01T12:30Z"`, "ISO 8601 allows reduced precision (1.0.3); RFC 3339 needs seconds (2.0)"),
	only103("no time zone", `"2024-05-01T12:30:00"`, "ISO 8601 local time, read as UTC (1.0.3); RFC 3339 needs an offset (2.0)"),
	only103("basic offset", `"2024-05-01T14:30:00+0200"`, "ISO 8601 ±hhmm offset (1.0.3); RFC 3339 needs ±hh:mm (2.0)"),
	only103("hour offset", `"2024-05-01T14:30:00+02"`, "ISO 8601 ±hh offset (1.0.3); RFC 3339 needs ±hh:mm (2.0)"),
	only103("comma decimal", `"2024-05-01T12:30:00,5Z"`, "ISO 8601 comma decimal sign (1.0.3); RFC 3339 uses '.' (2.0)"),
	invalid("-00:00", `"2008-09-15T15:53:00.601-00:00"`, offsetRule),
	invalid("-00", `"2008-09-15T15:53:00.601-00"`, offsetRule),
	invalid("-0000", `"2008-09-15T15:53:00.601-0000"`, offsetRule),
	invalid("date only", `"2024-05-01"`, tsRule),
	invalid("space separator", `"2024-05-01 12:30:00Z"`, tsRule),
	invalid("month 13", `"2024-13-01T00:00:00Z"`, tsRule),
	invalid("29 February 2023", `"2023-02-29T00:00:00Z"`, tsRule),
	invalid("29 February 1900", `"1900-02-29T00:00:00Z"`, tsRule),
	invalid("31 April", `"2024-04-31T00:00:00Z"`, tsRule),
	invalid("hour 24", `"2024-05-01T24:00:00Z"`, tsRule),
	invalid("minute 60", `"2024-05-01T12:60:00Z"`, tsRule),
	invalid("second 60", `"2024-05-01T12:30:60Z"`, tsRule+" (leap seconds are not representable)"),
	invalid("empty fraction", `"2024-05-01T12:30:00.Z"`, tsRule),
	invalid("offset hour 24", `"2024-05-01T12:30:00+24:00"`, tsRule),
	invalid("offset minute 60", `"2024-05-01T12:30:00+02:60"`, tsRule),
	invalid("single-digit month", `"2024-5-01T12:30:00Z"`, tsRule),
	invalid("basic format", `"20240501T123000Z"`, tsRule+" (extended format only)"),
	invalid("not a date", `"should fail"`, tsRule),
	invalid("US date", `"01/011/2015"`, tsRule),
	invalid("number", `1714566600`, "Data 2.2: a string where a string is required"),
	invalid("null", `null`, "Data 2.2: no null values outside extensions"),
}

var durationSlots = []slot{
	{name: "result.duration", tpl: `{"actor":$A,"verb":$V,"object":$O,"result":{"duration":@@}}`},
	{name: "SubStatement result.duration", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"result":{"duration":@@}}}`},
}

const durRule = "Data 4.6: a Duration uses the ISO 8601:2004 4.4.3.2 format"

var durationVariants = []variant{
	valid("hours minutes seconds", `"PT4H35M59.14S"`, "Data 4.6 example"),
	valid("seconds", `"PT16559.14S"`, "Data 4.6 example"),
	valid("all date and time parts", `"P3Y1M29DT4H35M59.14S"`, "Data 4.6 example"),
	valid("years", `"P3Y"`, "Data 4.6 example"),
	valid("weeks", `"P4W"`, "Data 4.6 example"),
	valid("zero", `"PT0S"`, "ISO 8601 duration"),
	valid("days", `"P1D"`, "ISO 8601 duration"),
	valid("minutes", `"PT1M"`, "ISO 8601 duration: M after T is minutes"),
	valid("months and days", `"P1Y2M3D"`, "ISO 8601 duration"),
	valid("fraction on hours", `"PT0.5H"`, "ISO 8601: the last component may have a fraction"),
	valid("comma fraction", `"PT1,5S"`, "ISO 8601: comma decimal sign"),
	valid("over 24 hours", `"PT36H"`, "ISO 8601: components are not carried over"),
	valid("more than 0.01 s precision", `"PT1.23456S"`, "Data 4.6: the LRS should not reject more precision"),
	invalid("weeks with days", `"P4W1D"`, "Data 4.6 example: P4W1D is not valid"),
	invalid("P alone", `"P"`, durRule),
	invalid("PT alone", `"PT"`, durRule),
	invalid("T without time", `"P1DT"`, durRule),
	invalid("no P", `"4H"`, durRule),
	invalid("lower-case unit", `"PT4h"`, durRule),
	invalid("fraction not last", `"PT1.5H30M"`, durRule+": only the last component has a fraction"),
	invalid("wrong order", `"P1M1Y"`, durRule),
	invalid("alternative format", `"P0003-01-29T04:35:59"`, "Data 4.6: the alternative format must not be used"),
	invalid("negative", `"PT-1S"`, durRule),
	invalid("hours in date part", `"P1H"`, durRule),
	invalid("days in time part", `"PT1D"`, durRule),
	invalid("empty", `""`, durRule),
	invalid("number", `5`, "Data 2.2: a string where a string is required"),
	invalid("object", `{"seconds":5}`, "Data 2.2: a string where a string is required"),
}

var uuidSlots = []slot{
	{name: "id", tpl: `{"id":@@,"actor":$A,"verb":$V,"object":$O}`},
	{name: "context.registration", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"registration":@@}}`},
	{name: "StatementRef id", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":@@}}`},
	{name: "context.statement id", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"statement":{"objectType":"StatementRef","id":@@}}}`},
	{name: "SubStatement context.registration", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"context":{"registration":@@}}}`},
}

const uuidRule = "Data 4.4: UUIDs are in standard string form"

var uuidVariants = []variant{
	valid("lower case", `"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"`, "Data 4.4: UUID"),
	valid("upper case", `"FD41C918-B88B-4B20-A0A5-A4C32391AAA0"`, "RFC 4122: hex digits in either case"),
	valid("nil UUID", `"00000000-0000-0000-0000-000000000000"`, "RFC 4122: standard form"),
	invalid("too many digits", `"fd41c918-b88b-4b20-a0a5-a4c32391aaa00"`, uuidRule),
	invalid("not hex", `"gd41c918-b88b-4b20-a0a5-a4c32391aaa0"`, uuidRule),
	invalid("no dashes", `"fd41c918b88b4b20a0a5a4c32391aaa0"`, uuidRule),
	invalid("braces", `"{fd41c918-b88b-4b20-a0a5-a4c32391aaa0}"`, uuidRule),
	invalid("URN form", `"urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0"`, uuidRule),
	invalid("dashes misplaced", `"fd41c918b-88b-4b20-a0a5-a4c32391aaa0"`, uuidRule),
	invalid("empty", `""`, uuidRule),
	invalid("number", `12345`, "Data 2.2: a string where a string is required"),
	invalid("object", `{"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}`, "Data 2.2: a string where a string is required"),
}

var extensionSlots = []slot{
	{name: "result.extensions", tpl: `{"actor":$A,"verb":$V,"object":$O,"result":{"extensions":@@}}`},
	{name: "context.extensions", tpl: `{"actor":$A,"verb":$V,"object":$O,"context":{"extensions":@@}}`},
	{name: "definition.extensions", tpl: `{"actor":$A,"verb":$V,"object":{"id":"http://example.com/a","definition":{"extensions":@@}}}`},
	{name: "SubStatement context.extensions", tpl: `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"context":{"extensions":@@}}}`},
}

const extRule = "Data 4.1: extension keys are IRIs"

var extensionVariants = []variant{
	valid("empty", `{}`, "Data 4.1: extensions may be empty"),
	valid("string value", `{"http://example.com/ext/a":"v"}`, "Data 4.1: values are any JSON"),
	valid("null value", `{"http://example.com/ext/a":null}`, "Data 4.1 / 2.2: null is allowed inside extensions"),
	valid("empty string value", `{"http://example.com/ext/a":""}`, "Data 4.1: values are any JSON"),
	valid("nested value with nulls", `{"http://example.com/ext/a":{"b":[1,null,{"c":true}],"d":null}}`, "Data 4.1: the LRS must not reject a statement for extension values"),
	valid("repeated names inside a value", `{"http://example.com/ext/a":{"b":1,"b":2}}`, "Data 4.1: the LRS must not reject a statement for extension values"),
	valid("URN key", `{"urn:example:ext":1}`, "Data 4.1: any IRI"),
	invalid("key not an IRI", `{"level":3}`, extRule),
	invalid("empty key", `{"":3}`, extRule),
	invalid("key with space", `{"http://example.com/my ext":3}`, extRule),
	invalid("repeated key", `{"http://example.com/ext/a":1,"http://example.com/ext/a":2}`, "Data 2.2: a property is used once"),
	invalid("array", `[{"http://example.com/ext/a":1}]`, "Data 4.1: extensions is a map (object)"),
	invalid("string", `"http://example.com/ext/a"`, "Data 4.1: extensions is a map (object)"),
	invalid("null", `null`, "Data 2.2: no null values outside extensions (extensions itself is not inside)"),
}

// cases lists corpus cases written one by one.
func cases(cs ...corpusCase) []corpusCase { return cs }

func ok(name, req, body string) corpusCase {
	return corpusCase{name: name, req: req, body: expand.Replace(body), ok103: true, ok200: true}
}

func bad(name, req, body string) corpusCase {
	return corpusCase{name: name, req: req, body: expand.Replace(body), ok103: false, ok200: false}
}

func okOnly200(name, req, body string) corpusCase {
	return corpusCase{name: name, req: req, body: expand.Replace(body), ok103: false, ok200: true}
}

const sha256Hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func attachment(members string) string {
	return stmt(`,"attachments":[{` + members + `}]`)
}

const attFull = `"usageType":"http://adlnet.gov/expapi/attachments/signature","display":{"en-US":"Signature"},"contentType":"application/octet-stream","length":5,"sha2":"` + sha256Hello + `"`

func interaction(def string) string {
	return expand.Replace(`{"actor":$A,"verb":$V,"object":{"id":"http://example.com/q1","definition":` + def + `}}`)
}

// statementCases are whole-statement rules.
var statementCases = cases(
	ok("minimal statement", "Data 2.2: a Statement uses actor, verb and object", stmt("")),
	ok("all properties", "Data 2.4: id, result, context, timestamp, stored, authority, version, attachments", stmt(`,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0","result":{"success":true},"context":{"platform":"LMS"},"timestamp":"2024-05-01T12:30:00Z","stored":"2024-05-01T12:30:01Z","authority":{"mbox":"mailto:lrs@example.com"},"version":"1.0.0","attachments":[{`+attFull+`}]`)),
	ok("members in any order", "Data 2.2: a Statement may use its properties in any order", `{"object":$O,"verb":$V,"actor":$A}`),
	ok("escaped member name", "RFC 8259: \\u escapes in member names are the same name", `{"\u0061ctor":$A,"verb":$V,"object":$O}`),
	ok("surrogate pair escape", "RFC 8259: a surrogate pair escape is one character", `{"actor":{"name":"\ud83d\ude00","mbox":"mailto:ada@example.com"},"verb":$V,"object":$O}`),
	ok("whitespace everywhere", "RFC 8259: insignificant whitespace", " \n{ \"actor\" : {\"mbox\" :\t\"mailto:ada@example.com\"} ,\r\n\"verb\":$V, \"object\":$O } \n"),
	ok("deep extension value", "Data 4.1: extension values are any JSON", stmt(`,"result":{"extensions":{"http://example.com/e":`+strings.Repeat("[", 55)+strings.Repeat("]", 55)+`}}`)),
	bad("missing actor", "Data 2.2: a Statement must use actor", `{"verb":$V,"object":$O}`),
	bad("missing verb", "Data 2.2: a Statement must use verb", `{"actor":$A,"object":$O}`),
	bad("missing object", "Data 2.2: a Statement must use object", `{"actor":$A,"verb":$V}`),
	bad("empty object", "Data 2.2: a Statement must use actor, verb and object", `{}`),
	bad("unknown property", "Data 2.2 (1.0.3 SHOULD, 2.0 SHALL): properties not in the specification are rejected", stmt(`,"comment":"hello"`)),
	bad("property in wrong case", "Data 2.2: keys match the case of the specification", `{"Actor":$A,"verb":$V,"object":$O}`),
	bad("objectType on a Statement", "Data 2.4: a Statement has no objectType", stmt(`,"objectType":"Statement"`)),
	bad("verb given twice", "Data 2.2: a Statement must use each property no more than one time", `{"actor":$A,"verb":$V,"verb":$V,"object":$O}`),
	bad("actor null", "Data 2.2: no null values", `{"actor":null,"verb":$V,"object":$O}`),
	bad("result null", "Data 2.2: no null values", stmt(`,"result":null`)),
	bad("a JSON string", "Communication 2.1.2: the body is a Statement or an array of Statements", `"statement"`),
	bad("a number", "Communication 2.1.2: the body is a Statement or an array of Statements", `42`),
	bad("JSON null", "Communication 2.1.2: the body is a Statement or an array of Statements", `null`),
	bad("empty array", "Communication 2.1.2: an array of Statements holds at least one", `[]`),
	bad("nested array", "Communication 2.1.2: the array holds Statements", `[[`+stmt("")+`]]`),
	bad("array with a string", "Communication 2.1.2: the array holds Statements", `[`+stmt("")+`,"x"]`),
	bad("two statements with one id", "the same id twice in a batch: one would be unreachable", `[`+stmt(`,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"`)+`,`+stmt(`,"id":"FD41C918-B88B-4B20-A0A5-A4C32391AAA0"`)+`]`),
	ok("batch of two", "Communication 2.1.2: POST takes an array of Statements", `[`+stmt(`,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"`)+`,`+stmt(`,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa1"`)+`]`),
	bad("batch with one invalid statement", "Communication 2.1.2: the whole batch is rejected", `[`+stmt("")+`,{"actor":$A,"verb":$V}]`),
	bad("not JSON", "Data 2.2: a Statement is JSON", `{"actor":`),
	bad("trailing comma", "RFC 8259: no trailing commas", `{"actor":$A,"verb":$V,"object":$O,}`),
	bad("single quotes", "RFC 8259: strings use double quotes", `{'actor':$A,"verb":$V,"object":$O}`),
	bad("two JSON values", "RFC 8259: one JSON value", stmt("")+stmt("")),
	bad("trailing garbage", "RFC 8259: one JSON value", stmt("")+"x"),
	bad("byte order mark", "RFC 8259: no BOM in JSON text sent over the network", "\ufeff"+stmt("")),
	bad("invalid UTF-8", "RFC 8259: JSON text is UTF-8", "{\"actor\":{\"name\":\"\xff\",\"mbox\":\"mailto:ada@example.com\"},\"verb\":$V,\"object\":$O}"),
	bad("NUL escape", "stores cannot keep U+0000", `{"actor":{"name":"a\u0000b","mbox":"mailto:ada@example.com"},"verb":$V,"object":$O}`),
	bad("unpaired surrogate", "RFC 8259 / stores: a lone surrogate escape is not a character", `{"actor":{"name":"\ud800","mbox":"mailto:ada@example.com"},"verb":$V,"object":$O}`),
	bad("raw control character", "RFC 8259: control characters in strings are escaped", "{\"actor\":{\"name\":\"a\tb\",\"mbox\":\"mailto:ada@example.com\"},\"verb\":$V,\"object\":$O}"),
	bad("too deep", "depth limit: at most 64 levels", stmt(`,"result":{"extensions":{"http://example.com/e":`+strings.Repeat("[", 70)+strings.Repeat("]", 70)+`}}`)),
	bad("leading zero number", "RFC 8259: numbers have no leading zeros", stmt(`,"result":{"score":{"raw":01}}`)),
	bad("NaN", "RFC 8259: NaN is not JSON", stmt(`,"result":{"score":{"raw":NaN}}`)),

	ok("verb without display", "Data 2.4.3: display is recommended, not required", `{"actor":$A,"verb":{"id":"http://example.com/verbs/v"},"object":$O}`),
	bad("verb without id", "Data 2.4.3: id is required", `{"actor":$A,"verb":{"display":{"en-US":"did"}},"object":$O}`),
	bad("verb id not an IRI", "Data 2.4.3: id is an IRI", `{"actor":$A,"verb":{"id":"experienced"},"object":$O}`),
	bad("verb id empty", "Data 2.2: the empty string is not a valid IRI", `{"actor":$A,"verb":{"id":""},"object":$O}`),
	bad("verb extra property", "Data 2.2: properties not in the specification are rejected", `{"actor":$A,"verb":{"id":"http://example.com/verbs/v","name":"v"},"object":$O}`),
	bad("verb a string", "Data 2.4.3: a Verb is an object", `{"actor":$A,"verb":"http://example.com/verbs/v","object":$O}`),

	ok("StatementRef object", "Data 2.4.4.3: a Statement Reference", `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}`),
	bad("StatementRef without id", "Data 2.4.4.3: a StatementRef has an id", `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef"}}`),
	bad("StatementRef with definition", "Data 2.2: properties not in the specification are rejected", `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0","definition":{}}}`),
	bad("object with unknown objectType", "Data 2.4.4: objectType is Activity, Agent, Group, SubStatement or StatementRef", `{"actor":$A,"verb":$V,"object":{"objectType":"Statement","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}`),
	bad("Agent object without objectType", "Data 2.4.4.2: an Agent object must specify objectType (else it is an Activity without id)", `{"actor":$A,"verb":$V,"object":{"mbox":"mailto:b@example.com"}}`),
	bad("object a string", "Data 2.4.4: object is an object", `{"actor":$A,"verb":$V,"object":"http://example.com/a"}`),

	ok("SubStatement", "Data 2.4.4.3: a SubStatement", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O}}`),
	ok("SubStatement with result, context, future timestamp and attachments", "Data 2.4.4.3 / 2.4.7: a SubStatement is validated as a Statement and may have a future timestamp", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"result":{"completion":true},"context":{"revision":"2"},"timestamp":"2099-01-01T00:00:00Z","attachments":[{`+attFull+`}]}}`),
	ok("SubStatement with StatementRef object", "Data 2.4.4.3: a SubStatement's object may be a StatementRef", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}}`),
	ok("SubStatement using the voided verb", "Data 2.3.2: only a Statement voids; a SubStatement may use the verb", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":$O}}`),
	bad("nested SubStatement", "Data 2.4.4.3: a SubStatement must not contain a SubStatement", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O}}}`),
	bad("SubStatement with id", "Data 2.4.4.3: a SubStatement must not have id", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0","actor":$A,"verb":$V,"object":$O}}`),
	bad("SubStatement with stored", "Data 2.4.4.3: a SubStatement must not have stored", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","stored":"2024-05-01T12:30:00Z","actor":$A,"verb":$V,"object":$O}}`),
	bad("SubStatement with version", "Data 2.4.4.3: a SubStatement must not have version", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","version":"1.0.0","actor":$A,"verb":$V,"object":$O}}`),
	bad("SubStatement with authority", "Data 2.4.4.3: a SubStatement must not have authority", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","authority":$A,"actor":$A,"verb":$V,"object":$O}}`),
	bad("SubStatement without verb", "Data 2.4.4.3: a SubStatement is validated as a Statement", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"object":$O}}`),
	bad("SubStatement without objectType", "Data 2.4.4.3: a SubStatement must specify objectType", `{"actor":$A,"verb":$V,"object":{"actor":$A,"verb":$V,"object":$O}}`),

	ok("voiding statement", "Data 2.3.2: a voiding Statement's object is a StatementRef", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided","display":{"en-US":"voided"}},"object":{"objectType":"StatementRef","id":"e05aa883-acaf-40ad-bf54-02c8ce485fb0"}}`),
	bad("voiding an Activity", "Data 2.3.2: the object of a voiding Statement must be a StatementRef", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":$O}`),
	bad("voiding an Agent", "Data 2.3.2: the object of a voiding Statement must be a StatementRef", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"Agent","mbox":"mailto:b@example.com"}}`),
	bad("voiding a SubStatement", "Data 2.3.2: the object of a voiding Statement must be a StatementRef", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O}}`),
	bad("voiding without an id", "Data 2.3.2: the voiding Statement names the statement by id", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef"}}`),

	ok("version 1.0.0", "Data 2.4.10: versions starting with 1.0. are accepted", stmt(`,"version":"1.0.0"`)),
	ok("version 1.0", "ADL XAPI-00101: 1.0 is accepted", stmt(`,"version":"1.0"`)),
	ok("version 1.0.3", "Data 2.4.10: versions starting with 1.0. are accepted", stmt(`,"version":"1.0.3"`)),
	ok("version 1.0.9", "Data 2.4.10: versions starting with 1.0. are accepted", stmt(`,"version":"1.0.9"`)),
	okOnly200("version 2.0.0", "2.0: 2.0.x versions are valid; 1.0.3 rejects versions not starting with 1.0.", stmt(`,"version":"2.0.0"`)),
	okOnly200("version 2.0", "2.0: 2.0.x versions are valid; 1.0.3 rejects versions not starting with 1.0.", stmt(`,"version":"2.0"`)),
	okOnly200("version 2.0.7", "2.0: 2.0.x versions are valid; 1.0.3 rejects versions not starting with 1.0.", stmt(`,"version":"2.0.7"`)),
	bad("version 1.1.0", "Data 2.4.10: versions not starting with 1.0. are rejected", stmt(`,"version":"1.1.0"`)),
	bad("version 0.9.9", "Data 2.4.10: versions not starting with 1.0. are rejected", stmt(`,"version":"0.9.9"`)),
	bad("version 2.1.0", "2.0: only 1.0.x and 2.0.x", stmt(`,"version":"2.1.0"`)),
	bad("version 1.0.", "Communication 3.3: the version format", stmt(`,"version":"1.0."`)),
	bad("version 1", "Communication 3.3: the version format", stmt(`,"version":"1"`)),
	bad("version 1.0.x", "Communication 3.3: the version format", stmt(`,"version":"1.0.x"`)),
	bad("version with pre-release", "Communication 3.3: the version format", stmt(`,"version":"1.0.0-beta"`)),
	bad("version a string", "ADL XAPI-00101: invalid string", stmt(`,"version":"should fail"`)),
	bad("version a number", "Data 2.2: a string where a string is required", stmt(`,"version":1.0`)),
	bad("version null", "Data 2.2: no null values", stmt(`,"version":null`)),

	ok("authority OAuth group", "Data 2.4.9: with 3-legged OAuth the authority is a Group of two Agents", stmt(`,"authority":{"objectType":"Group","member":[{"account":{"homePage":"http://example.com/xAPI/OAuth/Token","name":"oauth_consumer_x75db"}},{"mbox":"mailto:bob@example.com"}]}`)),
	bad("authority identified group", "Data 2.4.9: an authority Group is an anonymous pair of Agents (ADL XAPI-00100)", stmt(`,"authority":{"objectType":"Group","name":"xAPI Group","mbox":"mailto:xapigroup@example.com","member":[{"mbox":"mailto:agentA@example.com"},{"mbox":"mailto:agentB@example.com"}]}`)),
	bad("authority group of three", "Data 2.4.9: an authority Group has exactly two Agents", stmt(`,"authority":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"},{"mbox":"mailto:b@example.com"},{"mbox":"mailto:c@example.com"}]}`)),
	bad("authority group of one", "Data 2.4.9: an authority Group has exactly two Agents", stmt(`,"authority":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"}]}`)),
)

var resultCases = cases(
	ok("full result", "Data 2.4.5: score, success, completion, response, duration, extensions", stmt(`,"result":{"score":{"scaled":0.85,"raw":85,"min":0,"max":100},"success":true,"completion":false,"response":"two[,]three","duration":"PT1M","extensions":{"http://example.com/e":1}}`)),
	ok("empty result", "Data 2.4.5: every Result property is optional", stmt(`,"result":{}`)),
	ok("scaled -1", "Data 2.4.5.1: scaled is between -1 and 1 inclusive", stmt(`,"result":{"score":{"scaled":-1}}`)),
	ok("scaled 1.0", "Data 2.4.5.1: scaled is between -1 and 1 inclusive", stmt(`,"result":{"score":{"scaled":1.0}}`)),
	ok("scaled 1e0", "Data 2.4.5.1: scaled is between -1 and 1 inclusive", stmt(`,"result":{"score":{"scaled":1e0}}`)),
	ok("raw at min", "Data 2.4.5.1: raw is between min and max inclusive", stmt(`,"result":{"score":{"raw":0,"min":0,"max":10}}`)),
	ok("raw at max", "Data 2.4.5.1: raw is between min and max inclusive", stmt(`,"result":{"score":{"raw":10,"min":0,"max":10}}`)),
	ok("raw without bounds", "Data 2.4.5.1: raw is unrestricted without min and max", stmt(`,"result":{"score":{"raw":-5.5}}`)),
	ok("negative bounds", "Data 2.4.5.1: min < max", stmt(`,"result":{"score":{"raw":-7,"min":-10,"max":-5}}`)),
	ok("exponent notation", "RFC 8259 numbers", stmt(`,"result":{"score":{"raw":1e2,"max":1E3}}`)),
	ok("raw with min only", "Data 2.4.5.1: raw >= min", stmt(`,"result":{"score":{"raw":3,"min":2}}`)),
	ok("empty score", "Data 2.4.5.1: every Score property is optional", stmt(`,"result":{"score":{}}`)),
	ok("empty response", "Data 2.4.5: response is any string", stmt(`,"result":{"response":""}`)),
	bad("scaled above 1", "Data 2.4.5.1: scaled is between -1 and 1", stmt(`,"result":{"score":{"scaled":1.01}}`)),
	bad("scaled just above 1", "Data 2.4.5.1: scaled is between -1 and 1 (compared exactly)", stmt(`,"result":{"score":{"scaled":1.00000000000000000001}}`)),
	bad("scaled below -1", "Data 2.4.5.1: scaled is between -1 and 1", stmt(`,"result":{"score":{"scaled":-1.0000001}}`)),
	bad("scaled a string", "Data 2.2: a number where a number is required", stmt(`,"result":{"score":{"scaled":"0.5"}}`)),
	bad("scaled null", "Data 2.2: no null values", stmt(`,"result":{"score":{"scaled":null}}`)),
	bad("min above max", "Data 2.4.5.1: min is less than max", stmt(`,"result":{"score":{"min":10,"max":0}}`)),
	bad("min equals max", "Data 2.4.5.1: min is less than max", stmt(`,"result":{"score":{"min":5,"max":5.0}}`)),
	bad("raw below min", "Data 2.4.5.1: raw is between min and max", stmt(`,"result":{"score":{"raw":-1,"min":0,"max":10}}`)),
	bad("raw above max", "Data 2.4.5.1: raw is between min and max", stmt(`,"result":{"score":{"raw":11,"min":0,"max":10}}`)),
	bad("raw above max alone", "Data 2.4.5.1: raw <= max", stmt(`,"result":{"score":{"raw":11,"max":10}}`)),
	bad("raw beyond float64", "numbers outside the 64-bit float range cannot be stored", stmt(`,"result":{"score":{"raw":1e400}}`)),
	bad("score extra property", "Data 2.2: properties not in the specification are rejected", stmt(`,"result":{"score":{"percent":50}}`)),
	bad("success a string", "Data 2.2: a boolean where a boolean is required", stmt(`,"result":{"success":"true"}`)),
	bad("completion a number", "Data 2.2: a boolean where a boolean is required", stmt(`,"result":{"completion":1}`)),
	bad("response a number", "Data 2.2: a string where a string is required", stmt(`,"result":{"response":5}`)),
	bad("response null", "Data 2.2: no null values", stmt(`,"result":{"response":null}`)),
	bad("result extra property", "Data 2.2: properties not in the specification are rejected", stmt(`,"result":{"passed":true}`)),
	bad("result an array", "Data 2.4.5: result is an object", stmt(`,"result":[{"success":true}]`)),
)

var contextCases = cases(
	ok("full context", "Data 2.4.6: context properties", stmt(`,"context":{"registration":"ec531277-b57b-4c15-8d91-d292c5b2b8f7","instructor":{"mbox":"mailto:teacher@example.com"},"team":{"objectType":"Group","mbox":"mailto:team@example.com"},"contextActivities":{"parent":[{"id":"http://example.com/p"}]},"revision":"3","platform":"Example LMS","language":"en-US","statement":{"objectType":"StatementRef","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"},"extensions":{"http://example.com/e":true}}`)),
	ok("empty context", "Data 2.4.6: every Context property is optional", stmt(`,"context":{}`)),
	ok("contextActivities empty array", "Data 2.4.6.2: a list of Activities (may be empty)", stmt(`,"context":{"contextActivities":{"other":[]}}`)),
	ok("contextActivities all four", "Data 2.4.6.2: parent, grouping, category, other", stmt(`,"context":{"contextActivities":{"parent":{"id":"http://example.com/p"},"grouping":[{"id":"http://example.com/g"}],"category":[{"id":"http://example.com/c"}],"other":[{"id":"http://example.com/o"}]}}`)),
	ok("revision with Activity object", "Data 2.4.6: revision with an Activity object", stmt(`,"context":{"revision":"1.2"}`)),
	ok("platform with typed Activity object", "Data 2.4.6: platform with an Activity object", `{"actor":$A,"verb":$V,"object":{"objectType":"Activity","id":"http://example.com/a"},"context":{"platform":"LMS"}}`),
	bad("revision with Agent object", "Data 2.4.6: revision only if the object is an Activity", `{"actor":$A,"verb":$V,"object":{"objectType":"Agent","mbox":"mailto:b@example.com"},"context":{"revision":"1"}}`),
	bad("platform with StatementRef object", "Data 2.4.6: platform only if the object is an Activity", `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"},"context":{"platform":"LMS"}}`),
	bad("revision with SubStatement object", "Data 2.4.6: revision only if the object is an Activity", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O},"context":{"revision":"1"}}`),
	bad("SubStatement platform with Group object", "Data 2.4.6 for a SubStatement: platform only if its object is an Activity", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":{"objectType":"Group","mbox":"mailto:t@example.com"},"context":{"platform":"LMS"}}}`),
	bad("revision a number", "Data 2.2: a string where a string is required", stmt(`,"context":{"revision":2}`)),
	bad("platform null", "Data 2.2: no null values", stmt(`,"context":{"platform":null}`)),
	bad("language not a tag", "Data 2.4.6: language is an RFC 5646 tag", stmt(`,"context":{"language":"en_US"}`)),
	bad("language a number", "Data 2.2: a string where a string is required", stmt(`,"context":{"language":1}`)),
	bad("unknown contextActivities key", "Data 2.4.6.2: keys are parent, grouping, category or other", stmt(`,"context":{"contextActivities":{"parents":[{"id":"http://example.com/p"}]}}`)),
	bad("contextActivities key in wrong case", "Data 2.4.6.2: keys are parent, grouping, category or other", stmt(`,"context":{"contextActivities":{"Parent":[{"id":"http://example.com/p"}]}}`)),
	bad("contextActivities value a string", "Data 2.4.6.2: values are Activities or arrays of Activities", stmt(`,"context":{"contextActivities":{"parent":"http://example.com/p"}}`)),
	bad("contextActivities value null", "Data 2.2: no null values", stmt(`,"context":{"contextActivities":{"parent":null}}`)),
	bad("contextActivities holds an Agent", "Data 2.4.6.2: values are Activities", stmt(`,"context":{"contextActivities":{"other":[{"objectType":"Agent","mbox":"mailto:b@example.com"}]}}`)),
	bad("contextActivities an array", "Data 2.4.6.2: contextActivities is an object", stmt(`,"context":{"contextActivities":[{"id":"http://example.com/p"}]}`)),
	bad("context.statement without objectType", "Data 2.4.6: statement is a Statement Reference, which specifies objectType", stmt(`,"context":{"statement":{"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}`)),
	bad("context.statement objectType lower case", "Data 2.2: enumerated values match in case", stmt(`,"context":{"statement":{"objectType":"statementref","id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}`)),
	bad("team an Agent", "Data 2.4.6: team is a Group", stmt(`,"context":{"team":{"mbox":"mailto:t@example.com"}}`)),
	bad("context extra property", "Data 2.2: properties not in the specification are rejected", stmt(`,"context":{"course":"101"}`)),
	bad("context null", "Data 2.2: no null values", stmt(`,"context":null`)),
)

var ctxAgent = `{"objectType":"contextAgent","agent":{"mbox":"mailto:peer@example.com"},"relevantTypes":["http://example.com/types/peer"]}`
var ctxGroup = `{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:team@example.com"},"relevantTypes":["http://example.com/types/team"]}`

var contextAgentCases = cases(
	okOnly200("contextAgents", "2.0 context.contextAgents (1.0.3 has no such property)", stmt(`,"context":{"contextAgents":[`+ctxAgent+`]}`)),
	okOnly200("contextAgent without relevantTypes", "2.0: relevantTypes is optional", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"openid":"https://id.example.com/p"}}]}`)),
	okOnly200("several contextAgents", "2.0: contextAgents is an array", stmt(`,"context":{"contextAgents":[`+ctxAgent+`,`+ctxAgent+`]}`)),
	okOnly200("empty contextAgents", "2.0: contextAgents is an array", stmt(`,"context":{"contextAgents":[]}`)),
	okOnly200("contextGroups", "2.0 context.contextGroups (1.0.3 has no such property)", stmt(`,"context":{"contextGroups":[`+ctxGroup+`]}`)),
	okOnly200("anonymous contextGroup", "2.0: the group is any Group", stmt(`,"context":{"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"}]}}]}`)),
	okOnly200("SubStatement contextAgents", "2.0: SubStatement context takes contextAgents", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"context":{"contextAgents":[`+ctxAgent+`]}}}`),
	bad("contextAgent objectType wrong", "2.0 (ADL contextagents.js): objectType is contextAgent", stmt(`,"context":{"contextAgents":[{"objectType":"Should fail","agent":{"mbox":"mailto:p@example.com"}}]}`)),
	bad("contextAgent objectType Agent", "2.0: objectType is contextAgent", stmt(`,"context":{"contextAgents":[{"objectType":"Agent","agent":{"mbox":"mailto:p@example.com"}}]}`)),
	bad("contextAgent without objectType", "2.0: objectType is required", stmt(`,"context":{"contextAgents":[{"agent":{"mbox":"mailto:p@example.com"}}]}`)),
	bad("contextAgent without agent", "2.0: agent is required", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","relevantTypes":["http://example.com/t"]}]}`)),
	bad("contextAgent agent is a Group", "2.0: a contextAgent's agent is an Agent", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"objectType":"Group","mbox":"mailto:t@example.com"}}]}`)),
	bad("contextAgent relevantTypes empty", "2.0 (ADL contextagents.js): relevantTypes is not empty", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:p@example.com"},"relevantTypes":[]}]}`)),
	bad("contextAgent relevantTypes not IRIs", "2.0 (ADL contextagents.js): relevantTypes are IRIs", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:p@example.com"},"relevantTypes":["peer"]}]}`)),
	bad("contextAgent relevantTypes a string", "2.0: relevantTypes is an array", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:p@example.com"},"relevantTypes":"http://example.com/t"}]}`)),
	bad("contextAgent extra property", "2.0: properties not in the standard are rejected", stmt(`,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:p@example.com"},"role":"peer"}]}`)),
	bad("contextAgents an object", "2.0: contextAgents is an array", stmt(`,"context":{"contextAgents":`+ctxAgent+`}`)),
	bad("contextGroup objectType wrong", "2.0 (ADL contextgroups.js): objectType is contextGroup", stmt(`,"context":{"contextGroups":[{"objectType":"contextAgent","group":{"objectType":"Group","mbox":"mailto:t@example.com"}}]}`)),
	bad("contextGroup without group", "2.0: group is required", stmt(`,"context":{"contextGroups":[{"objectType":"contextGroup"}]}`)),
	bad("contextGroup group is an Agent", "2.0: a contextGroup's group is a Group", stmt(`,"context":{"contextGroups":[{"objectType":"contextGroup","group":{"mbox":"mailto:t@example.com"}}]}`)),
	bad("contextGroup relevantTypes empty", "2.0 (ADL contextgroups.js): relevantTypes is not empty", stmt(`,"context":{"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:t@example.com"},"relevantTypes":[]}]}`)),
	bad("contextGroup relevantTypes not IRIs", "2.0 (ADL contextgroups.js): relevantTypes are IRIs", stmt(`,"context":{"contextGroups":[{"objectType":"contextGroup","group":{"objectType":"Group","mbox":"mailto:t@example.com"},"relevantTypes":[5]}]}`)),
)

var interactionCases = cases(
	ok("true-false", "Data 2.4.4.1 interaction types", interaction(`{"type":"http://adlnet.gov/expapi/activities/cmi.interaction","interactionType":"true-false","correctResponsesPattern":["true"]}`)),
	ok("choice", "Data 2.4.4.1: choice takes choices", interaction(`{"interactionType":"choice","correctResponsesPattern":["golf[,]tetris"],"choices":[{"id":"golf","description":{"en-US":"Golf"}},{"id":"tetris","description":{"en-US":"Tetris"}}]}`)),
	ok("fill-in", "Data 2.4.4.1 interaction types", interaction(`{"interactionType":"fill-in","correctResponsesPattern":["{case_matters=false}Bob's your uncle"]}`)),
	ok("long-fill-in", "Data 2.4.4.1 interaction types", interaction(`{"interactionType":"long-fill-in","correctResponsesPattern":["{lang=en}It's a long story"]}`)),
	ok("matching", "Data 2.4.4.1: matching takes source and target", interaction(`{"interactionType":"matching","correctResponsesPattern":["ben[.]3[,]chris[.]2"],"source":[{"id":"ben"},{"id":"chris"}],"target":[{"id":"2"},{"id":"3"}]}`)),
	ok("performance", "Data 2.4.4.1: performance takes steps", interaction(`{"interactionType":"performance","correctResponsesPattern":["pong[.]1:[,]dg[.]:10"],"steps":[{"id":"pong"},{"id":"dg"}]}`)),
	ok("sequencing", "Data 2.4.4.1: sequencing takes choices", interaction(`{"interactionType":"sequencing","correctResponsesPattern":["tim[,]mike"],"choices":[{"id":"tim"},{"id":"mike"}]}`)),
	ok("likert", "Data 2.4.4.1: likert takes scale", interaction(`{"interactionType":"likert","correctResponsesPattern":["likert_3"],"scale":[{"id":"likert_0"},{"id":"likert_3"}]}`)),
	ok("numeric", "Data 2.4.4.1 interaction types", interaction(`{"interactionType":"numeric","correctResponsesPattern":["4[:]"]}`)),
	ok("other", "Data 2.4.4.1 interaction types", interaction(`{"interactionType":"other","correctResponsesPattern":["(35.937432,-86.868896)"]}`)),
	ok("empty correctResponsesPattern", "Data 2.4.4.1: an empty array means no correct answer", interaction(`{"interactionType":"choice","correctResponsesPattern":[],"choices":[]}`)),
	ok("interactionType without pattern", "Data 2.4.4.1: correctResponsesPattern is optional", interaction(`{"interactionType":"choice"}`)),
	ok("component id with space", "Data 2.4.4.1: ids SHOULD NOT have whitespace (not a MUST)", interaction(`{"interactionType":"choice","choices":[{"id":"a b"}]}`)),
	bad("unknown interactionType", "Data 2.4.4.1: interactionType is one of the ten types", interaction(`{"interactionType":"essay"}`)),
	bad("interactionType in wrong case", "Data 2.2: enumerated values match in case", interaction(`{"interactionType":"True-False"}`)),
	bad("interactionType a number", "Data 2.2: a string where a string is required", interaction(`{"interactionType":1}`)),
	bad("pattern without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"correctResponsesPattern":["true"]}`)),
	bad("choices without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"choices":[{"id":"a"}]}`)),
	bad("scale without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"scale":[{"id":"a"}]}`)),
	bad("source without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"source":[{"id":"a"}]}`)),
	bad("target without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"target":[{"id":"a"}]}`)),
	bad("steps without interactionType", "Data 2.4.4.1: interaction properties need interactionType (ADL test)", interaction(`{"steps":[{"id":"a"}]}`)),
	bad("scale on choice", "Data 2.4.4.1: choice takes choices only", interaction(`{"interactionType":"choice","scale":[{"id":"a"}]}`)),
	bad("choices on likert", "Data 2.4.4.1: likert takes scale only", interaction(`{"interactionType":"likert","choices":[{"id":"a"}]}`)),
	bad("steps on matching", "Data 2.4.4.1: matching takes source and target only", interaction(`{"interactionType":"matching","steps":[{"id":"a"}]}`)),
	bad("choices on true-false", "Data 2.4.4.1: true-false takes no component list", interaction(`{"interactionType":"true-false","choices":[{"id":"a"}]}`)),
	bad("source on performance", "Data 2.4.4.1: performance takes steps only", interaction(`{"interactionType":"performance","source":[{"id":"a"}]}`)),
	bad("target on numeric", "Data 2.4.4.1: numeric takes no component list", interaction(`{"interactionType":"numeric","target":[{"id":"a"}]}`)),
	bad("repeated component id", "Data 2.4.4.1: component ids are distinct within a list", interaction(`{"interactionType":"choice","choices":[{"id":"a"},{"id":"b"},{"id":"a"}]}`)),
	bad("component without id", "Data 2.4.4.1: a component has an id", interaction(`{"interactionType":"choice","choices":[{"description":{"en-US":"A"}}]}`)),
	bad("component empty id", "Data 2.4.4.1: a component id identifies it", interaction(`{"interactionType":"choice","choices":[{"id":""}]}`)),
	bad("component id a number", "Data 2.2: a string where a string is required", interaction(`{"interactionType":"choice","choices":[{"id":1}]}`)),
	bad("component extra property", "Data 2.2: properties not in the specification are rejected", interaction(`{"interactionType":"choice","choices":[{"id":"a","correct":true}]}`)),
	bad("components not an array", "Data 2.4.4.1: a component list is an array", interaction(`{"interactionType":"choice","choices":{"id":"a"}}`)),
	bad("pattern a string", "Data 2.4.4.1: correctResponsesPattern is an array of strings", interaction(`{"interactionType":"true-false","correctResponsesPattern":"true"}`)),
	bad("pattern with a number", "Data 2.4.4.1: correctResponsesPattern is an array of strings", interaction(`{"interactionType":"numeric","correctResponsesPattern":[4]}`)),
)

var attachmentCases = cases(
	ok("attachment", "Data 2.4.11: usageType, display, contentType, length, sha2", attachment(attFull)),
	ok("attachment with description and fileUrl", "Data 2.4.11: description and fileUrl are optional", attachment(attFull+`,"description":{"en-US":"A signature"},"fileUrl":"https://files.example.com/sig.bin"`)),
	ok("SHA-512", "Data 2.4.11: sha2 is any SHA-2", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain; charset=utf-8","length":0,"sha2":"`+strings.Repeat("ab", 64)+`"`)),
	ok("SHA-224", "Data 2.4.11: sha2 is any SHA-2", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"image/svg+xml","length":12,"sha2":"`+strings.Repeat("0f", 28)+`"`)),
	ok("length 1.0", "JSON: 1.0 is the integer 1", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":1.0,"sha2":"`+sha256Hello+`"`)),
	ok("several attachments", "Data 2.4.11: attachments is an ordered array", stmt(`,"attachments":[{`+attFull+`},{`+attFull+`}]`)),
	ok("empty attachments", "Data 2.4.11: attachments is an array", stmt(`,"attachments":[]`)),
	bad("without usageType", "Data 2.4.11: usageType is required", attachment(`"display":{"en":"x"},"contentType":"text/plain","length":5,"sha2":"`+sha256Hello+`"`)),
	bad("without display", "Data 2.4.11: display is required", attachment(`"usageType":"http://example.com/u","contentType":"text/plain","length":5,"sha2":"`+sha256Hello+`"`)),
	bad("without contentType", "Data 2.4.11: contentType is required", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"length":5,"sha2":"`+sha256Hello+`"`)),
	bad("without length", "Data 2.4.11: length is required", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","sha2":"`+sha256Hello+`"`)),
	bad("without sha2", "Data 2.4.11: sha2 is required, even with fileUrl", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":5,"fileUrl":"https://files.example.com/f"`)),
	bad("usageType not an IRI", "Data 2.4.11: usageType is an IRI", attachment(`"usageType":"signature","display":{"en":"x"},"contentType":"text/plain","length":5,"sha2":"`+sha256Hello+`"`)),
	bad("contentType not a media type", "Data 2.4.11: contentType is an Internet Media Type", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text","length":5,"sha2":"`+sha256Hello+`"`)),
	bad("length a string", "Data 2.2: a number where a number is required", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":"5","sha2":"`+sha256Hello+`"`)),
	bad("negative length", "Data 2.4.11: length counts octets", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":-1,"sha2":"`+sha256Hello+`"`)),
	bad("fractional length", "Data 2.4.11: length is an integer", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":1.5,"sha2":"`+sha256Hello+`"`)),
	bad("length beyond 2^53-1", "Data 2.4.11: length is an integer (this LRS: up to 2^53-1)", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":1e20,"sha2":"`+sha256Hello+`"`)),
	bad("sha2 of SHA-1 length", "Data 2.4.11: sha2 is a SHA-2 hash", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":5,"sha2":"ebd31e95054c018b10727ccffd2ef2ec3a016ee9"`)),
	bad("sha2 not hex", "Data 2.4.11: sha2 is a hex SHA-2 hash", attachment(`"usageType":"http://example.com/u","display":{"en":"x"},"contentType":"text/plain","length":5,"sha2":"`+strings.Repeat("zz", 32)+`"`)),
	bad("fileUrl not an IRL", "Data 2.4.11: fileUrl is an IRL", attachment(attFull+`,"fileUrl":"files/sig.bin"`)),
	bad("attachment extra property", "Data 2.2: properties not in the specification are rejected", attachment(attFull+`,"name":"sig"`)),
	bad("attachments an object", "Data 2.4.11: attachments is an array", stmt(`,"attachments":{`+attFull+`}`)),
	bad("attachment null", "Data 2.2: no null values", stmt(`,"attachments":[null]`)),
)

var authorityGroupSlot = slot{name: "authority Group", tpl: `{"actor":$A,"verb":$V,"object":$O,"authority":@@}`}

// corpus returns every case, each with a unique name.
func corpus() []corpusCase {
	var all []corpusCase
	all = append(all, cross(agentSlots, agentVariants)...)
	all = append(all, cross(groupSlots, groupVariants)...)
	for _, v := range groupVariants {
		c := place(authorityGroupSlot, v)
		if v.name != "anonymous with two members" {
			c.ok103, c.ok200 = false, false
			if v.ok103 {
				c.req = "Data 2.4.9: an authority Group is an anonymous Group of exactly two Agents"
			}
		}
		all = append(all, c)
	}
	all = append(all, cross(activitySlots, activityVariants)...)
	all = append(all, cross(langMapSlots, langMapVariants)...)
	all = append(all, cross(timestampSlots, timestampVariants)...)
	all = append(all, cross(durationSlots, durationVariants)...)
	all = append(all, cross(uuidSlots, uuidVariants)...)
	all = append(all, cross(extensionSlots, extensionVariants)...)
	for _, group := range [][]corpusCase{statementCases, resultCases, contextCases, contextAgentCases, interactionCases, attachmentCases} {
		all = append(all, group...)
	}
	seen := map[string]bool{}
	for i := range all {
		if seen[all[i].name] {
			all[i].name = fmt.Sprintf("%s #%d", all[i].name, i)
		}
		seen[all[i].name] = true
	}
	return all
}
