package ingest

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// Fuzz test of the alternate request syntax, which an anonymous client
// reaches before anything is checked: it must answer (an xAPI error at
// worst), never panic nor fail with a 500. `make test` runs the seeds; run
// longer by hand, e.g.
//
//	go test ./pkg/ingest -run '^$' -fuzz FuzzAlternateSyntax -fuzztime 10m
//
// The statement body and query parsers are fuzzed in pkg/xapiservice.

// fuzzServer is a Server with only what these parsers touch.
func fuzzServer(t testing.TB, route func(s *Server, x fiber.Router)) *Server {
	s := &Server{cfg: Config{Prefix: "/xapi", DefaultVersion: xapi.V2_0_0, CORSOrigins: "*"}}
	s.app = fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var (
			ae *xapiservice.Error
			fe *fiber.Error
		)
		if errors.As(err, &ae) {
			return c.SendStatus(ae.Status)
		}
		if errors.As(err, &fe) {
			return c.SendStatus(fe.Code)
		}
		t.Errorf("unexpected error: %v", err)
		return c.SendStatus(http.StatusInternalServerError)
	}})
	s.ops = s.app
	route(s, s.app.Group("/xapi"))
	return s
}

func fuzzRequest(t *testing.T, s *Server, method, target, contentType string, body []byte) {
	// The origin form with a Host header: fasthttp 1.79 refuses a request
	// whose Host is only in an absolute URI (and Test would then return an
	// error, which passes for a request the client cannot send).
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return // not a URL a client could send
	}
	req.Host = "lrs.test"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		return // a request the client side cannot even send
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s (%q): status %d", method, target, body, resp.StatusCode)
	}
}

func FuzzAlternateSyntax(f *testing.F) {
	f.Add("PUT", []byte("Authorization=Basic+eDp5&X-Experience-API-Version=1.0.3&statementId=1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0&content=%7B%7D"))
	f.Add("GET", []byte("Authorization=Basic+eDp5&X-Experience-API-Version=2.0.0"))
	f.Add("DELETE", []byte("%zz"))
	f.Add("post", []byte("content=x&Content-Type=text/plain&authorization=Basic+eDp5"))
	s := fuzzServer(f, func(s *Server, x fiber.Router) {
		x.Use(s.alternateSyntax)
		x.All("/statements", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	})
	f.Fuzz(func(t *testing.T, method string, form []byte) {
		fuzzRequest(t, s, http.MethodPost, "/xapi/statements?method="+url.QueryEscape(method), fiber.MIMEApplicationForm, form)
	})
}
