package xapi

import (
	"fmt"
	"strconv"

	"github.com/streamlrs/streamlrs/pkg/jsonscan"
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

// parse reads exactly one JSON value from src into d, reusing d's node
// storage. The JSON is jsonscan's, whose pieces it scans with: RFC 8259
// with UTF-8 strings that hold no U+0000 and no unpaired surrogate escapes,
// which no statement store accepts.
func (d *document) parse(src []byte) error {
	if uint64(len(src)) >= 1<<32-1 {
		return fmt.Errorf("body is not valid JSON: %w", &jsonscan.Error{Msg: "body too large"})
	}
	d.src = src
	d.nodes = d.nodes[:0]
	p := parser{d: d, src: src}
	p.ws()
	err := p.value(0)
	if err == nil && p.limit != nil {
		err = p.limit
	}
	if err == nil {
		p.ws()
		if p.pos != len(src) {
			err = p.fail("unexpected data after the JSON value")
		}
	}
	if _, ok := err.(*jsonscan.Error); ok {
		return fmt.Errorf("body is not valid JSON: %w", err)
	}
	return err
}

type parser struct {
	d     *document
	src   []byte
	pos   int
	limit *LimitError // set when a limit was reached: parsing stops
}

func (p *parser) fail(msg string) error { return &jsonscan.Error{Offset: p.pos, Msg: msg} }

func (p *parser) ws() { p.pos = jsonscan.Space(p.src, p.pos) }

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
		return p.scalar(kindTrue, jsonscan.Literal)
	case c == 'f':
		return p.scalar(kindFalse, jsonscan.Literal)
	case c == 'n':
		return p.scalar(kindNull, jsonscan.Literal)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.scalar(kindNumber, jsonscan.Number)
	}
	return p.fail("unexpected character " + strconv.QuoteRune(rune(p.src[p.pos])))
}

// scalar adds a number or literal node, which scan finds the end of.
func (p *parser) scalar(k kind, scan func([]byte, int) (int, error)) error {
	end, err := scan(p.src, p.pos)
	if err != nil {
		return err
	}
	i := p.push(k)
	p.pos = end
	n := &p.d.nodes[i]
	n.end, n.next = uint32(end), i+1
	return nil
}

func (p *parser) string() error {
	end, escaped, err := jsonscan.String(p.src, p.pos)
	if err != nil {
		return err
	}
	i := p.push(kindString)
	n := &p.d.nodes[i]
	n.start, n.end, n.next, n.escaped = uint32(p.pos+1), uint32(end-1), i+1, escaped
	p.pos = end
	return nil
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
	return jsonscan.Unescape(buf[:0], s)
}
