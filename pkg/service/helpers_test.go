package service

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testKey    = "test-key"
	testSecret = "test-secret"
)

// client speaks xAPI to one LRS base URL.
type client struct {
	t       *testing.T
	base    string
	key     string
	secret  string
	version string
	http    *http.Client // nil: http.DefaultClient
}

func newClient(t *testing.T, addr string) *client {
	return &client{t: t, base: "http://" + addr + "/xapi", key: testKey, secret: testSecret, version: "1.0.3"}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (c *client) do(method, path, contentType string, body []byte, hdr ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.SetBasicAuth(c.key, c.secret)
	}
	if c.version != "" {
		req.Header.Set("X-Experience-API-Version", c.version)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) post(stmts string) response {
	return c.do(http.MethodPost, "/statements", "application/json", []byte(stmts))
}

func (c *client) get(query string) response {
	return c.do(http.MethodGet, "/statements"+query, "", nil)
}

func waitReady(t *testing.T, addr string, errc <-chan error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			t.Fatalf("service exited during start: %v", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready in time", addr)
}

func statement(actor, verb, object string) string {
	return `{"actor":{"mbox":"mailto:` + actor + `@example.com","objectType":"Agent"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb + `","display":{"en-US":"` + verb + `"}},` +
		`"object":{"id":"http://example.com/activities/` + object + `"}}`
}

func statementArray(n int, verb string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = statement("learner"+strconv.Itoa(i), verb, "course-"+strconv.Itoa(i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// metric returns the value of the sample named series (name and labels as
// /metrics prints them) served at addr, or -1 if it is absent.
func metric(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return -1
}
