package loadgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"strings"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

// parts splits a multipart/mixed body into its parts.
func parts(t testing.TB, b body) []*multipart.Part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(b.contentType)
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q: %v", b.contentType, err)
	}
	r := multipart.NewReader(bytes.NewReader(b.data), params["boundary"])
	var out []*multipart.Part
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		p.Header.Set("X-Test-Body", string(data))
		out = append(out, p)
	}
}

func firstPart(t testing.TB, b body) []byte {
	return []byte(parts(t, b)[0].Header.Get("X-Test-Body"))
}

func TestBuildBody(t *testing.T) {
	plain := Statement{ID: "6f1b7e1e-8a2b-4c3d-9e4f-0a1b2c3d4e5f", JSON: []byte(`{"a":1}`), Instance: 3}
	other := Statement{JSON: []byte(`{"b":2}`), Instance: 3}
	att := &Attachment{ContentType: "text/plain", Content: []byte("certificate")}
	sum := sha256.Sum256(att.Content)
	att.SHA2 = hex.EncodeToString(sum[:])
	withAtt := Statement{JSON: []byte(`{"c":3}`), Instance: 1, Attachment: att}

	for _, tc := range []struct {
		name      string
		mode      Mode
		sts       []Statement
		method    string
		query     string
		json      string
		multipart bool
		knownID   string
		err       bool
	}{
		{name: "post", mode: ModePost, sts: []Statement{other}, method: "POST", json: `{"b":2}`},
		{name: "post with id", mode: ModePost, sts: []Statement{plain}, method: "POST", json: `{"a":1}`, knownID: plain.ID},
		{name: "put", mode: ModePut, sts: []Statement{plain}, method: "PUT", query: "statementId=" + plain.ID, json: `{"a":1}`, knownID: plain.ID},
		{name: "batch", mode: ModeBatch, sts: []Statement{plain, other}, method: "POST", json: `[{"a":1},{"b":2}]`, knownID: plain.ID},
		{name: "post attachment", mode: ModePost, sts: []Statement{withAtt}, method: "POST", json: `{"c":3}`, multipart: true},
		{name: "batch attachment", mode: ModeBatch, sts: []Statement{other, withAtt}, method: "POST", json: `[{"b":2},{"c":3}]`, multipart: true},
		{name: "put without id", mode: ModePut, sts: []Statement{other}, err: true},
		{name: "post of two", mode: ModePost, sts: []Statement{plain, other}, err: true},
		{name: "nothing", mode: ModeBatch, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := buildBody(tc.mode, tc.sts)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.method != tc.method || b.query != tc.query || b.statements != len(tc.sts) || b.instance != tc.sts[0].Instance || b.knownID != tc.knownID {
				t.Fatalf("got %s ?%s, %d statements, instance %d, id %q", b.method, b.query, b.statements, b.instance, b.knownID)
			}
			if !tc.multipart {
				if b.contentType != "application/json" || string(b.data) != tc.json {
					t.Fatalf("got %s %s", b.contentType, b.data)
				}
				return
			}
			ps := parts(t, b)
			if len(ps) != 2 {
				t.Fatalf("%d parts, want statements and one attachment", len(ps))
			}
			if ps[0].Header.Get("Content-Type") != "application/json" || ps[0].Header.Get("X-Test-Body") != tc.json {
				t.Fatalf("first part %v", ps[0].Header)
			}
			if ps[1].Header.Get("X-Experience-API-Hash") != att.SHA2 || ps[1].Header.Get("Content-Transfer-Encoding") != "binary" ||
				ps[1].Header.Get("Content-Type") != "text/plain" || ps[1].Header.Get("X-Test-Body") != "certificate" {
				t.Fatalf("attachment part %v", ps[1].Header)
			}
			if !json.Valid([]byte(ps[0].Header.Get("X-Test-Body"))) || !strings.Contains(string(b.data), "\r\n") {
				t.Fatal("parts are not JSON with CRLF line ends")
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"post", "put", "batch"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseMode("POST"); err == nil {
		t.Error("POST accepted")
	}
}
