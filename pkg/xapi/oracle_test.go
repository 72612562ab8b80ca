package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"

	xapischema "github.com/streamlrs/streamlrs/schemas/xapi"
)

// The oracle gives the verdict of the published contract on a request
// body: the JSON Schema of the version plus the rules the schema README
// lists as beyond JSON Schema. It is written independently of the fast
// validator, on encoding/json and jsonschema/v5, so that agreement between
// the two means something.

const schemaBase = "https://github.com/streamlrs/streamlrs/blob/main/schemas/xapi/"

var (
	schemaOnce sync.Once
	schemas    map[Version]*jsonschema.Schema
	schemaErr  error
)

func bodySchema(t testing.TB, v Version) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		schemas = map[Version]*jsonschema.Schema{}
		for _, ver := range []Version{V1_0_3, V2_0_0} {
			c := jsonschema.NewCompiler()
			c.Draft = jsonschema.Draft2020
			c.LoadURL = func(s string) (io.ReadCloser, error) { return nil, fmt.Errorf("no remote schemas: %s", s) }
			for _, name := range []string{"statement.schema.json", "statements.schema.json"} {
				data, err := xapischema.Schemas.ReadFile(string(ver) + "/" + name)
				if err != nil {
					schemaErr = err
					return
				}
				if err := c.AddResource(schemaBase+string(ver)+"/"+name, bytes.NewReader(data)); err != nil {
					schemaErr = err
					return
				}
			}
			s, err := c.Compile(schemaBase + string(ver) + "/statements.schema.json")
			if err != nil {
				schemaErr = err
				return
			}
			schemas[ver] = s
		}
	})
	if schemaErr != nil {
		t.Fatalf("compile schemas: %v", schemaErr)
	}
	return schemas[v]
}

// errIndeterminate marks input the oracle will not judge: numbers with
// exponents so large that exact rational arithmetic would take too long.
var errIndeterminate = errors.New("indeterminate")

// oracle returns nil when the contract accepts body, errIndeterminate, or
// the reason for rejecting it.
func oracle(t testing.TB, body []byte, v Version) error {
	if err := oracleSyntax(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if err := bodySchema(t, v).Validate(doc); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return oracleSemantics(doc)
}

// oracleSyntax checks what a decoded value no longer shows: UTF-8, NUL and
// unpaired surrogate escapes, nesting depth, and member names used twice
// (outside extension values), plus huge exponents.
func oracleSyntax(body []byte) error {
	if !utf8.Valid(body) || !json.Valid(body) {
		return errors.New("not UTF-8 JSON")
	}
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			if (c == 'e' || c == 'E') && i+1 < len(body) {
				j := i + 1
				if body[j] == '+' || body[j] == '-' {
					j++
				}
				k := j
				for k < len(body) && body[k] >= '0' && body[k] <= '9' {
					k++
				}
				if k-j > 4 {
					return errIndeterminate
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if body[i+1] != 'u' {
				i++
				continue
			}
			r, _ := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
			switch {
			case r == 0:
				return errors.New("NUL escape")
			case r >= 0xDC00 && r <= 0xDFFF:
				return errors.New("unpaired low surrogate")
			case r >= 0xD800 && r <= 0xDBFF:
				if i+12 > len(body) || body[i+6] != '\\' || body[i+7] != 'u' {
					return errors.New("unpaired high surrogate")
				}
				lo, _ := strconv.ParseUint(string(body[i+8:i+12]), 16, 32)
				if lo < 0xDC00 || lo > 0xDFFF {
					return errors.New("unpaired high surrogate")
				}
				i += 6
			}
			i += 5
		}
	}
	type frame struct {
		object  bool
		free    bool // inside an extension value: names may repeat
		extMap  bool // the extensions object itself
		keys    map[string]bool
		wantKey bool
		lastKey string
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if !top.free && top.keys[k] {
				return fmt.Errorf("member %q given twice", k)
			}
			top.keys[k] = true
			top.lastKey, top.wantKey = k, false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		d, ok := tok.(json.Delim)
		if !ok {
			continue
		}
		switch d {
		case '}', ']':
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) >= MaxDepth {
			return errors.New("too deep")
		}
		f := &frame{object: d == '{', wantKey: true, keys: map[string]bool{}}
		if top != nil {
			f.free = top.free || top.extMap
			f.extMap = !f.free && top.object && top.lastKey == "extensions"
		}
		stack = append(stack, f)
	}
}

// oracleSemantics checks the rules of README.md that relate values:
// score bounds, distinct interaction component ids, and distinct statement
// ids in a batch.
func oracleSemantics(doc any) error {
	if arr, ok := doc.([]any); ok {
		seen := map[string]bool{}
		for _, s := range arr {
			if id, ok := s.(map[string]any)["id"].(string); ok {
				id = strings.ToLower(id)
				if seen[id] {
					return errors.New("batch id repeated")
				}
				seen[id] = true
			}
		}
	}
	return walkSemantics(doc, "")
}

func walkSemantics(v any, key string) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := walkSemantics(e, ""); err != nil {
				return err
			}
		}
	case map[string]any:
		switch key {
		case "score":
			if err := scoreRules(x); err != nil {
				return err
			}
		case "definition":
			for _, list := range []string{"choices", "scale", "source", "target", "steps"} {
				ids := map[string]bool{}
				items, _ := x[list].([]any)
				for _, it := range items {
					id := it.(map[string]any)["id"].(string)
					if ids[id] {
						return fmt.Errorf("component id %q repeated", id)
					}
					ids[id] = true
				}
			}
		}
		for k, e := range x {
			if k == "extensions" {
				continue
			}
			if err := walkSemantics(e, k); err != nil {
				return err
			}
		}
	}
	return nil
}

func scoreRules(s map[string]any) error {
	r := map[string]*big.Rat{}
	for k, v := range s {
		n := v.(json.Number)
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return fmt.Errorf("score %s out of float64 range", k)
		}
		r[k], _ = new(big.Rat).SetString(string(n))
	}
	if r["min"] != nil && r["max"] != nil && r["min"].Cmp(r["max"]) >= 0 {
		return errors.New("min >= max")
	}
	if r["raw"] != nil && r["min"] != nil && r["raw"].Cmp(r["min"]) < 0 {
		return errors.New("raw < min")
	}
	if r["raw"] != nil && r["max"] != nil && r["raw"].Cmp(r["max"]) > 0 {
		return errors.New("raw > max")
	}
	return nil
}
