package xapi

import "bytes"

// decimal is a JSON number literal read exactly: (-1)^neg × D × 10^exp,
// where the significant digits D are a followed by b (spans of the
// literal, so reading one allocates nothing), without leading or trailing
// zeros (both empty for zero). Comparing literals this way agrees with JSON
// Schema validators, which compare numbers as exact rationals, without
// their cost: a literal like 1e-999999999 is cheap here.
type decimal struct {
	neg  bool
	a, b []byte
	exp  int64
}

// maxExp keeps exponent arithmetic far from overflow; no float or decimal
// type in use gets anywhere near it.
const maxExp = 1 << 40

// parseDecimal reads a literal the JSON parser has already checked.
func parseDecimal(s []byte) decimal {
	var d decimal
	if len(s) > 0 && s[0] == '-' {
		d.neg = true
		s = s[1:]
	}
	mant := s
	var exp int64
	if i := bytes.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e := s[i+1:]
		eneg := false
		if len(e) > 0 && (e[0] == '+' || e[0] == '-') {
			eneg = e[0] == '-'
			e = e[1:]
		}
		for _, c := range e {
			if exp < maxExp {
				exp = exp*10 + int64(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	intPart, frac := mant, []byte(nil)
	if i := bytes.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	d.exp = exp - int64(len(frac))
	d.a = bytes.TrimLeft(intPart, "0")
	d.b = frac
	if len(d.a) == 0 {
		d.b = bytes.TrimLeft(frac, "0")
	}
	if t := bytes.TrimRight(d.b, "0"); len(t) > 0 || len(d.b) > 0 {
		d.exp += int64(len(d.b) - len(t))
		d.b = t
	}
	if len(d.b) == 0 {
		t := bytes.TrimRight(d.a, "0")
		d.exp += int64(len(d.a) - len(t))
		d.a = t
	}
	if d.isZero() {
		d.neg, d.exp = false, 0
	}
	return d
}

func (d decimal) n() int { return len(d.a) + len(d.b) }

func (d decimal) at(i int) byte {
	if i < len(d.a) {
		return d.a[i]
	}
	return d.b[i-len(d.a)]
}

func (d decimal) isZero() bool { return d.n() == 0 }

// isInt reports whether the value is a whole number.
func (d decimal) isInt() bool { return d.isZero() || d.exp >= 0 }

func (d decimal) cmp(o decimal) int {
	switch {
	case d.isZero() && o.isZero():
		return 0
	case d.neg != o.neg || d.isZero() || o.isZero():
		return cmpInt(d.sign(), o.sign())
	}
	m := d.cmpAbs(o)
	if d.neg {
		return -m
	}
	return m
}

func (d decimal) sign() int {
	switch {
	case d.isZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func (d decimal) cmpAbs(o decimal) int {
	// Magnitude first: the position of the leading digit.
	dm, om := int64(d.n())+d.exp, int64(o.n())+o.exp
	if dm != om {
		if dm < om {
			return -1
		}
		return 1
	}
	n := min(d.n(), o.n())
	for i := 0; i < n; i++ {
		if x, y := d.at(i), o.at(i); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	// Trailing zeros are stripped, so leftover digits make a number larger.
	switch {
	case d.n() < o.n():
		return -1
	case d.n() > o.n():
		return 1
	}
	return 0
}

func cmpInt(x, y int) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
