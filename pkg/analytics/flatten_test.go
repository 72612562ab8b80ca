package analytics

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
)

// fullStatement uses every member the columns read, in the shape ingest
// publishes (id, stored, authority, version filled in).
const fullStatement = `{
  "id": "6f1c1e0a-3b8e-4a57-9d5a-1c2b3d4e5f60",
  "actor": {"objectType": "Agent", "name": "Ada", "account": {"homePage": "https://lms.example", "name": "ada"}},
  "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"fr": "réussi", "en-US": "passed"}},
  "object": {"objectType": "Activity", "id": "https://lms.example/course/1",
    "definition": {"type": "http://adlnet.gov/expapi/activities/course", "name": {"de": "Kurs", "en": "Course"},
      "extensions": {"https://ext/b": 1, "https://ext/a": {"x": 2}}}},
  "result": {"success": true, "completion": false, "duration": "PT1H2M3.5S", "response": "42",
    "score": {"scaled": 0.75, "raw": 75, "min": 0, "max": 100}, "extensions": {"https://ext/r": true}},
  "context": {"registration": "0d5a9c3e-2f6b-4c1d-8e7f-123456789abc", "platform": "Moodle", "language": "en-GB",
    "instructor": {"mbox": "mailto:teacher@example.org"},
    "team": {"objectType": "Group", "name": "Team A", "openid": "https://id.example/team-a"},
    "contextActivities": {"parent": [{"id": "https://p/1"}, {"id": "https://p/2"}], "grouping": {"id": "https://g/1"},
      "category": [{"id": "https://c/1"}], "other": [{"id": "https://o/1"}]},
    "contextAgents": [{"objectType": "contextAgent", "agent": {"mbox_sha1sum": "cd3f1a"}}],
    "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [{"mbox": "mailto:x@y"}]}}],
    "extensions": {"https://ext/c": 1}},
  "timestamp": "2024-03-05T23:30:01.123456+02:00",
  "stored": "2024-03-05T21:30:02.5Z",
  "authority": {"objectType": "Group", "member": [{"account": {"homePage": "https://lrs", "name": "lms-b"}}, {"mbox": "mailto:app@lms"}]},
  "version": "2.0.0"
}`

func flatten(s Statement) (row, error) {
	var f flattener
	return f.flatten(s)
}

func TestFlattenFullStatement(t *testing.T) {
	r, err := flatten(Statement{Tenant: "acme", JSON: []byte(fullStatement)})
	if err != nil {
		t.Fatalf("flatten: %v", err)
	}
	u8 := func(v uint8) *uint8 { return &v }
	f := func(v float64) *float64 { return &v }
	s := func(v string) *string { return &v }
	reg := uuid.MustParse("0d5a9c3e-2f6b-4c1d-8e7f-123456789abc")
	want := row{
		tenant:               "acme",
		statementID:          uuid.MustParse("6f1c1e0a-3b8e-4a57-9d5a-1c2b3d4e5f60"),
		timestamp:            1709674201, // 2024-03-05T21:30:01Z
		timestampMS:          123,
		stored:               1709674202,
		storedMS:             500,
		actorKind:            "Agent",
		actorIFIKind:         "account",
		actorIFI:             "https://lms.example|ada",
		actorName:            "Ada",
		actorAccountHomePage: "https://lms.example",
		actorAccountName:     "ada",
		verbID:               "http://adlnet.gov/expapi/verbs/passed",
		verbDisplay:          "passed",
		objectKind:           "Activity",
		objectID:             "https://lms.example/course/1",
		objectType:           "http://adlnet.gov/expapi/activities/course",
		objectName:           "Course",
		resultSuccess:        u8(1),
		resultCompletion:     u8(0),
		scoreScaled:          f(0.75),
		scoreRaw:             f(75),
		scoreMin:             f(0),
		scoreMax:             f(100),
		durationS:            f(3723.5),
		response:             s("42"),
		registration:         &reg,
		platform:             "Moodle",
		language:             "en-GB",
		instructor:           "mailto:teacher@example.org",
		team:                 "https://id.example/team-a",
		parentIDs:            []string{"https://p/1", "https://p/2"},
		groupingIDs:          []string{"https://g/1"},
		categoryIDs:          []string{"https://c/1"},
		otherIDs:             []string{"https://o/1"},
		contextAgents:        []string{"cd3f1a"},
		contextGroups:        []string{""},
		contextExtKeys:       []string{"https://ext/c"},
		resultExtKeys:        []string{"https://ext/r"},
		objectExtKeys:        []string{"https://ext/a", "https://ext/b"},
		version:              "2.0.0",
		authority:            "https://lrs|lms-b,mailto:app@lms",
		json:                 []byte(fullStatement),
		month:                202403,
	}
	if !reflect.DeepEqual(r, want) {
		gv, wv := reflect.ValueOf(r), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s = %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
}

func TestFlattenObjectKinds(t *testing.T) {
	target := "11111111-2222-4333-8444-555555555555"
	tests := []struct {
		name, object, verb   string
		kind, id, objectName string
		voids                bool
	}{
		{"activity without objectType", `{"id": "https://a/1"}`, "https://v/x", "Activity", "https://a/1", "", false},
		{"agent", `{"objectType": "Agent", "mbox": "mailto:b@c", "name": "B"}`, "https://v/x", "Agent", "mailto:b@c", "B", false},
		{"statement ref", `{"objectType": "StatementRef", "id": "` + target + `"}`, "https://v/x", "StatementRef", target, "", false},
		{"voiding", `{"objectType": "StatementRef", "id": "` + target + `"}`, VerbVoided, "StatementRef", target, "", true},
		{"substatement", `{"objectType": "SubStatement", "actor": {"mbox": "mailto:a@b"}, "verb": {"id": "https://v/y"}, "object": {"id": "https://a/2"}}`, "https://v/x", "SubStatement", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := flatten(Statement{Tenant: "t", JSON: statementWith(tt.verb, tt.object)})
			if err != nil {
				t.Fatalf("flatten: %v", err)
			}
			if r.objectKind != tt.kind || r.objectID != tt.id || r.objectName != tt.objectName {
				t.Errorf("object = (%q, %q, %q), want (%q, %q, %q)", r.objectKind, r.objectID, r.objectName, tt.kind, tt.id, tt.objectName)
			}
			if got := r.voidedStatementID != nil && r.voidedStatementID.String() == target; got != tt.voids {
				t.Errorf("voided_statement_id = %v, want voiding %v", r.voidedStatementID, tt.voids)
			}
		})
	}
}

func statementWith(verb, object string) []byte {
	return []byte(`{"id": "6f1c1e0a-3b8e-4a57-9d5a-1c2b3d4e5f60", "actor": {"mbox": "mailto:a@b"},
		"verb": {"id": "` + verb + `"}, "object": ` + object + `,
		"timestamp": "2024-01-01T00:00:00Z", "stored": "2024-01-01T00:00:00Z", "version": "1.0.3",
		"authority": {"mbox": "mailto:lrs@x"}}`)
}

func TestFlattenRejects(t *testing.T) {
	ok := `{"id": "6f1c1e0a-3b8e-4a57-9d5a-1c2b3d4e5f60", "actor": {"mbox": "mailto:a@b"}, "verb": {"id": "https://v"},
		"object": {"id": "https://a"}, "timestamp": "2024-01-01T00:00:00Z", "stored": "2024-01-01T00:00:00Z"}`
	tests := []struct {
		name, tenant, json, reason string
	}{
		{"no tenant", "", ok, "tenant"},
		{"not JSON", "t", `{"id": `, "statement JSON"},
		{"bad id", "t", strings.Replace(ok, "6f1c1e0a-3b8e-4a57-9d5a-1c2b3d4e5f60", "nope", 1), "id"},
		{"no actor", "t", strings.Replace(ok, `"actor": {"mbox": "mailto:a@b"},`, "", 1), "actor"},
		{"no verb", "t", strings.Replace(ok, `"verb": {"id": "https://v"},`, "", 1), "verb"},
		{"no timestamp", "t", strings.Replace(ok, `"timestamp": "2024-01-01T00:00:00Z",`, "", 1), "timestamp is missing"},
		{"timestamp before 1970", "t", strings.Replace(ok, `"timestamp": "2024`, `"timestamp": "1969`, 1), "outside the range"},
		{"bad stored", "t", strings.Replace(ok, `"stored": "2024-01-01T00:00:00Z"`, `"stored": "yesterday"`, 1), "stored"},
		{"unknown object type", "t", strings.Replace(ok, `{"id": "https://a"}`, `{"objectType": "Thing"}`, 1), "objectType"},
		{"voiding without StatementRef", "t", strings.Replace(ok, "https://v", VerbVoided, 1), "StatementRef"},
		{"bad registration", "t", strings.Replace(ok, `"object"`, `"context": {"registration": "x"}, "object"`, 1), "registration"},
		{"bad duration", "t", strings.Replace(ok, `"object"`, `"result": {"duration": "1 hour"}, "object"`, 1), "duration"},
		{"score not a number", "t", strings.Replace(ok, `"object"`, `"result": {"score": {"scaled": "high"}}, "object"`, 1), "score.scaled"},
		{"success not a boolean", "t", strings.Replace(ok, `"object"`, `"result": {"success": "yes"}, "object"`, 1), "success"},
		{"actor not an object", "t", strings.Replace(ok, `{"mbox": "mailto:a@b"}`, `"a@b"`, 1), "actor"},
		{"mbox not a string", "t", strings.Replace(ok, `{"mbox": "mailto:a@b"}`, `{"mbox": 7}`, 1), "mbox"},
		{"statement is an array", "t", `[]`, "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := flatten(Statement{Tenant: tt.tenant, JSON: []byte(tt.json)})
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.reason)
			}
		})
	}
	if _, err := flatten(Statement{Tenant: "t", JSON: []byte(ok)}); err != nil {
		t.Fatalf("the valid base statement was rejected: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"PT1H30M5.25S", 5405.25, true},
		{"PT0S", 0, true},
		{"P1DT2H", 93600, true},
		{"P3W", 3 * 7 * 86400, true},
		{"P1Y2M", 365*86400 + 60*86400, true},
		{"PT0,5S", 0.5, true},
		{"PT36H", 129600, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"1H", 0, false},
		{"PT1D", 0, false},
		{"P1H", 0, false},
		{"PTT1S", 0, false},
		{"PT-1S", 0, false},
		{"PTxS", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseDuration(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("parseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPickLanguage(t *testing.T) {
	tests := []struct {
		m, want string
		ok      bool
	}{
		{`{}`, "", true},
		{`{"fr": "a", "en-US": "b", "en": "c"}`, "b", true},
		{`{"fr": "a", "en": "c"}`, "c", true},
		{`{"fr": "a", "de": "d", "it": "i"}`, "d", true},
		{`{"fr": 1}`, "", false},
		{`"en"`, "", false},
	}
	for _, tt := range tests {
		got, err := pickLanguage(fastjson.MustParse(tt.m))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("pickLanguage(%s) = %q, %v; want %q, ok=%v", tt.m, got, err, tt.want, tt.ok)
		}
	}
}
