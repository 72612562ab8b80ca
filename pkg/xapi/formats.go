package xapi

import (
	"bytes"
	"time"
)

// The checks below are the string formats xAPI requires (Data 2.2 and
// 4.x). Each works on bytes without allocating; the spec allows
// best-effort IRI and language-tag validation, and these are exact for the
// grammar parts that tell real identifiers from mistakes (missing scheme,
// spaces, bad percent-escapes, wrong subtag lengths).

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// iriChars marks ASCII bytes an IRI may hold outside percent-escapes
// (RFC 3987 iunreserved / reserved). Bytes >= 0x80 are UTF-8 of ucschar /
// iprivate and are accepted; the parser has checked they are valid UTF-8.
var iriChars = func() (t [128]bool) {
	for c := 0; c < 128; c++ {
		t[c] = isAlnum(byte(c))
	}
	for _, c := range []byte("-._~:/?#[]@!$&'()*+,;=%") {
		t[c] = true
	}
	return t
}()

// validIRI reports whether s is an absolute IRI: a scheme, ':', and a
// remainder without spaces, controls or characters IRIs exclude
// (<>"{}|\^`), with well-formed percent-escapes and at most one '#'.
func validIRI(s []byte) bool {
	if len(s) < 2 || !isAlpha(s[0]) {
		return false
	}
	i := 1
	for i < len(s) && (isAlnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') {
		i++
	}
	if i >= len(s) || s[i] != ':' || i+1 == len(s) {
		return false
	}
	fragment := false
	for i++; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			continue
		}
		if !iriChars[c] {
			return false
		}
		switch c {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case '#':
			if fragment {
				return false
			}
			fragment = true
		}
	}
	return true
}

// validMailto reports whether s is "mailto:" followed by one e-mail
// address (local@domain, no spaces, a domain of non-empty labels).
func validMailto(s []byte) bool {
	const prefix = "mailto:"
	if len(s) <= len(prefix) || string(s[:len(prefix)]) != prefix {
		return false
	}
	addr := s[len(prefix):]
	at := bytes.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return false
	}
	for _, c := range addr[:at] {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' || c == '\\' || c == '"' || c == '[' || c == ']' {
			return false
		}
	}
	domain := addr[at+1:]
	label := 0
	for _, c := range domain {
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case isAlnum(c) || c == '-' || c >= 0x80:
			label++
		default:
			return false
		}
	}
	return label > 0
}

// validUUID reports whether s is a UUID in standard string form
// (8-4-4-4-12 hex digits, either case).
func validUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func allHex(s []byte) bool {
	for _, c := range s {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// validSHA1 is a hex SHA-1 (mbox_sha1sum).
func validSHA1(s []byte) bool { return len(s) == 40 && allHex(s) }

// validSHA2 is a hex SHA-224, -256, -384 or -512 (attachment sha2).
func validSHA2(s []byte) bool {
	switch len(s) {
	case 56, 64, 96, 128:
		return allHex(s)
	}
	return false
}

// validVersion reports whether a statement's "version" is accepted when
// served as v: 1.0 and 1.0.x always (Data 2.4.10); 2.0 and 2.0.x only
// under 2.0.
func validVersion(s []byte, v Version) bool {
	if len(s) < 3 {
		return false
	}
	switch string(s[:3]) {
	case "1.0":
	case "2.0":
		if v != V2_0_0 {
			return false
		}
	default:
		return false
	}
	if len(s) == 3 {
		return true
	}
	if s[3] != '.' || len(s) == 4 {
		return false
	}
	for _, c := range s[4:] {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validMediaType reports whether s looks like an Internet media type
// (RFC 2046): type "/" subtype, optionally followed by parameters.
func validMediaType(s []byte) bool {
	if i := bytes.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = bytes.TrimRight(s, " \t")
	slash := bytes.IndexByte(s, '/')
	if slash <= 0 || slash == len(s)-1 {
		return false
	}
	for i, c := range s {
		if i == slash {
			continue
		}
		if !isAlnum(c) && bytes.IndexByte([]byte("!#$&-^_.+"), c) < 0 {
			return false
		}
	}
	return true
}

// validLanguageTag checks RFC 5646 syntax: language [-script] [-region]
// *(-variant) *(-extension) [-privateuse], private-use tags, and the
// grandfathered irregular tags.
func validLanguageTag(s []byte) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for _, g := range grandfathered {
		if len(g) == len(s) && bytes.EqualFold(s, []byte(g)) {
			return true
		}
	}
	var sub [64][]byte
	n := 0
	for start, i := 0, 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' {
			if !isAlnum(s[i]) {
				return false
			}
			continue
		}
		if i == start || i-start > 8 || n == len(sub) {
			return false
		}
		sub[n] = s[start:i]
		n++
		start = i + 1
	}
	tags := sub[:n]
	if isX(tags[0]) {
		return validPrivateUse(tags[1:])
	}
	k := 0
	lang := tags[k]
	if !allAlpha(lang) || len(lang) < 2 {
		return false
	}
	k++
	if len(lang) <= 3 { // up to three extlang subtags
		for e := 0; e < 3 && k < len(tags) && len(tags[k]) == 3 && allAlpha(tags[k]); e++ {
			k++
		}
	}
	if k < len(tags) && len(tags[k]) == 4 && allAlpha(tags[k]) {
		k++ // script
	}
	if k < len(tags) && ((len(tags[k]) == 2 && allAlpha(tags[k])) || (len(tags[k]) == 3 && allDigit(tags[k]))) {
		k++ // region
	}
	for k < len(tags) && (len(tags[k]) >= 5 || (len(tags[k]) == 4 && isDigit(tags[k][0]))) {
		k++ // variants
	}
	for k < len(tags) && len(tags[k]) == 1 && !isX(tags[k]) {
		k++ // extension singleton
		m := 0
		for k < len(tags) && len(tags[k]) >= 2 {
			k++
			m++
		}
		if m == 0 {
			return false
		}
	}
	if k < len(tags) && isX(tags[k]) {
		return validPrivateUse(tags[k+1:])
	}
	return k == len(tags)
}

var grandfathered = [...]string{
	"en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux",
	"i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",
}

func isX(t []byte) bool { return len(t) == 1 && t[0]|0x20 == 'x' }

func validPrivateUse(rest [][]byte) bool { return len(rest) > 0 } // subtags already 1-8 alnum

func allAlpha(s []byte) bool {
	for _, c := range s {
		if !isAlpha(c) {
			return false
		}
	}
	return true
}

func allDigit(s []byte) bool {
	for _, c := range s {
		if !isDigit(c) {
			return false
		}
	}
	return len(s) > 0
}

// validDuration checks the ISO 8601 duration format PnYnMnDTnHnMnS / PnW
// (ISO 8601:2004 4.4.3.2): at least one component, components in order,
// a 'T' only before time components, weeks alone, and a decimal fraction
// only on the last component. The alternative format is rejected, as Data
// 4.6 requires.
func validDuration(s []byte) bool {
	if len(s) < 3 || s[0] != 'P' {
		return false
	}
	const dateOrder, timeOrder = "YMWD", "HMS"
	order := dateOrder
	pos := 0 // next allowed index in order
	inTime, any, fraction, week := false, false, false, false
	for i := 1; i < len(s); {
		if fraction { // a fraction must be on the last component
			return false
		}
		if s[i] == 'T' {
			if inTime || i == len(s)-1 {
				return false
			}
			inTime, order, pos = true, timeOrder, 0
			i++
			continue
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			f := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i == f {
				return false
			}
			fraction = true
		}
		if i >= len(s) {
			return false
		}
		d := bytes.IndexByte([]byte(order[pos:]), s[i])
		if d < 0 {
			return false
		}
		if !inTime && s[i] == 'W' {
			week = true
		}
		pos += d + 1
		any = true
		i++
	}
	if week && (len(s) != bytes.IndexByte(s, 'W')+1 || bytes.ContainsAny(s[1:], "YMDTHS")) {
		return false
	}
	return any && !(inTime && s[len(s)-1] == 'T')
}

// timestamp is a parsed xAPI timestamp.
type timestamp struct {
	t        time.Time // the instant, in UTC
	frac     []byte    // fractional-second digits as sent (may be empty)
	canonUTC bool      // already in the form we store: ...T..:..:..[.f]Z
}

// parseTimestamp parses a timestamp under v's rules. 2.0 takes RFC 3339
// date-times (Z or ±hh:mm); 1.0.3 takes ISO 8601 extended date-times and
// additionally ±hh and ±hhmm offsets, ',' as decimal sign, no seconds, and
// no zone (read as UTC). Both reject the "unknown offset" forms -00,
// -0000 and -00:00, as the conformance suites do. The second 60 (a leap
// second) is not representable and is rejected.
func parseTimestamp(s []byte, v Version) (ts timestamp, ok bool) {
	iso := v == V1_0_3
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if !isDigit(c) {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' {
		return ts, false
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return ts, false
	}
	i := 16
	sec := 0
	if i < len(s) && s[i] == ':' {
		if i+3 > len(s) {
			return ts, false
		}
		var okS bool
		if sec, okS = num(s[i+1 : i+3]); !okS {
			return ts, false
		}
		i += 3
		if i < len(s) && (s[i] == '.' || (iso && s[i] == ',')) {
			f := i + 1
			for i = f; i < len(s) && isDigit(s[i]); i++ {
			}
			if i == f {
				return ts, false
			}
			ts.frac = s[f:i]
		}
	} else if !iso {
		return ts, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return ts, false
	}
	offset := 0
	zone := s[i:]
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
		ts.canonUTC = zone[0] == 'Z' && s[10] == 'T' && len(s) >= 20 && s[16] == ':' && (len(ts.frac) == 0 || s[19] == '.')
	case len(zone) == 0 && iso:
	case len(zone) >= 3 && (zone[0] == '+' || zone[0] == '-'):
		oh, okH := num(zone[1:3])
		om := 0
		switch {
		case len(zone) == 6 && zone[3] == ':':
			m, okM := num(zone[4:6])
			om, okH = m, okH && okM
		case iso && len(zone) == 5:
			m, okM := num(zone[3:5])
			om, okH = m, okH && okM
		case iso && len(zone) == 3:
		default:
			return ts, false
		}
		if !okH || oh > 23 || om > 59 || (zone[0] == '-' && oh == 0 && om == 0) {
			return ts, false
		}
		offset = (oh*60 + om) * 60
		if zone[0] == '-' {
			offset = -offset
		}
	default:
		return ts, false
	}
	nsec := 0
	for k, scale := 0, 100000000; k < len(ts.frac) && k < 9; k, scale = k+1, scale/10 {
		nsec += int(ts.frac[k]-'0') * scale
	}
	ts.t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	return ts, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendUTC writes ts as RFC 3339 in UTC, keeping the fractional digits
// that were sent (up to nanoseconds).
func (ts *timestamp) appendUTC(b []byte) []byte {
	b = ts.t.AppendFormat(b, "2006-01-02T15:04:05")
	if len(ts.frac) > 0 {
		f := ts.frac
		if len(f) > 9 {
			f = f[:9]
		}
		b = append(b, '.')
		// The instant moved by whole seconds only, so the digits stand.
		b = append(b, f...)
	}
	return append(b, 'Z')
}
