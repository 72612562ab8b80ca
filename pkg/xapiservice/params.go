package xapiservice

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Param is one query parameter of a request, as sent.
type Param struct{ Name, Value string }

// Params are a request's query parameters in the order sent. Names are
// case-sensitive, as xAPI says.
type Params []Param

// Get is the first value of name, or "".
func (ps Params) Get(name string) string {
	for _, p := range ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// Only rejects the parameters not in allowed.
func (ps Params) Only(allowed ...string) error {
	var bad []string
	for _, p := range ps {
		if !slices.Contains(allowed, p.Name) {
			bad = append(bad, p.Name)
		}
	}
	if len(bad) > 0 {
		return BadRequest("parameter(s) " + strings.Join(bad, ", ") + " cannot be used here; allowed: " + strings.Join(allowed, ", "))
	}
	return nil
}

// Once rejects a parameter given twice: which one would count is
// anybody's guess.
func (ps Params) Once() error {
	seen := map[string]bool{}
	var repeated []string
	for _, p := range ps {
		if seen[p.Name] {
			repeated = append(repeated, p.Name)
		}
		seen[p.Name] = true
	}
	if len(repeated) > 0 {
		return BadRequest("parameter(s) " + strings.Join(repeated, ", ") + " given more than once")
	}
	return nil
}

// Bool reads a true/false parameter; absent is false.
func (ps Params) Bool(name string) (bool, error) {
	switch v := ps.Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, BadRequest(fmt.Sprintf("%s %q: want true or false", name, v))
	}
}

// Time reads an RFC 3339 parameter; absent is the zero time.
func (ps Params) Time(name string) (time.Time, error) {
	v := ps.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, BadRequest(fmt.Sprintf("%s %q: want an RFC 3339 timestamp", name, v))
	}
	return t, nil
}
