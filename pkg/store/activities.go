package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/streamlrs/streamlrs/pkg/jsonscan"
)

// Canonical Activity definitions (GET /activities).
//
// They are merged when statements are written, in the store-writer's
// transaction, rather than computed when asked: an Activity may be the
// object of millions of statements, and reading all of them per GET would
// cost in proportion to the store, while merging at write time costs one
// small read per batch and a write only when a definition changes. The
// canonical definition is then exactly as fresh as the statements (read
// your writes holds through the same watermark).
//
// Merge rules: xAPI leaves the canonical definition to the LRS ("SHOULD
// update ... upon receiving a Statement with a different definition"). A
// later definition wins property by property; the language maps (name,
// description) and extensions are merged key by key, so two statements
// describing an Activity in two languages leave both. Definitions merge in
// the order the store applies statements.

// activityRow is one canonical definition to write.
type activityRow struct {
	Digest     [16]byte
	Tenant, ID string
	Definition []byte
	Updated    time.Time
}

// activityTx is what merging definitions needs from a backend's batch
// transaction.
type activityTx interface {
	// activityDefinitions returns the stored definitions of the digests
	// that have one.
	activityDefinitions(ctx context.Context, digests [][16]byte) (map[[16]byte][]byte, error)
	// lockActivities makes concurrent batches that change the same
	// activities take turns (digests sorted, so that they cannot deadlock).
	lockActivities(ctx context.Context, digests [][16]byte) error
	// putActivities inserts or replaces definitions.
	putActivities(ctx context.Context, acts []activityRow) error
}

// definitionMerged are the members merged key by key; the others are
// replaced whole.
var definitionMerged = map[string]bool{"name": true, "description": true, "extensions": true}

// mergeDefinition merges next into cur (both JSON objects) and returns the
// result with sorted keys, so that equal definitions are equal bytes.
func mergeDefinition(cur, next []byte) ([]byte, error) {
	var c, n map[string]json.RawMessage
	if len(cur) > 0 {
		if err := json.Unmarshal(cur, &c); err != nil {
			return nil, fmt.Errorf("stored activity definition: %w", err)
		}
	}
	if err := json.Unmarshal(next, &n); err != nil {
		return nil, fmt.Errorf("activity definition: %w", err)
	}
	if c == nil {
		c = map[string]json.RawMessage{}
	}
	for k, v := range n {
		if definitionMerged[k] && jsonscan.Value(c[k]).IsObject() && jsonscan.Value(v).IsObject() {
			var cm, nm map[string]json.RawMessage
			if err := json.Unmarshal(c[k], &cm); err != nil {
				return nil, fmt.Errorf("stored activity definition %s: %w", k, err)
			}
			if err := json.Unmarshal(v, &nm); err != nil {
				return nil, fmt.Errorf("activity definition %s: %w", k, err)
			}
			for lk, lv := range nm {
				cm[lk] = lv
			}
			b, err := marshalJSON(cm)
			if err != nil {
				return nil, err
			}
			c[k] = b
			continue
		}
		c[k] = v
	}
	return marshalJSON(c)
}

// marshalJSON is json.Marshal (sorted keys, compact) without escaping
// '<', '>' and '&': the definition is returned as the statements sent it.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// rawMember is one member of a JSON object, its value undecoded.
type rawMember struct {
	key string
	val jsonscan.Value
}

func rawMembers(obj []byte) ([]rawMember, bool) {
	var out []rawMember
	err := jsonscan.Members(obj, func(k []byte, v jsonscan.Value) error {
		out = append(out, rawMember{string(k), v})
		return nil
	})
	return out, err == nil
}

func findMember(ms []rawMember, key string) (jsonscan.Value, bool) {
	for _, m := range ms {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// definitionContains reports whether merging next into cur would leave cur
// as it is: each member of next is in cur with the same bytes (for the
// merged members, each of their entries is). It spares decoding and
// re-encoding the definitions that statements repeat, which is nearly all
// of them; a false answer only costs the full merge.
func definitionContains(cur, next []byte) bool {
	if len(cur) == 0 {
		return false
	}
	cm, ok := rawMembers(cur)
	if !ok {
		return false
	}
	nm, ok := rawMembers(next)
	if !ok {
		return false
	}
	for _, m := range nm {
		cv, ok := findMember(cm, m.key)
		if !ok {
			return false
		}
		if bytes.Equal(cv, m.val) {
			continue
		}
		if !definitionMerged[m.key] || !cv.IsObject() || !m.val.IsObject() {
			return false
		}
		centries, ok := rawMembers(cv)
		if !ok {
			return false
		}
		nentries, ok := rawMembers(m.val)
		if !ok {
			return false
		}
		for _, e := range nentries {
			if v, ok := findMember(centries, e.key); !ok || !bytes.Equal(v, e.val) {
				return false
			}
		}
	}
	return true
}

// definedActivity is an Activity with a definition found in a statement,
// and its digest in the statement's tenant.
type definedActivity struct {
	ID         string
	Definition []byte
	Digest     [16]byte
}

// statementActivities returns the Activities with a definition in a
// statement of tenant: its object, a SubStatement's object, and the context
// activities of both.
func statementActivities(tenant string, raw []byte) ([]definedActivity, error) {
	var out []definedActivity
	err := jsonscan.Members(raw, func(k []byte, v jsonscan.Value) error {
		switch string(k) {
		case "object":
			return objectActivities(v, &out, 0)
		case "context":
			return contextActivities(v, &out)
		}
		return nil
	})
	for i := range out {
		out[i].Digest = keyDigest(tenant, prefixActivity+out[i].ID)
	}
	return out, err
}

// objectActivities adds an Activity object with a definition, or looks
// into a SubStatement.
func objectActivities(v jsonscan.Value, out *[]definedActivity, depth int) error {
	if !v.IsObject() || depth > 1 {
		return nil
	}
	var objectType, id string
	var def, object, context jsonscan.Value
	err := v.Members(func(k []byte, v jsonscan.Value) error {
		switch string(k) {
		case "objectType":
			objectType = str(v)
		case "id":
			id = str(v)
		case "definition":
			def = v
		case "object":
			object = v
		case "context":
			context = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch objectType {
	case "", "Activity":
		if id != "" && def.IsObject() {
			*out = append(*out, definedActivity{ID: id, Definition: def})
		}
	case "SubStatement":
		if err := objectActivities(object, out, depth+1); err != nil {
			return err
		}
		return contextActivities(context, out)
	}
	return nil
}

// contextActivities adds the defined Activities of contextActivities
// (each list an array or, as 1.0.x allowed, one object).
func contextActivities(v jsonscan.Value, out *[]definedActivity) error {
	if !v.IsObject() {
		return nil
	}
	return v.Members(func(k []byte, v jsonscan.Value) error {
		if string(k) != "contextActivities" || !v.IsObject() {
			return nil
		}
		return v.Members(func(_ []byte, list jsonscan.Value) error {
			if list.IsArray() {
				return list.Elements(func(a jsonscan.Value) error { return objectActivities(a, out, 1) })
			}
			return objectActivities(list, out, 1)
		})
	})
}

// applyActivities merges the definitions carried by new statements into
// the canonical ones. Steady state (definitions repeated) costs one read
// and no write; only changed definitions are locked and rewritten.
func applyActivities(ctx context.Context, tx activityTx, inserted []planned) error {
	type pending struct {
		row  activityRow
		defs [][]byte // in statement order
	}
	byDigest := map[[16]byte]*pending{}
	var digests [][16]byte
	for _, p := range inserted {
		if p.actsErr != nil {
			return fmt.Errorf("activities of statement %s: %w", p.ID, p.actsErr)
		}
		for _, a := range p.acts {
			d := a.Digest
			e := byDigest[d]
			if e == nil {
				e = &pending{row: activityRow{Digest: d, Tenant: p.Tenant, ID: a.ID}}
				byDigest[d] = e
				digests = append(digests, d)
			}
			// Only the last copy of a repeated definition counts: merging
			// is idempotent and later members win, so the result is the
			// same and the work is per distinct definition.
			for i, d := range e.defs {
				if bytes.Equal(d, a.Definition) {
					e.defs = append(e.defs[:i], e.defs[i+1:]...)
					break
				}
			}
			e.defs = append(e.defs, a.Definition)
			if p.Stored.After(e.row.Updated) {
				e.row.Updated = p.Stored
			}
		}
	}
	if len(digests) == 0 {
		return nil
	}
	sort.Slice(digests, func(i, j int) bool { return bytes.Compare(digests[i][:], digests[j][:]) < 0 })
	merge := func(stored map[[16]byte][]byte, only [][16]byte) ([]activityRow, error) {
		var changed []activityRow
		for _, d := range only {
			e := byDigest[d]
			cur := stored[d]
			merged := cur
			for _, def := range e.defs {
				if definitionContains(merged, def) {
					continue
				}
				var err error
				if merged, err = mergeDefinition(merged, def); err != nil {
					return nil, fmt.Errorf("activity %s: %w", e.row.ID, err)
				}
			}
			if !bytes.Equal(merged, cur) {
				r := e.row
				r.Definition = merged
				changed = append(changed, r)
			}
		}
		return changed, nil
	}
	stored, err := tx.activityDefinitions(ctx, digests)
	if err != nil {
		return fmt.Errorf("read activity definitions: %w", err)
	}
	changed, err := merge(stored, digests)
	if err != nil || len(changed) == 0 {
		return err
	}
	// Another batch may have changed these since the read: lock, then merge
	// again from what is stored now.
	digests = digests[:0]
	for _, r := range changed {
		digests = append(digests, r.Digest)
	}
	if err := tx.lockActivities(ctx, digests); err != nil {
		return fmt.Errorf("lock activity definitions: %w", err)
	}
	if stored, err = tx.activityDefinitions(ctx, digests); err != nil {
		return fmt.Errorf("read activity definitions: %w", err)
	}
	if changed, err = merge(stored, digests); err != nil || len(changed) == 0 {
		return err
	}
	if err := tx.putActivities(ctx, changed); err != nil {
		return fmt.Errorf("write activity definitions: %w", err)
	}
	return nil
}
