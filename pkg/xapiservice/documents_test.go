package xapiservice

import "testing"

func TestDocETagMatches(t *testing.T) {
	const etag = "9f4e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b"
	cases := []struct {
		header string
		want   bool
	}{
		{`"` + etag + `"`, true},
		{etag, true},
		{`W/"` + etag + `"`, true},
		{`"9F4E3A1B2C3D4E5F60718293A4B5C6D7E8F90A1B"`, true},
		{`"1234", "` + etag + `"`, true},
		{`*`, true},
		{`"1234"`, false},
		{`"` + etag[:39] + `"`, false},
		{`""`, false},
	}
	for _, tc := range cases {
		if got := docETagMatches(tc.header, etag); got != tc.want {
			t.Errorf("docETagMatches(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestDocMerge(t *testing.T) {
	cases := []struct{ cur, next, want string }{
		{`{"a":1,"b":{"x":1}}`, `{"b":{"y":2}}`, `{"a":1,"b":{"y":2}}`},
		{`{}`, `{"a":[1,2]}`, `{"a":[1,2]}`},
		{`{"a":"<&>"}`, `{"b":null}`, `{"a":"<&>","b":null}`},
	}
	for _, tc := range cases {
		got, err := docMerge([]byte(tc.cur), []byte(tc.next))
		if err != nil {
			t.Fatalf("docMerge(%s, %s): %v", tc.cur, tc.next, err)
		}
		if string(got) != tc.want {
			t.Errorf("docMerge(%s, %s) = %s, want %s", tc.cur, tc.next, got, tc.want)
		}
	}
}

func TestDocValidIRI(t *testing.T) {
	cases := map[string]bool{
		"http://example.com/a":        true,
		"urn:uuid:0d4bd0a4-0b8b-4b7e": true,
		"tag:example.com,2024:ä":      true,
		"example.com/a":               false,
		":nothing":                    false,
		"http:":                       false,
		"1http://example.com":         false,
		"http://example.com/a b":      false,
		"http://example.com/<a>":      false,
		"true":                        false,
	}
	for iri, want := range cases {
		if got := docValidIRI(iri); got != want {
			t.Errorf("docValidIRI(%q) = %v, want %v", iri, got, want)
		}
	}
}

func TestAgentParse(t *testing.T) {
	valid := []struct{ agent, ifi string }{
		{`{"objectType":"Agent","mbox":"mailto:ana@example.com","name":"Ana"}`, "mbox:mailto:ana@example.com"},
		{`{"mbox_sha1sum":"EBD31E95054C018B10727CCFFD2EF2EC3A016EE9"}`, "sha1:ebd31e95054c018b10727ccffd2ef2ec3a016ee9"},
		{`{"openid":"http://openid.example.com/ana"}`, "openid:http://openid.example.com/ana"},
		{`{"account":{"homePage":"http://lms.example.com","name":"ana"}}`, "account:http://lms.example.com\nana"},
		{`{"objectType":"Group","mbox":"mailto:team@example.com","member":[]}`, "mbox:mailto:team@example.com"},
	}
	for _, tc := range valid {
		a, err := agentParse([]byte(tc.agent))
		if err != nil || a.ifi != tc.ifi {
			t.Errorf("agentParse(%s) = %q, %v; want %q", tc.agent, a.ifi, err, tc.ifi)
		}
	}
	invalid := []string{
		``, `null`, `[]`, `"ana"`, `{"name":"ana"}`, `{"mbox":"ana@example.com"}`, `{"mbox":"mailto:"}`,
		`{"mbox":"mailto:a@b.c","openid":"http://o.example.com"}`, `{"mbox":1}`, `{"mbox_sha1sum":"xyz"}`,
		`{"openid":"not a uri"}`, `{"account":{"homePage":"http://lms.example.com"}}`, `{"account":{"name":"a"}}`,
		`{"account":{"homePage":"http://h.example.com","name":"a","id":1}}`, `{"account":"a"}`,
		`{"objectType":"Person","mbox":"mailto:a@b.c"}`, `{"mbox":"mailto:a@b.c","member":[]}`, `{"mbox":"mailto:a@b.c","x":1}`,
		`{"mbox":"mailto:a@b.c"}trailing`,
	}
	for _, agent := range invalid {
		if a, err := agentParse([]byte(agent)); err == nil {
			t.Errorf("agentParse(%s) accepted it as %q", agent, a.ifi)
		}
	}
}
