package xapi

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// kind is the JSON type of a parsed node.
type kind uint8

const (
	kindNull kind = iota + 1
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

// node is one JSON value in a document's flat node list. Values of a
// container follow it directly (objects alternate key and value nodes), so
// a whole statement is one slice that is reused from request to request
// instead of a tree of maps: that is what keeps the hot path allocation-free.
type node struct {
	start, end uint32 // strings: the bytes between the quotes; other kinds: the literal or bracketed span
	count      uint32 // array elements or object members
	next       uint32 // index of the first node after this value's subtree
	kind       kind
	escaped    bool // string holds backslash escapes
}

// MaxDepth bounds the nesting of a request body. Statements need 7 levels;
// the rest is room for extension values. The bound keeps the recursive
// parser's stack small whatever the input.
const MaxDepth = 64

// MaxNodes bounds the JSON values of one request body. A statement has
// tens to hundreds; the bound keeps a hostile body of tiny values (a 10 MB
// `[0,0,...]` is 5 million of them) from costing gigabytes of node and
// per-statement state before any other limit is looked at.
const MaxNodes = 1 << 20

type document struct {
	src   []byte
	nodes []node
	// limits for the next parse; zero means none (stored statements).
	maxRoot, maxNodes int
}

// LimitError is a request body over a size limit (HTTP 413): too many
// statements in the array, or too many JSON values.
type LimitError struct {
	What  string // "statements" or "JSON values"
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the body holds more than %d %s; the limit is %d", e.Limit, e.What, e.Limit)
}

type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("body is not valid JSON: %s at byte %d", e.msg, e.offset)
}

// stringSpecial marks bytes the string scanner must stop at.
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

// parse reads exactly one JSON value (RFC 8259) from src into d, reusing
// d's node storage. Strings must be valid UTF-8 and may not hold U+0000 or
// unpaired surrogate escapes, which no statement store accepts.
func (d *document) parse(src []byte) error {
	if uint64(len(src)) >= 1<<32-1 {
		return &syntaxError{0, "body too large"}
	}
	d.src = src
	d.nodes = d.nodes[:0]
	p := parser{d: d, src: src}
	p.ws()
	if err := p.value(0); err != nil {
		return err
	}
	if p.limit != nil {
		return p.limit
	}
	p.ws()
	if p.pos != len(src) {
		return p.fail("unexpected data after the JSON value")
	}
	return nil
}

type parser struct {
	d     *document
	src   []byte
	pos   int
	limit *LimitError // set when a limit was reached: parsing stops
}

func (p *parser) fail(msg string) error { return &syntaxError{p.pos, msg} }

func (p *parser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) push(k kind) uint32 {
	if p.d.maxNodes > 0 && len(p.d.nodes) >= p.d.maxNodes {
		p.limit = &LimitError{What: "JSON values", Limit: p.d.maxNodes}
	}
	p.d.nodes = append(p.d.nodes, node{kind: k, start: uint32(p.pos)})
	return uint32(len(p.d.nodes) - 1)
}

func (p *parser) value(depth int) error {
	if p.limit != nil {
		return p.limit
	}
	if p.pos >= len(p.src) {
		return p.fail("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == 't':
		return p.literal("true", kindTrue)
	case c == 'f':
		return p.literal("false", kindFalse)
	case c == 'n':
		return p.literal("null", kindNull)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.fail("unexpected character " + strconv.QuoteRune(rune(p.src[p.pos])))
}

func (p *parser) literal(lit string, k kind) error {
	if len(p.src)-p.pos < len(lit) || string(p.src[p.pos:p.pos+len(lit)]) != lit {
		return p.fail("invalid literal")
	}
	i := p.push(k)
	p.pos += len(lit)
	n := &p.d.nodes[i]
	n.end, n.next = uint32(p.pos), i+1
	return nil
}

func (p *parser) digits() int {
	s := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - s
}

func (p *parser) number() error {
	i := p.push(kindNumber)
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if p.digits() == 0 {
		return p.fail("invalid number")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.fail("invalid number: digits must follow the decimal point")
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.fail("invalid number: digits must follow the exponent")
		}
	}
	n := &p.d.nodes[i]
	n.end, n.next = uint32(p.pos), i+1
	return nil
}

func (p *parser) string() error {
	i := p.push(kindString)
	p.pos++ // opening quote
	start := p.pos
	escaped := false
	src := p.src
	for {
		for p.pos < len(src) && !stringSpecial[src[p.pos]] {
			p.pos++
		}
		if p.pos >= len(src) {
			return p.fail("unterminated string")
		}
		c := src[p.pos]
		switch {
		case c == '"':
			n := &p.d.nodes[i]
			n.start, n.end, n.next, n.escaped = uint32(start), uint32(p.pos), i+1, escaped
			p.pos++
			return nil
		case c == '\\':
			escaped = true
			if err := p.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return p.fail("control character in string: escape it")
		default:
			r, size := utf8.DecodeRune(src[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return p.fail("invalid UTF-8 in string")
			}
			p.pos += size
		}
	}
}

// escape validates one backslash escape at p.pos and moves past it.
func (p *parser) escape() error {
	if p.pos+1 >= len(p.src) {
		return p.fail("unterminated escape")
	}
	switch p.src[p.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.pos += 2
		return nil
	case 'u':
	default:
		return p.fail("invalid escape")
	}
	r, ok := hex4(p.src, p.pos+2)
	if !ok {
		return p.fail("invalid \\u escape")
	}
	switch {
	case r == 0:
		return p.fail("\\u0000 is not accepted in strings")
	case r >= 0xDC00 && r <= 0xDFFF:
		return p.fail("unpaired surrogate in \\u escape")
	case r >= 0xD800 && r <= 0xDBFF:
		if p.pos+11 < len(p.src) && p.src[p.pos+6] == '\\' && p.src[p.pos+7] == 'u' {
			if lo, ok := hex4(p.src, p.pos+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				p.pos += 12
				return nil
			}
		}
		return p.fail("unpaired surrogate in \\u escape")
	}
	p.pos += 6
	return nil
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

func (p *parser) array(depth int) error {
	if depth > MaxDepth {
		return p.fail(fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
	}
	i := p.push(kindArray)
	p.pos++
	p.ws()
	var count uint32
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
	} else {
		for {
			if depth == 1 && p.d.maxRoot > 0 && int(count) >= p.d.maxRoot {
				return &LimitError{What: "statements", Limit: p.d.maxRoot}
			}
			if err := p.value(depth); err != nil {
				return err
			}
			count++
			p.ws()
			if p.pos >= len(p.src) {
				return p.fail("unterminated array")
			}
			if p.src[p.pos] == ']' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return p.fail("expected ',' or ']' in array")
			}
			p.pos++
			p.ws()
		}
	}
	n := &p.d.nodes[i]
	n.end, n.count, n.next = uint32(p.pos), count, uint32(len(p.d.nodes))
	return nil
}

func (p *parser) object(depth int) error {
	if depth > MaxDepth {
		return p.fail(fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
	}
	i := p.push(kindObject)
	p.pos++
	p.ws()
	var count uint32
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
	} else {
		for {
			if p.pos >= len(p.src) || p.src[p.pos] != '"' {
				return p.fail("expected a property name in double quotes")
			}
			if err := p.string(); err != nil {
				return err
			}
			p.ws()
			if p.pos >= len(p.src) || p.src[p.pos] != ':' {
				return p.fail("expected ':' after property name")
			}
			p.pos++
			p.ws()
			if err := p.value(depth); err != nil {
				return err
			}
			count++
			p.ws()
			if p.pos >= len(p.src) {
				return p.fail("unterminated object")
			}
			if p.src[p.pos] == '}' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return p.fail("expected ',' or '}' in object")
			}
			p.pos++
			p.ws()
		}
	}
	n := &p.d.nodes[i]
	n.end, n.count, n.next = uint32(p.pos), count, uint32(len(p.d.nodes))
	return nil
}

// raw returns a node's source bytes (for strings: without quotes or
// unescaping).
func (d *document) raw(i uint32) []byte {
	n := &d.nodes[i]
	return d.src[n.start:n.end]
}

// text returns a string node's value, unescaping into buf when needed.
// The result aliases d.src or buf; buf must never alias d.src.
func (d *document) text(i uint32, buf []byte) []byte {
	n := &d.nodes[i]
	s := d.src[n.start:n.end]
	if !n.escaped {
		return s
	}
	return unescape(s, buf[:0])
}

// unescape decodes the escapes of a string the parser has validated.
func unescape(s, buf []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			buf = append(buf, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if r >= 0xD800 && r <= 0xDBFF {
				lo, _ := hex4(s, i+2)
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default: // '"', '\\', '/'
			buf = append(buf, s[i+1])
		}
		i += 2
	}
	return buf
}
