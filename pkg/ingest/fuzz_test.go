package ingest

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// Fuzz tests of the parsers an anonymous or low-privilege client reaches
// before anything is stored: multipart bodies, the alternate request
// syntax and the statement query parameters. Each must answer (an xAPI
// error at worst), never panic nor fail with a 500. `make test` runs the
// seeds; run longer by hand, e.g.
//
//	go test ./pkg/ingest -run '^$' -fuzz FuzzStatementBody -fuzztime 10m

// fuzzServer is a Server with only what these parsers touch.
func fuzzServer(t testing.TB, route func(s *Server, x fiber.Router)) *Server {
	s := &Server{cfg: Config{Prefix: "/xapi", DefaultVersion: xapi.V2_0_0, CORSOrigins: "*"}}
	s.app = fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var (
			ae *apiError
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
	req, err := http.NewRequest(method, "http://lrs.test"+target, bytes.NewReader(body))
	if err != nil {
		return // not a URL a client could send
	}
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

func FuzzStatementBody(f *testing.F) {
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nX-Experience-API-Hash: 00\r\n\r\nx\r\n--b--\r\n"))
	f.Add("application/json", []byte(`[{"actor":{"mbox":"mailto:a@b.c"}}]`))
	f.Add("multipart/mixed", []byte("--b--"))
	f.Add("multipart/mixed; boundary=\"\"", []byte(""))
	s := fuzzServer(f, func(_ *Server, x fiber.Router) {
		x.Post("/statements", func(c *fiber.Ctx) error {
			body, parts, err := statementBody(c)
			if err != nil {
				return err
			}
			if _, err := attachmentRefs(body); err != nil {
				return badRequest(err.Error())
			}
			_ = parts
			return c.SendStatus(fiber.StatusNoContent)
		})
	})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		fuzzRequest(t, s, http.MethodPost, "/xapi/statements", contentType, body)
	})
}

func FuzzListQuery(f *testing.F) {
	f.Add("agent=%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D&since=2020-01-01T00:00:00Z&limit=10&ascending=true")
	f.Add("more=abc.def&format=ids")
	f.Add("limit=-1&related_agents=maybe")
	f.Add("until=not-a-time&verb=%ff")
	s := fuzzServer(f, func(_ *Server, x fiber.Router) {
		x.Get("/statements", func(c *fiber.Ctx) error {
			if _, err := listQuery(c, "t"); err != nil {
				return err
			}
			if _, err := xapi.ParseFormat(c.Query("format")); err != nil {
				return badRequest(err.Error())
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
	})
	f.Fuzz(func(t *testing.T, query string) {
		fuzzRequest(t, s, http.MethodGet, "/xapi/statements?"+query, "", nil)
	})
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
