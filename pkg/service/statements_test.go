package service

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

const voidedVerb = "http://adlnet.gov/expapi/verbs/voided"

func withID(id, stmt string) string { return `{"id":"` + id + `",` + stmt[1:] }

func TestStatementConflictsWhileTheStoreLags(t *testing.T) {
	// The store-writer holds each batch for 400ms, so the store lags the
	// topic; the conflict check must still see the first write.
	eachTopology(t, testConflictsWhileTheStoreLags, "-store-batch-wait", "400ms")
}

func testConflictsWhileTheStoreLags(t *testing.T, addr, _ string) {
	c := newClient(t, addr)
	const id = "3f1c9a52-7a7e-4c51-8f43-2a0f2c6b9d10"
	if r := c.do("PUT", "/statements?statementId="+id, "application/json", []byte(withID(id, statement("ana", "completed", "x")))); r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if r := c.post(withID(id, statement("ana", "failed", "x"))); r.status != 409 {
		t.Fatalf("different content under a fresh id while the store lags: %d %s, want 409", r.status, r.body)
	}
	if r := c.post(withID(id, statement("ana", "completed", "x"))); r.status != 200 {
		t.Fatalf("same content again: %d %s, want 200", r.status, r.body)
	}
	// An array using one id twice is rejected whole.
	dup := "[" + withID("9d0d2b7e-5a3b-4f0e-9d52-3f7c1e2a4b61", statement("a", "b", "c")) + "," +
		withID("9d0d2b7e-5a3b-4f0e-9d52-3f7c1e2a4b61", statement("a", "b", "c")) + "]"
	if r := c.post(dup); r.status != 400 {
		t.Fatalf("array with a repeated id: %d %s, want 400", r.status, r.body)
	}
	var list struct {
		Statements []map[string]any `json:"statements"`
	}
	c.get("").json(t, &list)
	if len(list.Statements) != 1 || list.Statements[0]["verb"].(map[string]any)["id"] != "http://adlnet.gov/expapi/verbs/completed" {
		t.Fatalf("stored: %+v", list.Statements)
	}
}

func TestVoidingBeforeItsTarget(t *testing.T) { eachTopology(t, testVoidingBeforeItsTarget) }

func testVoidingBeforeItsTarget(t *testing.T, addr, _ string) {
	c := newClient(t, addr)
	c.version = "2.0.0"
	const target = "6b7a3f1e-2c4d-4e5f-9a8b-7c6d5e4f3a21"
	voiding := `{"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"` + voidedVerb + `"},"object":{"objectType":"StatementRef","id":"` + target + `"}}`
	r := c.post(voiding)
	if r.status != 200 {
		t.Fatalf("2.0 voiding statement with an unknown target: %d %s", r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	if r := c.post(withID(target, statement("ana", "completed", "x"))); r.status != 200 {
		t.Fatalf("target after its voiding: %d %s", r.status, r.body)
	}
	if r := c.get("?statementId=" + target); r.status != 404 {
		t.Fatalf("voided statement by statementId: %d, want 404", r.status)
	}
	if r := c.get("?voidedStatementId=" + target); r.status != 200 {
		t.Fatalf("voided statement by voidedStatementId: %d %s", r.status, r.body)
	}
	var list struct {
		Statements []map[string]any `json:"statements"`
	}
	c.get("").json(t, &list)
	if len(list.Statements) != 1 || list.Statements[0]["id"] != ids[0] {
		t.Fatalf("list should hold only the voiding statement: %+v", list.Statements)
	}
	// A voiding statement cannot void a voiding statement.
	voidVoid := `{"actor":{"mbox":"mailto:admin@example.com"},"verb":{"id":"` + voidedVerb + `"},"object":{"objectType":"StatementRef","id":"` + ids[0] + `"}}`
	c.post(voidVoid)
	if r := c.get("?statementId=" + ids[0]); r.status != 200 {
		t.Fatalf("a voiding statement was voided: %d", r.status)
	}
}

func TestStatementFormats(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	c := newClient(t, addr)
	stmt := `{"actor":{"objectType":"Agent","name":"Ana","mbox":"mailto:ana@example.com"},
		"verb":{"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed","en-GB":"completed (GB)","fr":"terminé"}},
		"object":{"id":"http://example.com/a","definition":{"name":{"de":"Ein A","fr":"Un A"}}}}`
	var ids []string
	c.post(stmt).json(t, &ids)
	tests := []struct {
		query, lang string
		check       func(st map[string]any) string
	}{
		{"&format=exact", "fr", func(st map[string]any) string {
			if len(st["verb"].(map[string]any)["display"].(map[string]any)) != 3 {
				return "exact must keep every language"
			}
			return ""
		}},
		{"&format=ids", "", func(st map[string]any) string {
			actor, verb, obj := st["actor"].(map[string]any), st["verb"].(map[string]any), st["object"].(map[string]any)
			if actor["name"] != nil || verb["display"] != nil || obj["definition"] != nil || actor["mbox"] != "mailto:ana@example.com" {
				return "ids must keep only identifiers"
			}
			return ""
		}},
		{"&format=canonical", "fr;q=0.9, en-GB", func(st map[string]any) string {
			d := st["verb"].(map[string]any)["display"].(map[string]any)
			if len(d) != 1 || d["en-GB"] == nil {
				return fmt.Sprintf("canonical with en-GB first: display %v", d)
			}
			n := st["object"].(map[string]any)["definition"].(map[string]any)["name"].(map[string]any)
			if len(n) != 1 || n["fr"] == nil {
				return fmt.Sprintf("canonical falls back to the next language: name %v", n)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := c.do("GET", "/statements?statementId="+ids[0]+tt.query, "", nil, "Accept-Language", tt.lang)
			var st map[string]any
			r.json(t, &st)
			if msg := tt.check(st); msg != "" {
				t.Fatalf("%s: %s", msg, r.body)
			}
		})
	}
	if r := c.get("?format=full"); r.status != 400 {
		t.Fatalf("unknown format: %d", r.status)
	}
}

// multipartBody builds an xAPI multipart/mixed request body.
func multipartBody(t *testing.T, stmt string, parts map[string][]byte, contentType string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	pw.Write([]byte(stmt))
	for hash, content := range parts {
		pw, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {contentType}, "Content-Transfer-Encoding": {"binary"}, "X-Experience-API-Hash": {hash}})
		pw.Write(content)
	}
	w.Close()
	return buf.Bytes(), "multipart/mixed; boundary=" + w.Boundary()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestAttachments(t *testing.T) { eachTopology(t, testAttachments) }

func testAttachments(t *testing.T, addr, _ string) {
	c := newClient(t, addr)
	content := []byte("certificate of completion")
	h := sha(content)
	stmt := `{"actor":{"mbox":"mailto:ana@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"},
		"attachments":[{"usageType":"http://example.com/certificate","display":{"en-US":"cert"},"contentType":"text/plain","length":` + fmt.Sprint(len(content)) + `,"sha2":"` + h + `"}]}`

	// Without its part, the attachment cannot be accepted.
	if r := c.post(stmt); r.status != 400 {
		t.Fatalf("attachment without part or fileUrl: %d %s", r.status, r.body)
	}
	// A part whose content does not match its hash is refused.
	body, ct := multipartBody(t, stmt, map[string][]byte{h: []byte("tampered")}, "text/plain")
	if r := c.do("POST", "/statements", ct, body); r.status != 400 {
		t.Fatalf("tampered part: %d %s", r.status, r.body)
	}
	body, ct = multipartBody(t, stmt, map[string][]byte{h: content}, "text/plain")
	r := c.do("POST", "/statements", ct, body)
	if r.status != 200 {
		t.Fatalf("multipart POST: %d %s", r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	r = c.get("?statementId=" + ids[0] + "&attachments=true")
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("attachments=true answered %q", r.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	if _, err := mr.NextPart(); err != nil {
		t.Fatal(err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatalf("no attachment part: %v", err)
	}
	var got bytes.Buffer
	got.ReadFrom(p)
	if got.String() != string(content) || p.Header.Get("X-Experience-API-Hash") != h {
		t.Fatalf("attachment part %q hash %q", got.String(), p.Header.Get("X-Experience-API-Hash"))
	}
	// fileUrl-only attachments need no part.
	fileURL := strings.Replace(stmt, `"sha2"`, `"fileUrl":"http://example.com/cert.txt","sha2"`, 1)
	if r := c.post(fileURL); r.status != 200 {
		t.Fatalf("fileUrl attachment: %d %s", r.status, r.body)
	}
}

func signJWS(t *testing.T, key *rsa.PrivateKey, alg string, payload []byte) []byte {
	hashes := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"`+alg+`"}`)) + "." + enc.EncodeToString(payload)
	h := hashes[alg]
	if h == 0 {
		h = crypto.SHA256
	}
	d := h.New()
	d.Write([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(signing + "." + enc.EncodeToString(sig))
}

func TestSignedStatements(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	c := newClient(t, addr)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(alg string, payload, stmt string) response {
		jws := signJWS(t, key, alg, []byte(payload))
		h := sha(jws)
		var m map[string]any
		json.Unmarshal([]byte(stmt), &m)
		m["attachments"] = []any{map[string]any{"usageType": "http://adlnet.gov/expapi/attachments/signature",
			"display": map[string]any{"en-US": "signature"}, "contentType": "application/octet-stream", "length": len(jws), "sha2": h}}
		b, _ := json.Marshal(m)
		body, ct := multipartBody(t, string(b), map[string][]byte{h: jws}, "application/octet-stream")
		return c.do("POST", "/statements", ct, body)
	}
	stmt := withID("0d9f5a4e-6b1c-4a2d-8e3f-7a6b5c4d3e2f", statement("ana", "completed", "signed"))
	other := withID("0d9f5a4e-6b1c-4a2d-8e3f-7a6b5c4d3e2f", statement("ana", "failed", "signed"))
	tests := []struct {
		name, alg, payload string
		status             int
	}{
		{"RS512", "RS512", stmt, 200},
		{"payload differs", "RS256", other, 400},
		{"HS256 refused", "HS256", stmt, 400},
		{"payload not JSON", "RS256", "{not json", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := signed(tt.alg, tt.payload, stmt); r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
		})
	}
}

func TestAlternateRequestSyntaxAndCORS(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir())
	c := newClient(t, addr)
	const id = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0"
	form := url.Values{
		"statementId":              {id},
		"content":                  {statement("ana", "completed", "alt")},
		"X-Experience-API-Version": {"1.0.3"},
		"Authorization":            {"Basic " + base64.StdEncoding.EncodeToString([]byte(testKey+":"+testSecret))},
	}
	anon := *c
	anon.key, anon.version = "", ""
	if r := anon.do("POST", "/statements?method=PUT", "application/x-www-form-urlencoded", []byte(form.Encode())); r.status != 204 {
		t.Fatalf("alternate PUT: %d %s", r.status, r.body)
	}
	if r := c.get("?statementId=" + id); r.status != 200 {
		t.Fatalf("statement PUT through the alternate syntax: %d", r.status)
	}
	form.Set("X-Experience-API-Version", "2.0.0")
	if r := anon.do("POST", "/statements?method=PUT", "application/x-www-form-urlencoded", []byte(form.Encode())); r.status != 400 {
		t.Fatalf("alternate syntax in 2.0: %d, want 400", r.status)
	}
	req, _ := http.NewRequest("OPTIONS", "http://"+addr+"/xapi/statements", nil)
	req.Header.Set("Origin", "https://course.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "Authorization, X-Experience-API-Version, Content-Type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-Experience-API-Version") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	r := c.do("GET", "/statements", "", nil, "Origin", "https://course.example.com")
	if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Experience-API-Consistent-Through") {
		t.Fatalf("Consistent-Through not exposed to browsers: %v", r.header)
	}

}

// Two LRSs on one topic: the first, alone in the producer group, checks
// client-chosen ids without a broker round trip; from the moment the second
// may publish, the first must wait for the tail again and so find the
// conflicts with what the second just acknowledged, and once the second has
// left, with what it acknowledged last.
func TestConflictsAcrossAnInstanceJoiningAndLeaving(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	topic := testenv.UniqueName("xapi")
	args := []string{"-external-kafka", "-kafka-brokers", strings.Join(testenv.KafkaBrokers(t), ","), "-kafka-topic", topic,
		"-store-group", topic + "-store", "-analytics-group", topic + "-analytics", "-store-dsn", dsn}
	addrA, _ := startLRS(t, t.TempDir(), args...)
	a := newClient(t, addrA)
	waitMetric := func(addr string, want float64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for metric(t, addr, "lrs_producer_group_members") != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: lrs_producer_group_members is not %v after 60 s", addr, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitMetric(addrA, 1)
	across := func(from, to *client, rounds int) {
		t.Helper()
		for i := range rounds {
			id := uuid.NewString()
			if r := from.post(withID(id, statement("ana", "completed", "x"))); r.status != 200 {
				t.Fatalf("round %d: first write: %d %s", i, r.status, r.body)
			}
			if r := to.post(withID(id, statement("ana", "failed", "x"))); r.status != 409 {
				t.Fatalf("round %d: other content on the other instance: %d %s, want 409", i, r.status, r.body)
			}
			if r := to.post(withID(id, statement("ana", "completed", "x"))); r.status != 200 {
				t.Fatalf("round %d: the same statement on the other instance: %d %s, want 200", i, r.status, r.body)
			}
		}
	}
	waits := metric(t, addrA, "lrs_conflict_wait_seconds_count")
	across(a, a, 5)
	if got := metric(t, addrA, "lrs_conflict_wait_seconds_count"); got > waits+1 {
		t.Fatalf("alone in the group the checks waited %v times, want at most the first", got-waits)
	}

	addrB, stopB := startLRS(t, t.TempDir(), args...)
	b := newClient(t, addrB)
	across(b, a, 20) // at once: no waiting for a's metric
	across(a, b, 5)
	waitMetric(addrA, 2)

	last := uuid.NewString()
	if r := b.post(withID(last, statement("ana", "completed", "y"))); r.status != 200 {
		t.Fatalf("last write on the second: %d %s", r.status, r.body)
	}
	stopB()
	waitMetric(addrA, 1)
	if r := a.post(withID(last, statement("ana", "failed", "y"))); r.status != 409 {
		t.Fatalf("the second's last statement, other content, after it left: %d %s, want 409", r.status, r.body)
	}
}
