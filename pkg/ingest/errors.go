package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status    int          `json:"status"`
	Message   string       `json:"message"`
	Fields    []fieldError `json:"fields,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
}

type fieldError struct {
	Pointer string `json:"pointer"`
	Rule    string `json:"rule"`
}

// errorHandler turns every error a handler returns (ours, Fiber's, or an
// unexpected one) into a JSON xAPI error. Unexpected errors are logged with
// the request id and answered 500 without internals.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	ae, known := xapiservice.AsError(err)
	switch {
	case known:
		if store.Unavailable(err) {
			s.logAt(c, zapcore.WarnLevel, "store unavailable", zap.Error(err))
		}
	case errors.As(err, &fe):
		// Fiber's message may quote the request (fasthttp's parse errors
		// hold the raw head, Authorization and cookies included): answer
		// with a fixed text per status instead.
		ae = xapiservice.NewError(fe.Code, fiberErrorMessage(fe.Code))
	default:
		s.logAt(c, zapcore.ErrorLevel, "request failed", zap.Error(err))
		ae = xapiservice.NewError(http.StatusInternalServerError, "internal error; see the server log for request "+requestID(c))
	}
	if (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) && strings.HasSuffix(c.Path(), "/statements") &&
		len(c.Response().Header.Peek(headerConsistentThrough)) == 0 {
		c.Set(headerConsistentThrough, s.deps.Watermark.Last().UTC().Format(timeFormat))
	}
	if ae.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ae.RetryAfter))
	}
	s.corsOnError(c)
	if ae.Status == http.StatusUnauthorized {
		c.Set("WWW-Authenticate", `Basic realm="xAPI"`)
	}
	body := errorBody{Error: errorDetail{Status: ae.Status, Message: ae.Message, RequestID: requestID(c)}}
	for _, f := range ae.Fields {
		body.Error.Fields = append(body.Error.Fields, fieldError{Pointer: f.Pointer, Rule: f.Rule})
	}
	if c.Method() == fiber.MethodHead {
		return c.SendStatus(ae.Status)
	}
	return c.Status(ae.Status).JSON(body)
}

func fiberErrorMessage(code int) string {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return "request body larger than the configured limit"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "request head larger than the server accepts"
	case http.StatusBadRequest:
		return "malformed HTTP request"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "request failed"
}

// corsOnError adds the CORS headers to an xAPI error answered before the
// CORS middleware ran (413 and 431 come from the HTTP server itself), so
// that a browser client can read why its request failed.
func (s *Server) corsOnError(c *fiber.Ctx) {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || len(c.Response().Header.Peek(fiber.HeaderAccessControlAllowOrigin)) > 0 ||
		!strings.HasPrefix(c.Path(), s.cfg.Prefix+"/") {
		return
	}
	cc := s.corsConfig()
	switch {
	case cc.AllowOrigins == "*":
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	case originAllowed(cc.AllowOrigins, origin):
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Vary(fiber.HeaderOrigin)
	default:
		return
	}
	c.Set(fiber.HeaderAccessControlExposeHeaders, cc.ExposeHeaders)
}

func originAllowed(list, origin string) bool {
	for _, o := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(o), origin) {
			return true
		}
	}
	return false
}

// validOrigins checks a CORS origin list: "*" or scheme://host[:port]
// entries; a typo would otherwise silently lock browser clients out.
func validOrigins(list string) error {
	if strings.TrimSpace(list) == "*" {
		return nil
	}
	if strings.TrimSpace(list) == "" {
		return errors.New("cors origins: empty; want * or a comma-separated list of origins")
	}
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("cors origins: %q is not an origin like https://lms.example.com", o)
		}
	}
	return nil
}
