package xapi

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is the "format" parameter of a statement GET (Communication
// 2.1.3).
type Format string

const (
	FormatExact     Format = "exact"     // statements as stored
	FormatIDs       Format = "ids"       // Agents, Groups, Activities and Verbs reduced to what identifies them
	FormatCanonical Format = "canonical" // one language per Activity and Verb language map, chosen by Accept-Language
)

// ParseFormat reads the format parameter; absent means exact.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "":
		return FormatExact, nil
	case FormatExact, FormatIDs, FormatCanonical:
		return Format(s), nil
	}
	return "", fmt.Errorf("format must be ids, exact or canonical, not %q", s)
}

// ParseAcceptLanguage returns the language ranges of an Accept-Language
// header (RFC 7231 5.3.5) from most to least preferred, without those of
// quality 0. Malformed entries are skipped.
func ParseAcceptLanguage(header string) []string {
	type ranged struct {
		tag string
		q   float64
	}
	var rs []ranged
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		q := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			v, err := strconv.ParseFloat(p[2:], 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			q = v
		}
		if q > 0 {
			rs = append(rs, ranged{tag, q})
		}
	}
	slices.SortStableFunc(rs, func(a, b ranged) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.tag
	}
	return out
}

// FormatStatement renders a statement in stored form (as PrepareStatements
// produced it) in format f. For canonical, languages are the
// Accept-Language ranges in order of preference (see ParseAcceptLanguage);
// each language map of a Verb or Activity keeps one entry: the first range
// that matches a tag exactly or as a prefix, else one with the same primary
// language, else the map's first entry. The LRS keeps no separate
// definitions, so the canonical definition of an Activity or Verb is the
// one in the statement.
func FormatStatement(stored []byte, f Format, languages []string) ([]byte, error) {
	if f == FormatExact || f == "" {
		return stored, nil
	}
	if f != FormatIDs && f != FormatCanonical {
		return nil, fmt.Errorf("format statement: unknown format %q", f)
	}
	fm := formatter{ids: f == FormatIDs, langs: languages}
	if err := fm.d.parse(stored); err != nil {
		return nil, fmt.Errorf("format statement: %w", err)
	}
	if fm.d.nodes[0].kind != kindObject {
		return nil, fmt.Errorf("format statement: not a statement object")
	}
	fm.w.d = &fm.d
	fm.statement(0)
	return fm.w.b, nil
}

type formatter struct {
	d     document
	w     writer
	ids   bool
	langs []string
}

// object writes object o, letting each(name, value node) write every
// member's value; each returns false to leave the member out.
func (f *formatter) object(o uint32, each func(name string, k uint32) bool) {
	d := &f.d
	f.w.b = append(f.w.b, '{')
	first := true
	for k := o + 1; k < d.nodes[o].next; k = d.nodes[k+1].next {
		mark := len(f.w.b)
		f.w.member(k, first)
		if each(string(f.w.key(k)), k+1) {
			first = false
		} else {
			f.w.b = f.w.b[:mark]
		}
	}
	f.w.b = append(f.w.b, '}')
}

func (f *formatter) objectType(o uint32) string {
	d := &f.d
	for k := o + 1; k < d.nodes[o].next; k = d.nodes[k+1].next {
		if string(f.w.key(k)) == "objectType" && d.nodes[k+1].kind == kindString {
			return string(d.text(k+1, nil))
		}
	}
	return ""
}

func (f *formatter) statement(o uint32) {
	f.object(o, func(name string, v uint32) bool {
		switch name {
		case "actor", "authority":
			f.agent(v)
		case "verb":
			f.verb(v)
		case "object":
			f.statementObject(v)
		case "context":
			f.context(v)
		default:
			f.w.value(v)
		}
		return true
	})
}

func (f *formatter) statementObject(v uint32) {
	switch f.objectType(v) {
	case "", "Activity":
		f.activity(v)
	case "Agent", "Group":
		f.agent(v)
	case "SubStatement":
		f.statement(v)
	default:
		f.w.value(v)
	}
}

// agent writes an Agent or Group; ids keeps objectType and the identifier
// (and, for an anonymous Group, its members reduced the same way).
func (f *formatter) agent(v uint32) {
	if !f.ids || f.d.nodes[v].kind != kindObject {
		f.w.value(v)
		return
	}
	identified := false
	d := &f.d
	for k := v + 1; k < d.nodes[v].next; k = d.nodes[k+1].next {
		switch string(f.w.key(k)) {
		case "mbox", "mbox_sha1sum", "openid", "account":
			identified = true
		}
	}
	f.object(v, func(name string, m uint32) bool {
		switch name {
		case "objectType", "mbox", "mbox_sha1sum", "openid", "account":
			f.w.value(m)
		case "member":
			if identified {
				return false
			}
			f.array(m, f.agent)
		default:
			return false
		}
		return true
	})
}

func (f *formatter) array(a uint32, each func(uint32)) {
	d := &f.d
	if d.nodes[a].kind != kindArray {
		f.w.value(a)
		return
	}
	f.w.b = append(f.w.b, '[')
	for e := a + 1; e < d.nodes[a].next; e = d.nodes[e].next {
		if e != a+1 {
			f.w.b = append(f.w.b, ',')
		}
		each(e)
	}
	f.w.b = append(f.w.b, ']')
}

func (f *formatter) verb(v uint32) {
	f.object(v, func(name string, m uint32) bool {
		switch {
		case name == "id":
			f.w.value(m)
		case f.ids:
			return false
		case name == "display":
			f.languageMap(m)
		default:
			f.w.value(m)
		}
		return true
	})
}

func (f *formatter) activity(v uint32) {
	f.object(v, func(name string, m uint32) bool {
		switch {
		case name == "id":
			f.w.value(m)
		case f.ids:
			return false
		case name == "definition":
			f.definition(m)
		default:
			f.w.value(m)
		}
		return true
	})
}

func (f *formatter) definition(v uint32) {
	f.object(v, func(name string, m uint32) bool {
		switch name {
		case "name", "description":
			f.languageMap(m)
		case "choices", "scale", "source", "target", "steps":
			f.array(m, func(c uint32) {
				f.object(c, func(name string, cm uint32) bool {
					if name == "description" {
						f.languageMap(cm)
					} else {
						f.w.value(cm)
					}
					return true
				})
			})
		default:
			f.w.value(m)
		}
		return true
	})
}

func (f *formatter) context(v uint32) {
	f.object(v, func(name string, m uint32) bool {
		switch name {
		case "instructor", "team":
			f.agent(m)
		case "contextActivities":
			f.object(m, func(_ string, a uint32) bool {
				f.array(a, f.activity)
				return true
			})
		case "contextAgents", "contextGroups":
			f.array(m, func(c uint32) {
				f.object(c, func(name string, cm uint32) bool {
					if name == "agent" || name == "group" {
						f.agent(cm)
					} else {
						f.w.value(cm)
					}
					return true
				})
			})
		default:
			f.w.value(m)
		}
		return true
	})
}

// languageMap writes the one entry of map v that best fits f.langs.
func (f *formatter) languageMap(v uint32) {
	d := &f.d
	if d.nodes[v].kind != kindObject || d.nodes[v].count == 0 {
		f.w.value(v)
		return
	}
	pick := f.pickLanguage(v)
	f.w.b = append(f.w.b, '{')
	f.w.member(pick, true)
	f.w.value(pick + 1)
	f.w.b = append(f.w.b, '}')
}

// pickLanguage returns the key node of the chosen entry of map v.
func (f *formatter) pickLanguage(v uint32) uint32 {
	d := &f.d
	end := d.nodes[v].next
	for _, r := range f.langs {
		for k := v + 1; k < end; k = d.nodes[k+1].next {
			if r == "*" || langMatches(f.w.key(k), r) {
				return k
			}
		}
	}
	for _, r := range f.langs {
		primary, _, _ := strings.Cut(r, "-")
		for k := v + 1; k < end; k = d.nodes[k+1].next {
			tag, _, _ := bytes.Cut(f.w.key(k), []byte("-"))
			if bytes.EqualFold(tag, []byte(primary)) {
				return k
			}
		}
	}
	return v + 1
}

// langMatches is RFC 4647 basic filtering: the range equals the tag or is
// a prefix of it ending at a subtag boundary, ignoring case.
func langMatches(tag []byte, r string) bool {
	if len(tag) < len(r) || !bytes.EqualFold(tag[:len(r)], []byte(r)) {
		return false
	}
	return len(tag) == len(r) || tag[len(r)] == '-'
}
