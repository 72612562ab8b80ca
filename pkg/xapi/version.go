// Package xapi validates xAPI statements (1.0.3 and 2.0.0 / IEEE 9274.1.1),
// assigns the properties an LRS sets on them, and computes the canonical
// form used to decide whether a re-sent statement id carries the same
// statement.
package xapi

import (
	"fmt"
	"strings"
)

// Version is the xAPI version a request is served with.
type Version string

const (
	V1_0_3 Version = "1.0.3"
	V2_0_0 Version = "2.0.0"
)

// ParseVersion maps an X-Experience-API-Version header to the version the
// request is served with. Every 1.0.x is served as 1.0.3 and every 2.0.x as
// 2.0.0, because patch versions share one data model.
func ParseVersion(header string) (Version, error) {
	h := strings.TrimSpace(header)
	switch {
	case h == "1.0" || (strings.HasPrefix(h, "1.0.") && isDigits(h[4:])):
		return V1_0_3, nil
	case h == "2.0" || (strings.HasPrefix(h, "2.0.") && isDigits(h[4:])):
		return V2_0_0, nil
	case h == "":
		return "", fmt.Errorf("missing X-Experience-API-Version header: send 1.0.3 or 2.0.0")
	}
	return "", fmt.Errorf("unsupported X-Experience-API-Version %q: send 1.0.3 or 2.0.0", header)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
