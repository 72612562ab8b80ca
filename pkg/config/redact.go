package config

import (
	"net/url"
	"strings"
)

// hidden replaces a password; it is what url.URL.Redacted writes.
const hidden = "xxxxx"

// RedactDSN hides the passwords in a DSN so that it can be logged or put in
// an error: the user info of a URL (postgres://u:pw@h/db), any query
// parameter named like a password (?password=pw, &sslpassword=pw, which pgx
// and libpq accept too) and the password of a PostgreSQL key=value string
// (host=db password='p w'). Anything else, such as a SQLite path, is
// returned as it is.
func RedactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if u, err := url.Parse(dsn); err == nil {
			u.RawQuery = redactQuery(u.RawQuery)
			return u.Redacted()
		}
		// A URL that does not parse (a password holding '/' or '#', a bad
		// escape) may still reach an error message: hide all the user info,
		// whose end can only be guessed at the last '@'.
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = hidden + rest[at:]
		}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			rest = rest[:q+1] + redactQuery(rest[q+1:])
		}
		return dsn[:i+3] + rest
	}
	return redactKeyValue(dsn)
}

// isPasswordKey reports whether a parameter holds a secret: password, and
// libpq's sslpassword (the client key's passphrase).
func isPasswordKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "password")
}

// redactQuery hides the values of password parameters in a raw URL query,
// keeping the order and the encoding of the others.
func redactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for n, p := range parts {
		key, _, found := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if found && isPasswordKey(key) {
			parts[n] = p[:strings.IndexByte(p, '=')+1] + hidden
		}
	}
	return strings.Join(parts, "&")
}

// redactKeyValue hides the password values of a libpq key=value string:
// keywords and values separated by '=' with optional spaces around it, a
// value either a word or single-quoted with backslash escapes.
func redactKeyValue(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		// A keyword runs up to '=' or a space.
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			// Not a key=value pair (a file path, say): copy it as it is.
			b.WriteString(s[start:i])
			continue
		}
		i++ // '='
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		vstart := i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i+1, len(s)) // the closing quote
		} else {
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
		}
		b.WriteString(s[start:vstart])
		if isPasswordKey(key) {
			b.WriteString(hidden)
		} else {
			b.WriteString(s[vstart:i])
		}
		for i < len(s) && isSpace(s[i]) {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
