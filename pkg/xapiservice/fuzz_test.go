package xapiservice

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// Fuzz tests of the parsers a low-privilege client reaches before anything
// is stored: multipart bodies and the statement query parameters. Each must
// answer (an xAPI error at worst), never panic nor fail with an error a
// client cannot be told. `make test` runs the seeds; run longer by hand, e.g.
//
//	go test ./pkg/xapiservice -run '^$' -fuzz FuzzStatementBody -fuzztime 10m

func FuzzStatementBody(f *testing.F) {
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nX-Experience-API-Hash: 00\r\n\r\nx\r\n--b--\r\n"))
	f.Add("application/json", []byte(`[{"actor":{"mbox":"mailto:a@b.c"}}]`))
	f.Add("multipart/mixed", []byte("--b--"))
	f.Add("multipart/mixed; boundary=\"\"", []byte(""))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		stmts, _, err := ReadStatementBody(contentType, body)
		if err != nil {
			mustBeXAPIError(t, err)
			return
		}
		_, _ = attachmentRefs(stmts)
	})
}

func FuzzListQuery(f *testing.F) {
	f.Add("agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D&since=2020-01-01T00:00:00Z&limit=10&ascending=true")
	f.Add("more=abc.def&format=ids")
	f.Add("limit=-1&related_agents=maybe")
	f.Add("until=not-a-time&verb=%ff")
	f.Fuzz(func(t *testing.T, query string) {
		ps := queryParams(query)
		if _, err := listQuery(ps, "t"); err != nil {
			mustBeXAPIError(t, err)
		}
		_, _ = xapi.ParseFormat(ps.Get("format"))
	})
}

// queryParams splits a query string the way a server does, in order.
func queryParams(query string) Params {
	var ps Params
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 == nil && err2 == nil && k != "" {
			ps = append(ps, Param{Name: k, Value: v})
		}
	}
	return ps
}

func mustBeXAPIError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status >= 500 {
		t.Fatalf("want an xAPI client error, got %v", err)
	}
}
