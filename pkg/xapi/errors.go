package xapi

import "strings"

// MaxFieldErrors caps how many field errors one request reports: enough to
// fix a batch, small enough to keep a 400 response short.
const MaxFieldErrors = 20

// FieldError names the offending field by JSON pointer (relative to the
// request body, so /2/actor/mbox for the third statement of an array) and the
// rule it breaks.
type FieldError struct {
	Pointer string `json:"pointer"`
	Rule    string `json:"rule"`
}

// ValidationError lists the field errors of one request (at most
// MaxFieldErrors). Truncated tells that more errors were found.
type ValidationError struct {
	Errors    []FieldError `json:"errors"`
	Truncated bool         `json:"truncated,omitempty"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid statement: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		p := fe.Pointer
		if p == "" {
			p = "(body)"
		}
		b.WriteString(p)
		b.WriteString(": ")
		b.WriteString(fe.Rule)
	}
	if e.Truncated {
		b.WriteString("; (more errors not shown)")
	} else if len(e.Errors) == 0 {
		b.WriteString("(no detail)")
	}
	return b.String()
}
