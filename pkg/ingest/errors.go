package ingest

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// apiError is an xAPI error response: a status and a message that names the
// problem, plus the offending fields for validation failures.
type apiError struct {
	Status  int
	Message string
	Fields  []xapi.FieldError
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, msg string) *apiError { return &apiError{Status: status, Message: msg} }

func badRequest(msg string) *apiError { return newError(http.StatusBadRequest, msg) }

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
	var (
		ae *apiError
		fe *fiber.Error
		ve *xapi.ValidationError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ve):
		ae = &apiError{Status: http.StatusBadRequest, Message: ve.Error(), Fields: ve.Errors}
	case errors.As(err, &fe):
		msg := fe.Message
		if fe.Code == http.StatusRequestEntityTooLarge {
			msg = "request body larger than the configured limit"
		}
		ae = newError(fe.Code, msg)
	default:
		s.logAt(c, zapcore.ErrorLevel, "request failed", zap.Error(err))
		ae = newError(http.StatusInternalServerError, "internal error; see the server log for request "+requestID(c))
	}
	if (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) && strings.HasSuffix(c.Path(), "/statements") &&
		len(c.Response().Header.Peek(headerConsistentThrough)) == 0 {
		c.Set(headerConsistentThrough, s.deps.Watermark.Last().UTC().Format(timeFormat))
	}
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
