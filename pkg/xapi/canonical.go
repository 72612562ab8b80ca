package xapi

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// writer re-serializes a validated statement compactly, applying the
// normal form the LRS stores: contextActivities values as arrays (Data
// 2.4.6.2) and timestamps in UTC (Data 4.5; 2.0 requires the conversion).
// Strings and numbers are copied byte for byte: the LRS must not return a
// different serialization of them.
type writer struct {
	d      *document
	v      Version
	b      []byte
	keyBuf []byte
}

func (w *writer) key(k uint32) []byte {
	if w.d.nodes[k].escaped {
		w.keyBuf = w.d.text(k, w.keyBuf)
		return w.keyBuf
	}
	return w.d.raw(k)
}

// member writes `"name":` for key node k, preceded by a comma unless first.
func (w *writer) member(k uint32, first bool) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, w.d.raw(k)...)
	w.b = append(w.b, '"', ':')
}

// value writes any JSON value compactly.
func (w *writer) value(v uint32) {
	d := w.d
	n := &d.nodes[v]
	switch n.kind {
	case kindString:
		w.b = append(w.b, '"')
		w.b = append(w.b, d.src[n.start:n.end]...)
		w.b = append(w.b, '"')
	case kindObject:
		w.b = append(w.b, '{')
		end := n.next
		for k := v + 1; k < end; k = d.nodes[k+1].next {
			w.member(k, k == v+1)
			w.value(k + 1)
		}
		w.b = append(w.b, '}')
	case kindArray:
		w.b = append(w.b, '[')
		end := n.next
		for e := v + 1; e < end; e = d.nodes[e].next {
			if e != v+1 {
				w.b = append(w.b, ',')
			}
			w.value(e)
		}
		w.b = append(w.b, ']')
	default:
		w.b = append(w.b, d.src[n.start:n.end]...)
	}
}

// timestampValue writes a (valid) timestamp string node in UTC.
func (w *writer) timestampValue(v uint32) {
	ts, ok := parseTimestamp(w.d.text(v, nil), w.v)
	if !ok || ts.canonUTC {
		w.value(v)
		return
	}
	w.b = append(w.b, '"')
	w.b = ts.appendUTC(w.b)
	w.b = append(w.b, '"')
}

// statementMembers writes the members of a statement or SubStatement,
// normalizing object, context and timestamp. For a top-level statement
// (top) it leaves out the members the LRS assigns itself.
func (w *writer) statementMembers(o uint32, first, top bool) {
	d := w.d
	end := d.nodes[o].next
	for k := o + 1; k < end; k = d.nodes[k+1].next {
		name := w.key(k)
		if top {
			switch string(name) {
			case "id", "timestamp", "stored", "authority", "version":
				continue
			}
		}
		switch string(name) {
		case "object":
			w.member(k, first)
			w.object(k + 1)
		case "context":
			w.member(k, first)
			w.context(k + 1)
		case "timestamp":
			w.member(k, first)
			w.timestampValue(k + 1)
		default:
			w.member(k, first)
			w.value(k + 1)
		}
		first = false
	}
}

func (w *writer) object(v uint32) {
	d := w.d
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		if string(w.key(k)) == "objectType" {
			if string(d.text(k+1, nil)) == "SubStatement" {
				w.b = append(w.b, '{')
				w.statementMembers(v, true, false)
				w.b = append(w.b, '}')
				return
			}
			break
		}
	}
	w.value(v)
}

func (w *writer) context(v uint32) {
	d := w.d
	w.b = append(w.b, '{')
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		w.member(k, k == v+1)
		if string(w.key(k)) != "contextActivities" {
			w.value(k + 1)
			continue
		}
		ca := k + 1
		w.b = append(w.b, '{')
		cend := d.nodes[ca].next
		for ck := ca + 1; ck < cend; ck = d.nodes[ck+1].next {
			w.member(ck, ck == ca+1)
			if d.nodes[ck+1].kind == kindObject {
				w.b = append(w.b, '[')
				w.value(ck + 1)
				w.b = append(w.b, ']')
			} else {
				w.value(ck + 1)
			}
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, '}')
}

// canonMode says how the canonical encoder treats an object's members.
type canonMode uint8

const (
	cmGeneric canonMode = iota
	cmStatement
	cmSubStatement
	cmVerb
	cmObject
	cmActor
	cmContext
	cmContextActivities
	cmActivity
	cmStatementRef
	cmResult
)

// canonicalizer encodes a statement for the comparison rules (Data 2.3.1
// and 2.4.10 of 1.0.3; the 2.0 equivalents): a type-tagged, length-prefixed
// byte stream with object members sorted, in which everything the rules
// say to ignore is left out or normalized:
//   - id, stored, authority and version (assigned or overwritten by an LRS);
//   - Verb display and Activity definitions (not part of the statement);
//   - timestamp serialization: compared as the UTC instant in milliseconds;
//   - Group members as an unordered list;
//   - contextActivities values as arrays;
//   - case of UUIDs and of the domain of mbox e-mail addresses;
//   - result duration precision beyond 0.01 s.
//
// Two statements have the same encoding exactly when the rules make them
// the same statement; its SHA-256 is Prepared.Fingerprint.
type canonicalizer struct {
	d      *document
	v      Version
	b      []byte
	tmp    []byte
	valBuf []byte
}

func (c *canonicalizer) tag(t byte, n int) {
	c.b = append(c.b, t)
	c.b = binary.AppendUvarint(c.b, uint64(n))
}

func (c *canonicalizer) bytesVal(t byte, s []byte) {
	c.tag(t, len(s))
	c.b = append(c.b, s...)
}

func (c *canonicalizer) text(v uint32) []byte {
	if c.d.nodes[v].escaped {
		c.valBuf = c.d.text(v, c.valBuf)
		return c.valBuf
	}
	return c.d.raw(v)
}

func (c *canonicalizer) encode(v uint32, mode canonMode) {
	d := c.d
	n := &d.nodes[v]
	switch n.kind {
	case kindString:
		c.bytesVal('s', c.text(v))
	case kindNumber:
		c.bytesVal('n', d.src[n.start:n.end])
	case kindTrue:
		c.b = append(c.b, 't')
	case kindFalse:
		c.b = append(c.b, 'f')
	case kindNull:
		c.b = append(c.b, 'z')
	case kindArray:
		c.tag('a', int(n.count))
		for e := v + 1; e < n.next; e = d.nodes[e].next {
			c.encode(e, mode)
		}
	case kindObject:
		c.object(v, mode)
	}
}

// object encodes an object's members sorted by name under mode's rules.
func (c *canonicalizer) object(v uint32, mode canonMode) {
	d := c.d
	var small [16]uint32
	keys := small[:0]
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		if !c.drop(mode, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) <= len(small) {
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && d.compareStrings(keys[j-1], keys[j]) > 0; j-- {
				keys[j-1], keys[j] = keys[j], keys[j-1]
			}
		}
	} else {
		slices.SortStableFunc(keys, d.compareStrings)
	}
	c.tag('o', len(keys))
	for _, k := range keys {
		c.bytesVal('s', c.text(k))
		c.memberValue(mode, k)
	}
}

// drop reports whether the member with key k is left out under mode.
func (c *canonicalizer) drop(mode canonMode, k uint32) bool {
	name := c.text(k)
	switch mode {
	case cmStatement:
		switch string(name) {
		case "id", "stored", "authority", "version":
			return true
		}
	case cmVerb:
		return string(name) == "display"
	case cmActivity:
		return string(name) == "definition"
	}
	return false
}

// memberValue encodes the value of the member with key k under mode.
func (c *canonicalizer) memberValue(mode canonMode, k uint32) {
	v := k + 1
	name := c.text(k)
	switch mode {
	case cmStatement, cmSubStatement:
		switch string(name) {
		case "actor":
			c.encode(v, cmActor)
		case "verb":
			c.encode(v, cmVerb)
		case "object":
			c.objectValue(v)
		case "context":
			c.encode(v, cmContext)
		case "result":
			c.encode(v, cmResult)
		case "timestamp":
			c.timestamp(v)
		default:
			c.encode(v, cmGeneric)
		}
	case cmActor:
		switch string(name) {
		case "mbox":
			c.mbox(v)
		case "member":
			c.members(v)
		default:
			c.encode(v, cmGeneric)
		}
	case cmContext:
		switch string(name) {
		case "registration":
			c.lower(v)
		case "instructor", "team":
			c.encode(v, cmActor)
		case "contextActivities":
			c.encode(v, cmContextActivities)
		case "statement":
			c.encode(v, cmStatementRef)
		default:
			c.encode(v, cmGeneric)
		}
	case cmContextActivities:
		if c.d.nodes[v].kind == kindObject {
			c.tag('a', 1)
		}
		c.encode(v, cmActivity)
	case cmStatementRef:
		if string(name) == "id" {
			c.lower(v)
		} else {
			c.encode(v, cmGeneric)
		}
	case cmResult:
		if string(name) == "duration" {
			c.duration(v)
		} else {
			c.encode(v, cmGeneric)
		}
	default:
		c.encode(v, cmGeneric)
	}
}

func (c *canonicalizer) objectValue(v uint32) {
	var ot []byte
	d := c.d
	end := d.nodes[v].next
	for k := v + 1; k < end; k = d.nodes[k+1].next {
		if string(c.text(k)) == "objectType" {
			ot = c.text(k + 1)
			break
		}
	}
	switch string(ot) {
	case "", "Activity":
		c.encode(v, cmActivity)
	case "Agent", "Group":
		c.encode(v, cmActor)
	case "StatementRef":
		c.encode(v, cmStatementRef)
	case "SubStatement":
		c.encode(v, cmSubStatement)
	default:
		c.encode(v, cmGeneric)
	}
}

func (c *canonicalizer) lower(v uint32) {
	s := c.text(v)
	c.tag('s', len(s))
	for _, ch := range s {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		c.b = append(c.b, ch)
	}
}

// mbox lower-cases the domain of an e-mail address (it is case-insensitive).
func (c *canonicalizer) mbox(v uint32) {
	s := c.text(v)
	at := bytes.LastIndexByte(s, '@')
	c.tag('s', len(s))
	c.b = append(c.b, s[:at+1]...)
	for _, ch := range s[at+1:] {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		c.b = append(c.b, ch)
	}
}

// members encodes a Group's member list in a fixed order: members
// are encoded one by one and the encodings sorted.
func (c *canonicalizer) members(v uint32) {
	d := c.d
	n := &d.nodes[v]
	c.tag('a', int(n.count))
	start := len(c.b)
	var small [16]int
	ends := small[:0]
	for e := v + 1; e < n.next; e = d.nodes[e].next {
		c.encode(e, cmActor)
		ends = append(ends, len(c.b))
	}
	c.tmp = append(c.tmp[:0], c.b[start:]...)
	span := func(i int) []byte {
		s := 0
		if i > 0 {
			s = ends[i-1] - start
		}
		return c.tmp[s : ends[i]-start]
	}
	order := make([]int, len(ends))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(span(a), span(b)) })
	c.b = c.b[:start]
	for _, i := range order {
		c.b = append(c.b, span(i)...)
	}
}

func (c *canonicalizer) timestamp(v uint32) {
	ts, ok := parseTimestamp(c.text(v), c.v)
	if !ok {
		c.encode(v, cmGeneric)
		return
	}
	c.b = append(c.b, 'T')
	c.b = binary.AppendVarint(c.b, ts.t.UnixMilli())
}

// duration drops precision beyond 0.01 s from the seconds of a duration
// and trailing zeros of what is left, so PT1.5S, PT1.50S and PT1.509S
// compare equal.
func (c *canonicalizer) duration(v uint32) {
	s := c.text(v)
	if len(s) == 0 || s[len(s)-1] != 'S' {
		c.bytesVal('s', s)
		return
	}
	dot := bytes.LastIndexAny(s, ".,")
	if dot < 0 || bytes.IndexAny(s[dot:], "HMTP") >= 0 {
		c.bytesVal('s', s)
		return
	}
	frac := s[dot+1 : len(s)-1]
	if len(frac) > 2 {
		frac = frac[:2]
	}
	frac = bytes.TrimRight(frac, "0")
	head := s[:dot]
	size := len(head) + 1
	if len(frac) > 0 {
		size += 1 + len(frac)
	}
	c.tag('s', size)
	c.b = append(c.b, head...)
	if len(frac) > 0 {
		c.b = append(c.b, '.')
		c.b = append(c.b, frac...)
	}
	c.b = append(c.b, 'S')
}
