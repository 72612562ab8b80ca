package xapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"1.0", V1_0_3, true}, {"1.0.0", V1_0_3, true}, {"1.0.3", V1_0_3, true}, {"1.0.9", V1_0_3, true}, {" 1.0.1 ", V1_0_3, true},
		{"2.0", V2_0_0, true}, {"2.0.0", V2_0_0, true}, {"2.0.1", V2_0_0, true},
		{"", "", false}, {"1.1.0", "", false}, {"0.95", "", false}, {"1.0.", "", false}, {"2.0.x", "", false}, {"1", "", false}, {"3.0.0", "", false},
	}
	for _, c := range cases {
		got, err := ParseVersion(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestStoredForm pins the stored form byte for byte: assigned members at
// the end, id lower-cased, timestamps in UTC (SubStatement too),
// contextActivities as arrays, authority replaced, stored overwritten.
func TestStoredForm(t *testing.T) {
	body := `{"id":"FD41C918-B88B-4B20-A0A5-A4C32391AAA0", "actor":{"mbox":"mailto:ada@example.com"},
	"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},
	"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:b@example.com"},"verb":{"id":"http://example.com/v"},
		"object":{"id":"http://example.com/a"},"timestamp":"2024-05-01T14:30:00.5+02:00",
		"context":{"contextActivities":{"parent":{"id":"http://example.com/p"}}}},
	"context":{"contextActivities":{"parent":{"id":"http://example.com/p"},"other":[{"id":"http://example.com/o"}]}},
	"timestamp":"2024-05-01T14:30:00.123+02:00","stored":"1999-01-01T00:00:00Z","authority":{"mbox":"mailto:fake@example.com"}}`
	a := Assign{
		Stored:    time.Date(2024, 5, 1, 12, 0, 0, 987654321, time.UTC),
		Authority: json.RawMessage(`{"account":{"homePage":"https://lrs.example.com","name":"lms-1"}}`),
		NewID:     func() string { t.Fatal("NewID called for a statement with an id"); return "" },
	}
	const tail = `"object":{"objectType":"SubStatement","actor":{"mbox":"mailto:b@example.com"},"verb":{"id":"http://example.com/v"},` +
		`"object":{"id":"http://example.com/a"},"timestamp":"2024-05-01T12:30:00.5Z",` +
		`"context":{"contextActivities":{"parent":[{"id":"http://example.com/p"}]}}},` +
		`"context":{"contextActivities":{"parent":[{"id":"http://example.com/p"}],"other":[{"id":"http://example.com/o"}]}},` +
		`"timestamp":"2024-05-01T12:30:00.123Z","stored":"2024-05-01T12:00:00.987Z",` +
		`"authority":{"account":{"homePage":"https://lrs.example.com","name":"lms-1"}},"version":"%s"}`
	const head = `{"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0","actor":{"mbox":"mailto:ada@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},`
	for _, v := range testVersions {
		ps, err := PrepareStatements([]byte(body), v, a)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		want := head + fmt.Sprintf(tail, DefaultVersion(v))
		if got := string(ps[0].JSON); got != want {
			t.Errorf("%s stored form:\n got %s\nwant %s", v, got, want)
		}
		if ps[0].ID != "fd41c918-b88b-4b20-a0a5-a4c32391aaa0" || ps[0].VoidedID != "" || len(ps[0].Fingerprint) != 64 {
			t.Errorf("%s: prepared = %+v", v, ps[0])
		}
	}
}

func TestAssignedMembers(t *testing.T) {
	cases := []struct {
		name      string
		members   string
		v         Version
		authority string
		want      []string // substrings of the stored form
		absent    []string
	}{
		{"version kept", `,"version":"1.0"`, V2_0_0, "", []string{`"version":"1.0"}`}, nil},
		{"1.0.3 default version", ``, V1_0_3, "", []string{`"version":"1.0.0"}`}, nil},
		{"2.0 default version", ``, V2_0_0, "", []string{`"version":"2.0.0"}`}, nil},
		{"timestamp set to stored", ``, V1_0_3, "", []string{`"timestamp":"2024-05-01T12:00:00.000Z","stored":"2024-05-01T12:00:00.000Z"`}, nil},
		{"1.0.3 zone-less timestamp read as UTC", `,"timestamp":"2024-05-01T09:15"`, V1_0_3, "", []string{`"timestamp":"2024-05-01T09:15:00Z"`}, nil},
		{"1.0.3 basic offset converted", `,"timestamp":"2024-05-01T09:15:00,25-0130"`, V1_0_3, "", []string{`"timestamp":"2024-05-01T10:45:00.25Z"`}, nil},
		{"UTC timestamp copied as sent", `,"timestamp":"2024-05-01T09:15:00.1234567891Z"`, V2_0_0, "", []string{`"timestamp":"2024-05-01T09:15:00.1234567891Z"`}, nil},
		{"own authority kept without a credential authority", `,"authority":{"mbox":"mailto:own@example.com"}`, V1_0_3, "", []string{`"authority":{"mbox":"mailto:own@example.com"}`}, nil},
		{"authority set from the credential", ``, V1_0_3, `{"mbox":"mailto:cred@example.com"}`, []string{`"authority":{"mbox":"mailto:cred@example.com"}`}, nil},
		{"no authority at all", ``, V1_0_3, "", nil, []string{`"authority"`}},
		{"whitespace removed", ` , "result" : { "success" : true } `, V1_0_3, "", []string{`"result":{"success":true}`}, nil},
		{"escapes kept", `,"result":{"response":"a\"b\u00e9"}`, V1_0_3, "", []string{`"response":"a\"b\u00e9"`}, nil},
	}
	for _, c := range cases {
		a := testAssign()
		a.Authority = json.RawMessage(c.authority)
		ps, err := PrepareStatements([]byte(stmt(c.members)), c.v, a)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := string(ps[0].JSON)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: stored form lacks %s:\n%s", c.name, w, got)
			}
		}
		for _, w := range c.absent {
			if strings.Contains(got, w) {
				t.Errorf("%s: stored form has %s:\n%s", c.name, w, got)
			}
		}
	}
}

func TestIDs(t *testing.T) {
	const id = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
	n := 0
	gen := func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012X", n) }
	cases := []struct {
		name        string
		body        string
		statementID string
		wantIDs     []string
		wantErr     string // pointer: rule substring
	}{
		{"generated lower-cased", `[` + stmt("") + `,` + stmt("") + `]`, "", []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}, ""},
		{"given kept", stmt(`,"id":"` + id + `"`), "", []string{id}, ""},
		{"PUT without id in body", stmt(""), strings.ToUpper(id), []string{id}, ""},
		{"PUT with the same id in other case", stmt(`,"id":"` + strings.ToUpper(id) + `"`), id, []string{id}, ""},
		{"PUT with another id", stmt(`,"id":"` + id + `"`), "fd41c918-b88b-4b20-a0a5-a4c32391aaa1", nil, "/id: must equal the statementId"},
		{"PUT with an array", `[` + stmt("") + `]`, id, nil, ": a PUT request carries exactly one statement"},
		{"PUT with a bad statementId", stmt(""), "not-a-uuid", nil, ": the statementId parameter must be a UUID"},
		{"batch repeats an id", `[` + stmt(`,"id":"`+id+`"`) + `,` + stmt("") + `,` + stmt(`,"id":"`+strings.ToUpper(id)+`"`) + `]`, "", nil, "/2/id: the same id is used by statement 0"},
	}
	for _, c := range cases {
		n = 0
		ps, err := PrepareStatements([]byte(c.body), V1_0_3, Assign{Stored: time.Now(), NewID: gen, StatementID: c.statementID})
		if c.wantErr != "" {
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Errors[0].Pointer+": "+ve.Errors[0].Rule, c.wantErr) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i, p := range ps {
			if p.ID != c.wantIDs[i] || !strings.HasPrefix(string(p.JSON), `{"id":"`+c.wantIDs[i]+`"`) {
				t.Errorf("%s: statement %d id %q, json %s; want %s", c.name, i, p.ID, p.JSON, c.wantIDs[i])
			}
		}
	}
}

func TestVoidedID(t *testing.T) {
	body := `[{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"E05AA883-ACAF-40AD-BF54-02C8CE485FB0"}},` +
		`{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"e05aa883-acaf-40ad-bf54-02c8ce485fb0"}}]`
	ps, err := PrepareStatements([]byte(expand.Replace(body)), V2_0_0, testAssign())
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].VoidedID != "e05aa883-acaf-40ad-bf54-02c8ce485fb0" || ps[1].VoidedID != "" {
		t.Errorf("voided ids = %q, %q", ps[0].VoidedID, ps[1].VoidedID)
	}
}

// TestFingerprint checks the statement comparison rules: pairs that are
// the same statement share a fingerprint, others do not.
func TestFingerprint(t *testing.T) {
	const (
		ts  = `,"timestamp":"2024-05-01T12:30:00.123Z"`
		grp = `{"actor":{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"},{"mbox":"mailto:b@example.com"}]},"verb":$V,"object":$O` + ts + `}`
		grr = `{"actor":{"objectType":"Group","member":[{"mbox":"mailto:b@example.com"},{"mbox":"mailto:a@example.com"}]},"verb":$V,"object":$O` + ts + `}`
	)
	cases := []struct {
		name string
		a, b string
		same bool
	}{
		{"member order and whitespace", stmt(ts + `,"result":{"success":true,"completion":true}`), " " + stmt(ts+`, "result" : {"completion":true,"success":true}`), true},
		{"statement member order", `{"verb":$V,"object":$O,"actor":$A` + ts + `}`, stmt(ts), true},
		{"id, stored, authority, version ignored", stmt(ts + `,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0","version":"1.0.0","stored":"2024-01-01T00:00:00Z","authority":{"mbox":"mailto:x@example.com"}`), stmt(ts), true},
		{"timestamp zone", stmt(ts), stmt(`,"timestamp":"2024-05-01T14:30:00.123+02:00"`), true},
		{"timestamp precision beyond ms", stmt(ts), stmt(`,"timestamp":"2024-05-01T12:30:00.123999Z"`), true},
		{"contextActivities single or array", stmt(ts + `,"context":{"contextActivities":{"parent":{"id":"http://example.com/p"}}}`), stmt(ts + `,"context":{"contextActivities":{"parent":[{"id":"http://example.com/p"}]}}`), true},
		{"verb display ignored", stmt(ts), `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced","display":{"de":"erlebt"}},"object":$O` + ts + `}`, true},
		{"activity definition ignored", stmt(ts), `{"actor":$A,"verb":$V,"object":{"id":"http://example.com/activities/a","definition":{"name":{"en":"A"}}}` + ts + `}`, true},
		{"group member order", grp, grr, true},
		{"mbox domain case", stmt(ts), `{"actor":{"mbox":"mailto:ada@EXAMPLE.com"},"verb":$V,"object":$O` + ts + `}`, true},
		{"registration case", stmt(ts + `,"context":{"registration":"ec531277-b57b-4c15-8d91-d292c5b2b8f7"}`), stmt(ts + `,"context":{"registration":"EC531277-B57B-4C15-8D91-D292C5B2B8F7"}`), true},
		{"duration beyond 0.01 s", stmt(ts + `,"result":{"duration":"PT1.509S"}`), stmt(ts + `,"result":{"duration":"PT1.5S"}`), true},
		{"escaped string", stmt(ts + `,"result":{"response":"é"}`), stmt(ts + `,"result":{"response":"\u00e9"}`), true},
		{"different result", stmt(ts + `,"result":{"success":true}`), stmt(ts + `,"result":{"success":false}`), false},
		{"different actor", stmt(ts), `{"actor":{"mbox":"mailto:bob@example.com"},"verb":$V,"object":$O` + ts + `}`, false},
		{"mbox local part case", stmt(ts), `{"actor":{"mbox":"mailto:Ada@example.com"},"verb":$V,"object":$O` + ts + `}`, false},
		{"different verb", stmt(ts), `{"actor":$A,"verb":{"id":"http://example.com/verbs/other"},"object":$O` + ts + `}`, false},
		{"different timestamp", stmt(ts), stmt(`,"timestamp":"2024-05-01T12:30:00.124Z"`), false},
		{"timestamp absent", stmt(ts), stmt(""), false},
		{"extension value", stmt(ts + `,"result":{"extensions":{"http://example.com/e":1}}`), stmt(ts + `,"result":{"extensions":{"http://example.com/e":2}}`), false},
		{"number serialization", stmt(ts + `,"result":{"score":{"raw":1}}`), stmt(ts + `,"result":{"score":{"raw":1.0}}`), false},
		{"duration within 0.01 s", stmt(ts + `,"result":{"duration":"PT1.5S"}`), stmt(ts + `,"result":{"duration":"PT1.51S"}`), false},
		{"SubStatement definition ignored, actor not", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":{"id":"http://example.com/a","definition":{"type":"http://example.com/t"}}}` + ts + `}`,
			`{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":{"id":"http://example.com/a"}}` + ts + `}`, true},
		{"StatementRef id case", `{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"E05AA883-ACAF-40AD-BF54-02C8CE485FB0"}` + ts + `}`,
			`{"actor":$A,"verb":$V,"object":{"objectType":"StatementRef","id":"e05aa883-acaf-40ad-bf54-02c8ce485fb0"}` + ts + `}`, true},
		{"attachments", stmt(ts + `,"attachments":[{` + attFull + `}]`), stmt(ts), false},
	}
	fp := func(body string, v Version) string {
		ps, err := PrepareStatements([]byte(expand.Replace(body)), v, testAssign())
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return ps[0].Fingerprint
	}
	for _, c := range cases {
		for _, v := range testVersions {
			if got := fp(c.a, v) == fp(c.b, v); got != c.same {
				t.Errorf("%s [%s]: same = %v, want %v", c.name, v, got, c.same)
			}
		}
	}
}

func TestErrorPointers(t *testing.T) {
	cases := []struct {
		name, body, pointer, rule string
	}{
		{"batch index", `[` + stmt("") + `,{"actor":{"mbox":"ada@example.com"},"verb":$V,"object":$O}]`, "/1/actor/mbox", `"mailto:"`},
		{"missing property", `{"actor":$A,"object":$O}`, "/verb", "is required"},
		{"unknown property", stmt(`,"comment":"x"`), "/comment", "not a property the xAPI specification allows in a Statement"},
		{"component id", interaction(`{"interactionType":"choice","choices":[{"id":"a"},{"id":"b"},{"id":5}]}`), "/object/definition/choices/2/id", "must be a string"},
		{"repeated component", interaction(`{"interactionType":"choice","choices":[{"id":"a"},{"id":"a"}]}`), "/object/definition/choices/1/id", "distinct"},
		{"language tag key", `{"actor":$A,"verb":{"id":"http://example.com/v","display":{"en_US":"x"}},"object":$O}`, "/verb/display/en_US", "RFC 5646"},
		{"extension key with slash and tilde", stmt(`,"result":{"extensions":{"a/b~c":1}}`), "/result/extensions/a~1b~0c", "IRIs"},
		{"escaped key rendered decoded", stmt(`,"r\u00e9sult":1`), "/résult", "not a property"},
		{"score", stmt(`,"result":{"score":{"raw":11,"max":10}}`), "/result/score/raw", "greater than max"},
		{"SubStatement", `{"actor":$A,"verb":$V,"object":{"objectType":"SubStatement","actor":$A,"verb":$V,"object":$O,"id":"fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}}`, "/object/id", "must not have id"},
		{"voiding", `{"actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":$O}`, "/object", "StatementRef"},
		{"revision", `{"actor":$A,"verb":$V,"object":{"objectType":"Agent","mbox":"mailto:b@example.com"},"context":{"revision":"1"}}`, "/context/revision", "only allowed when the Statement's object is an Activity"},
		{"null", stmt(`,"result":{"response":null}`), "/result/response", "not null"},
		{"syntax", `{"actor":}`, "", "not valid JSON"},
		{"contextAgents in 1.0.3", stmt(`,"context":{"contextAgents":[]}`), "/context/contextAgents", "2.0"},
		{"group member", `{"actor":{"objectType":"Group","member":[$A,{"objectType":"Group","mbox":"mailto:g@example.com"}]},"verb":$V,"object":$O}`, "/actor/member/1/objectType", "Groups do not contain Groups"},
	}
	for _, c := range cases {
		_, err := PrepareStatements([]byte(expand.Replace(c.body)), V1_0_3, testAssign())
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a ValidationError", c.name, err)
			continue
		}
		found := false
		for _, fe := range ve.Errors {
			if fe.Pointer == c.pointer && strings.Contains(fe.Rule, c.rule) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: errors %+v lack %s: ...%s...", c.name, ve.Errors, c.pointer, c.rule)
		}
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, `,"extra%d":1`, i)
	}
	_, err := PrepareStatements([]byte(stmt(b.String())), V2_0_0, testAssign())
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Errors) != MaxFieldErrors || !ve.Truncated || !strings.Contains(ve.Error(), "more errors not shown") {
		t.Errorf("got %d errors, truncated=%v: %v", len(ve.Errors), ve.Truncated, ve)
	}
	if !strings.HasPrefix(ve.Error(), "invalid statement: /extra0: is not a property") {
		t.Errorf("Error() = %q", ve.Error())
	}
}

func TestCallerErrors(t *testing.T) {
	cases := []struct {
		name string
		v    Version
		a    Assign
	}{
		{"unknown version", Version("1.0.2"), testAssign()},
		{"no NewID", V1_0_3, Assign{Stored: time.Now()}},
		{"authority not JSON", V1_0_3, Assign{Stored: time.Now(), NewID: testAssign().NewID, Authority: json.RawMessage(`{"mbox":`)}},
	}
	for _, c := range cases {
		_, err := PrepareStatements([]byte(stmt("")), c.v, c.a)
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a caller error (not a ValidationError)", c.name, err)
		}
	}
}

// TestHostileInput: deep nesting fails fast without exhausting the
// stack; large input is handled in linear time.
func TestHostileInput(t *testing.T) {
	deep := strings.Repeat("[", 1_000_000)
	if _, err := PrepareStatements([]byte(deep), V1_0_3, testAssign()); err == nil || !strings.Contains(err.Error(), "nesting deeper than 64") {
		t.Errorf("deep input: err = %v", err)
	}
	deepObj := strings.Repeat(`{"a":`, 100_000)
	if _, err := PrepareStatements([]byte(deepObj), V1_0_3, testAssign()); err == nil {
		t.Error("deep object accepted")
	}
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 5000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(stmt(fmt.Sprintf(`,"id":"00000000-0000-4000-8000-%012d"`, i)))
	}
	b.WriteString("]")
	ps, err := PrepareStatements([]byte(b.String()), V2_0_0, testAssign())
	if err != nil || len(ps) != 5000 {
		t.Fatalf("batch of 5000: %d statements, %v", len(ps), err)
	}
	big := stmt(`,"result":{"response":"` + strings.Repeat("x", 8<<20) + `"}`)
	if _, err := PrepareStatements([]byte(big), V2_0_0, testAssign()); err != nil {
		t.Errorf("8 MB response: %v", err)
	}
	manyKeys := make([]string, 20000)
	for i := range manyKeys {
		manyKeys[i] = fmt.Sprintf(`"http://example.com/e/%d":%d`, i%10000, i)
	}
	_, err = PrepareStatements([]byte(stmt(`,"result":{"extensions":{`+strings.Join(manyKeys, ",")+`}}`)), V2_0_0, testAssign())
	var ve *ValidationError
	if !errors.As(err, &ve) || !ve.Truncated {
		t.Errorf("20000 extension keys, half repeated: err = %v", err)
	}
}

func TestEscapedIDs(t *testing.T) {
	body := `[{"id":"\u0066d41c918-b88b-4b20-a0a5-a4c32391aaa0","actor":$A,"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},"object":{"objectType":"StatementRef","id":"\u0045\u00305aa883-acaf-40ad-bf54-02c8ce485fb0"}}]`
	ps, err := PrepareStatements([]byte(expand.Replace(body)), V2_0_0, Assign{Stored: time.Now(), NewID: func() string { t.Fatal("NewID called"); return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].ID != "fd41c918-b88b-4b20-a0a5-a4c32391aaa0" || ps[0].VoidedID != "e05aa883-acaf-40ad-bf54-02c8ce485fb0" {
		t.Errorf("id %q, voided %q", ps[0].ID, ps[0].VoidedID)
	}
}

// TestConcurrentUse runs the corpus from several goroutines at once (the
// scratch state is pooled) and expects the results of a sequential run.
func TestConcurrentUse(t *testing.T) {
	all := corpus()
	want := make([]string, len(all))
	for i, c := range all {
		ps, err := PrepareStatements([]byte(c.body), V2_0_0, testAssign())
		if err == nil {
			want[i] = string(ps[0].JSON) + ps[0].Fingerprint
		} else {
			want[i] = err.Error()
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range all {
				i := (k + g*len(all)/4) % len(all)
				ps, err := PrepareStatements([]byte(all[i].body), V2_0_0, testAssign())
				got := ""
				if err == nil {
					got = string(ps[0].JSON) + ps[0].Fingerprint
				} else {
					got = err.Error()
				}
				if got != want[i] {
					t.Errorf("%s: concurrent result differs:\n%s\n%s", all[i].name, got, want[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
