package jsonscan

import "bytes"

// Value is a JSON value that Members or First has validated, as its bytes.
// Walking it again (its members, its elements) needs no second validation:
// readers that descend level by level, as the store's walker does, would
// otherwise validate the deeper bytes once per level. Bytes converted to a
// Value unvalidated are read within their bounds, but may be misread.
type Value []byte

// IsObject and IsArray tell a value's type by its first byte.
func (v Value) IsObject() bool { return len(v) > 0 && v[0] == '{' }
func (v Value) IsArray() bool  { return len(v) > 0 && v[0] == '[' }

// Text returns the text of a string value; ok is false if v is not a string.
func (v Value) Text() (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return string(Unescape(make([]byte, 0, len(inner)), inner)), true
	}
	return string(inner), true
}

// First validates the value at the start of b and returns it; what
// follows it is the caller's.
func First(b []byte) (Value, error) {
	end, err := Skip(b, 0)
	if err != nil {
		return nil, err
	}
	return b[:end], nil
}

// Members validates the object obj and calls fn with each of its members:
// the member's name (unescaped) and its value. The name is a slice of obj,
// or of a buffer of its own if it held escapes: a reader that only compares
// it (switch string(name)) allocates nothing, one that keeps it copies it.
// Members stops at fn's first error and returns it.
func Members(obj []byte, fn func(name []byte, val Value) error) error {
	return members(obj, false, fn)
}

// Members calls fn with each member of the object v, as the function
// Members does but without validating v again.
func (v Value) Members(fn func(name []byte, val Value) error) error {
	return members(v, true, fn)
}

// Elements calls fn with each element of the array v.
func (v Value) Elements(fn func(val Value) error) error {
	i := Space(v, 0)
	if i >= len(v) || v[i] != '[' {
		return fail(i, "expected an array")
	}
	i = Space(v, i+1)
	if i < len(v) && v[i] == ']' {
		return nil
	}
	for {
		end, err := validEnd(v, i)
		if err != nil {
			return err
		}
		if err := fn(v[i:end]); err != nil {
			return err
		}
		i = Space(v, end)
		if i >= len(v) {
			return fail(i, "unterminated array")
		}
		if v[i] == ']' {
			return nil
		}
		if v[i] != ',' {
			return fail(i, "expected ',' or ']' in array")
		}
		i = Space(v, i+1)
	}
}

// members walks obj, validating it unless it is known to be valid.
func members(obj []byte, valid bool, fn func([]byte, Value) error) error {
	i := Space(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return fail(i, "expected an object")
	}
	i = Space(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for {
		var (
			val, nameEnd, end int
			escaped           bool
			err               error
		)
		if valid {
			val, nameEnd, escaped, err = validKey(obj, i)
		} else {
			val, nameEnd, escaped, err = key(obj, i)
		}
		if err != nil {
			return err
		}
		name := obj[i+1 : nameEnd-1]
		if escaped {
			name = Unescape(make([]byte, 0, len(name)), name)
		}
		if valid {
			end, err = validEnd(obj, val)
		} else {
			end, err = Skip(obj, val)
		}
		if err != nil {
			return err
		}
		if err := fn(name, obj[val:end]); err != nil {
			return err
		}
		i = Space(obj, end)
		if i >= len(obj) {
			return fail(i, "unterminated object")
		}
		if obj[i] == '}' {
			return nil
		}
		if obj[i] != ',' {
			return fail(i, "expected ',' or '}' in object")
		}
		i = Space(obj, i+1)
	}
}

// validKey is key for a Value.
func validKey(b []byte, i int) (val, nameEnd int, escaped bool, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, fail(i, "expected a property name in double quotes")
	}
	// A name shortString takes is plain ASCII: no escapes to look for.
	if nameEnd = shortString(b, i); nameEnd == 0 {
		if nameEnd, err = validStringEnd(b, i); err != nil {
			return 0, 0, false, err
		}
		escaped = bytes.IndexByte(b[i+1:nameEnd-1], '\\') >= 0
	}
	if i = Space(b, nameEnd); i >= len(b) || b[i] != ':' {
		return 0, 0, false, fail(i, "expected ':' after property name")
	}
	return Space(b, i+1), nameEnd, escaped, nil
}

// validEnd returns the index after the value at b[i] of a Value, which is
// valid JSON: counting brackets then finds its end, and a string ends at
// the first quote after an even run of backslashes. It still stays within
// b if given bytes that are not a Value, with an error.
func validEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fail(i, "unexpected end of input")
	}
	switch b[i] {
	case '"':
		return validStringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := validStringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, fail(i, "unexpected end of input")
	default: // number, true, false, null
		j := i + 1
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		return j, nil
	}
}

// validStringEnd returns the index after the valid string at b[i].
func validStringEnd(b []byte, i int) (int, error) {
	if e := shortString(b, i); e > 0 {
		return e, nil
	}
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, fail(len(b), "unterminated string")
		}
		i += q
		n := 0
		for k := i - 1; b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1, nil
		}
	}
}
