// Package jsonscan reads JSON in place, without decoding it into Go values:
// the lexical pieces (whitespace, strings, numbers, literals) that xapi's
// statement parser builds its nodes from; Skip, which validates a value and
// finds where it ends, for the record decoder; and Members, the walk of an
// object's members for the store, which reads a few members of each
// statement and skips the rest.
//
// The JSON is RFC 8259's, with UTF-8 strings, and without U+0000 or
// unpaired surrogates (\ud800 alone), which no statement store keeps:
// PostgreSQL's jsonb refuses both. Whatever a reader skips is validated all
// the same, so that it never misreads where a value ends ([1} or {"a":1,}
// end nowhere) and never passes malformed bytes on. A Value, a member that
// Members has validated, is walked again without validating it twice.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Error is malformed JSON: what is wrong, and the byte where it was seen.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset) }

func fail(at int, msg string) error { return &Error{Offset: at, Msg: msg} }

// Space returns the index of the first byte at or after i that is not
// JSON whitespace.
func Space(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringSpecial marks the bytes a string scan must stop at: the closing
// quote, an escape, a control character, the start of a multi-byte rune.
var stringSpecial = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	for i := 0x80; i < 256; i++ {
		t[i] = true
	}
	return t
}()

// Bytes of a uint64, for testing eight bytes at a time.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain returns the index of the first byte at or after i that a string
// scan must stop at, or len(b).
func plain(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := specials(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && !stringSpecial[b[i]] {
		i++
	}
	return i
}

// specials sets the high bit of the bytes in w that a string scan stops
// at, looking at eight at a time: most string bytes in statements are
// plain ASCII (IRIs, names, long descriptions). The high bit of a byte is
// set in w for bytes from 0x80, in w-0x20*ones for those below 0x20, and
// in quote-ones (backslash-ones) for a '"' ('\\'). A subtraction borrows
// only out of a byte it flags, so it can flag a byte above a special one,
// never below: the lowest flag is the first special byte.
func specials(w uint64) uint64 {
	quote := w ^ ('"' * ones)
	backslash := w ^ ('\\' * ones)
	return (w | (w - 0x20*ones) | (quote - ones) | (backslash - ones)) & highs
}

// String scans the string whose opening quote is b[i] and returns the
// index after its closing quote, and whether it holds escapes (then its
// text needs Unescape).
func String(b []byte, i int) (end int, escaped bool, err error) {
	// Most strings are plain ASCII. Short ones (member names, languages)
	// end within their first word; longer ones have their quote found by
	// IndexByte (vector instructions) and their bytes checked a word at a
	// time. Either way they cost hardly more than the bare search for the
	// quote that this replaced in the store.
	i++
	if i+8 <= len(b) {
		if m := specials(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			if j := i + bits.TrailingZeros64(m)/8; b[j] == '"' {
				return j + 1, false, nil
			}
			return stringRest(b, i)
		}
		i += 8
	}
	if q := bytes.IndexByte(b[i:], '"'); q >= 0 && plainASCII(b[i:i+q]) {
		return i + q + 1, false, nil
	}
	return stringRest(b, i)
}

// plainASCII reports whether s holds no backslash, control character or
// non-ASCII byte (the tests of specials but the quote's).
func plainASCII(s []byte) bool {
	var acc uint64
	for len(s) >= 16 {
		w1, w2 := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
		b1, b2 := w1^('\\'*ones), w2^('\\'*ones)
		acc |= w1 | w2 | (w1 - 0x20*ones) | (w2 - 0x20*ones) | (b1 - ones) | (b2 - ones)
		s = s[16:]
	}
	for _, c := range s {
		if stringSpecial[c] {
			return false
		}
	}
	return acc&highs == 0
}

// stringRest scans the rest of a string from b[i] on.
func stringRest(b []byte, i int) (end int, escaped bool, err error) {
	for {
		if i = plain(b, i); i >= len(b) {
			return 0, false, fail(i, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i, err = escape(b, i); err != nil {
				return 0, false, err
			}
		case c < 0x20:
			return 0, false, fail(i, "control character in string: escape it")
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, fail(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// escape validates the backslash escape at b[i] and returns the index after it.
func escape(b []byte, i int) (int, error) {
	if i+1 >= len(b) {
		return 0, fail(i, "unterminated escape")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
	default:
		return 0, fail(i, "invalid escape")
	}
	r, ok := hex4(b, i+2)
	if !ok {
		return 0, fail(i, "invalid \\u escape")
	}
	switch {
	case r == 0:
		return 0, fail(i, "\\u0000 is not accepted in strings")
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, fail(i, "unpaired surrogate in \\u escape")
	case r >= 0xD800 && r <= 0xDBFF:
		if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
			if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				return i + 12, nil
			}
		}
		return 0, fail(i, "unpaired surrogate in \\u escape")
	}
	return i + 6, nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Unescape appends to dst the text of a string's contents s (the bytes
// between its quotes), which String has validated.
func Unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if r >= 0xD800 && r <= 0xDBFF {
				lo, _ := hex4(s, i+2)
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Number scans the number starting at b[i] and returns the index after it.
func Number(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if j := digits(b, i); j == i {
		return 0, fail(i, "invalid number")
	} else {
		i = j
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, fail(j, "invalid number: digits must follow the decimal point")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, fail(i, "invalid number: digits must follow the exponent")
		}
		i = j
	}
	return i, nil
}

// Literal scans the true, false or null starting at b[i] and returns the
// index after it.
func Literal(b []byte, i int) (int, error) {
	var lit string
	if i < len(b) {
		switch b[i] {
		case 't':
			lit = "true"
		case 'f':
			lit = "false"
		case 'n':
			lit = "null"
		}
	}
	if lit == "" || len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, fail(i, "invalid literal")
	}
	return i + len(lit), nil
}

// Skip validates the value starting at b[i] and returns the index after it.
// It walks nested values without recursion, keeping the closing bracket
// each open one expects, so that any depth costs no stack and [1} is an
// error rather than the end of the value.
func Skip(b []byte, i int) (int, error) {
	// Statements nest a few levels, so the brackets stay in buf.
	var buf [32]byte
	open := buf[:0]
	var err error
	name := false // at an object member's name
	for {
		if i >= len(b) {
			return 0, fail(i, "unexpected end of input")
		}
		switch c := b[i]; {
		case c == '"':
			// Names and most values are short plain strings: the test of
			// their first two words is written out here, where it costs no
			// call (the hot loop of the store and the record decoder).
			end := 0
			if i+17 <= len(b) {
				j := i + 1
				m := specials(binary.LittleEndian.Uint64(b[j:]))
				if m == 0 {
					j += 8
					m = specials(binary.LittleEndian.Uint64(b[j:]))
				}
				if j += bits.TrailingZeros64(m) / 8; m != 0 && b[j] == '"' {
					end = j + 1
				}
			}
			if end == 0 {
				if end, _, err = String(b, i); err != nil {
					return 0, err
				}
			}
			i = end
			if name {
				if i = Space(b, i); i >= len(b) || b[i] != ':' {
					return 0, fail(i, "expected ':' after property name")
				}
				i = Space(b, i+1)
				name = false
				continue
			}
		case name:
			return 0, fail(i, "expected a property name in double quotes")
		case c == '{':
			i = Space(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			open = append(open, '}')
			name = true
			continue
		case c == '[':
			i = Space(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			open = append(open, ']')
			continue
		case c == 't' || c == 'f' || c == 'n':
			if i, err = Literal(b, i); err != nil {
				return 0, err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if i, err = Number(b, i); err != nil {
				return 0, err
			}
		default:
			return 0, fail(i, "unexpected character "+strconv.QuoteRune(rune(c)))
		}
		// After a value: close what it ended, or go on to the next member
		// or element.
		for {
			if len(open) == 0 {
				return i, nil
			}
			if i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
				i = Space(b, i)
			}
			want := open[len(open)-1]
			if i >= len(b) {
				if want == '}' {
					return 0, fail(i, "unterminated object")
				}
				return 0, fail(i, "unterminated array")
			}
			if b[i] == want {
				open = open[:len(open)-1]
				i++
				continue
			}
			if b[i] != ',' {
				if want == '}' {
					return 0, fail(i, "expected ',' or '}' in object")
				}
				return 0, fail(i, "expected ',' or ']' in array")
			}
			i = Space(b, i+1)
			name = want == '}'
			break
		}
	}
}

// shortString returns the end of the string at b[i] if it is plain ASCII
// and ends within the two words after its quote, else 0: most member names
// and many values do (Skip has the same test written out in its loop).
func shortString(b []byte, i int) int {
	if i+17 > len(b) {
		return 0
	}
	m := specials(binary.LittleEndian.Uint64(b[i+1:]))
	j := i + 1
	if m == 0 {
		m = specials(binary.LittleEndian.Uint64(b[i+9:]))
		j += 8
	}
	if m != 0 {
		if j += bits.TrailingZeros64(m) / 8; b[j] == '"' {
			return j + 1
		}
	}
	return 0
}

// key scans the name and colon of the object member at b[i]; it returns
// the index of the member's value, the end of the name's string and
// whether the name holds escapes.
func key(b []byte, i int) (val, nameEnd int, escaped bool, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, fail(i, "expected a property name in double quotes")
	}
	// Most names end within two words, where shortString is cheaper than
	// String.
	if nameEnd = shortString(b, i); nameEnd == 0 {
		if nameEnd, escaped, err = String(b, i); err != nil {
			return 0, 0, false, err
		}
	}
	i = Space(b, nameEnd)
	if i >= len(b) || b[i] != ':' {
		return 0, 0, false, fail(i, "expected ':' after property name")
	}
	return Space(b, i+1), nameEnd, escaped, nil
}
