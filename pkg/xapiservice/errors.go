// Package xapiservice is the xAPI resources as plain Go services, apart
// from HTTP: Statements (accept a request's statements and attachments for
// a principal, read them back), Documents (State, Activity Profile, Agent
// Profile with their preconditions) and the rules of the parameters they
// take. A service answers a value or an *Error carrying the xAPI status;
// pkg/ingest only translates HTTP to the services' inputs and their errors
// back to responses. The parts a service talks to (store, publisher,
// conflict checker) are the small interfaces declared next to it.
package xapiservice

import (
	"errors"
	"net/http"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// Error is an xAPI error: the status xAPI gives the problem (400, 403, 404,
// 409, 412, 413, 503), a message that names it, and the offending fields of
// a validation failure.
type Error struct {
	Status  int
	Message string
	Fields  []xapi.FieldError
	// RetryAfter, in seconds, tells the client when to retry (503); 0 for
	// an error retrying does not cure.
	RetryAfter int
}

func (e *Error) Error() string { return e.Message }

// NewError is an xAPI error with status and message.
func NewError(status int, msg string) *Error { return &Error{Status: status, Message: msg} }

// BadRequest is a 400 with msg.
func BadRequest(msg string) *Error { return NewError(http.StatusBadRequest, msg) }

// unavailable is a 503 that asks the client to retry in a few seconds.
func unavailable(msg string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Message: msg, RetryAfter: 5}
}

// AsError is the xAPI error a service's err stands for: an *Error, a
// statement's validation or size error, or the store unreachable (503);
// ok is false for anything else, an internal error.
func AsError(err error) (e *Error, ok bool) {
	var (
		ve *xapi.ValidationError
		le *xapi.LimitError
	)
	switch {
	case errors.As(err, &e):
		return e, true
	case errors.As(err, &le):
		return NewError(http.StatusRequestEntityTooLarge, le.Error()), true
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Message: ve.Error(), Fields: ve.Errors}, true
	case store.Unavailable(err):
		return unavailable("the statement store does not answer now; retry later (retrying this request is safe)"), true
	}
	return nil, false
}
