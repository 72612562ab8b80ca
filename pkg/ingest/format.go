package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Statement GET formats (xAPI Communication 2.1.3): exact returns the
// statement as stored; ids keeps only what identifies each Agent, Group,
// Activity and Verb; canonical keeps one language per language map, chosen
// by Accept-Language.
const (
	formatExact     = "exact"
	formatIDs       = "ids"
	formatCanonical = "canonical"
)

// renderStatement rewrites one stored statement for format. Exact needs no
// work and returns raw unchanged.
func renderStatement(raw []byte, format string, langs []string) ([]byte, error) {
	if format == formatExact {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var st map[string]any
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("stored statement is not JSON: %w", err)
	}
	r := renderer{format: format, langs: langs}
	r.statement(st)
	return json.Marshal(st)
}

type renderer struct {
	format string
	langs  []string
}

func (r renderer) statement(st map[string]any) {
	r.replace(st, "actor", r.agent)
	r.replace(st, "verb", r.verb)
	r.replace(st, "authority", r.agent)
	if obj, ok := st["object"].(map[string]any); ok {
		switch obj["objectType"] {
		case "Agent", "Group":
			st["object"] = r.agent(obj)
		case "SubStatement":
			r.statement(obj)
		case "StatementRef":
		default:
			st["object"] = r.activity(obj)
		}
	}
	if ctx, ok := st["context"].(map[string]any); ok {
		r.replace(ctx, "instructor", r.agent)
		r.replace(ctx, "team", r.agent)
		if ca, ok := ctx["contextActivities"].(map[string]any); ok {
			for k, v := range ca {
				if list, ok := v.([]any); ok {
					for i, a := range list {
						if m, ok := a.(map[string]any); ok {
							list[i] = r.activity(m)
						}
					}
				}
				ca[k] = v
			}
		}
		for _, key := range [][2]string{{"contextAgents", "agent"}, {"contextGroups", "group"}} {
			if list, ok := ctx[key[0]].([]any); ok {
				for _, item := range list {
					if m, ok := item.(map[string]any); ok {
						r.replace(m, key[1], r.agent)
					}
				}
			}
		}
	}
	if r.format == formatCanonical {
		if list, ok := st["attachments"].([]any); ok {
			for _, a := range list {
				if m, ok := a.(map[string]any); ok {
					r.langMap(m, "display")
					r.langMap(m, "description")
				}
			}
		}
	}
}

func (r renderer) replace(m map[string]any, key string, f func(map[string]any) map[string]any) {
	if v, ok := m[key].(map[string]any); ok {
		m[key] = f(v)
	}
}

var ifis = []string{"mbox", "mbox_sha1sum", "openid", "account"}

func (r renderer) agent(a map[string]any) map[string]any {
	if r.format != formatIDs {
		return a
	}
	out := map[string]any{}
	if t, ok := a["objectType"]; ok {
		out["objectType"] = t
	}
	identified := false
	for _, k := range ifis {
		if v, ok := a[k]; ok {
			out[k] = v
			identified = true
		}
	}
	if members, ok := a["member"].([]any); ok && !identified {
		ids := make([]any, 0, len(members))
		for _, m := range members {
			if mm, ok := m.(map[string]any); ok {
				ids = append(ids, r.agent(mm))
			}
		}
		out["member"] = ids
	}
	return out
}

func (r renderer) verb(v map[string]any) map[string]any {
	switch r.format {
	case formatIDs:
		return map[string]any{"id": v["id"]}
	case formatCanonical:
		r.langMap(v, "display")
	}
	return v
}

func (r renderer) activity(a map[string]any) map[string]any {
	switch r.format {
	case formatIDs:
		return map[string]any{"id": a["id"]}
	case formatCanonical:
		if def, ok := a["definition"].(map[string]any); ok {
			r.langMap(def, "name")
			r.langMap(def, "description")
			for _, comp := range []string{"choices", "scale", "source", "target", "steps"} {
				if list, ok := def[comp].([]any); ok {
					for _, c := range list {
						if m, ok := c.(map[string]any); ok {
							r.langMap(m, "description")
						}
					}
				}
			}
		}
	}
	return a
}

// langMap keeps the single entry of m[key] that best matches the client's
// languages (exact tag, then same primary language), else one stable entry.
func (r renderer) langMap(m map[string]any, key string) {
	lm, ok := m[key].(map[string]any)
	if !ok || len(lm) <= 1 {
		return
	}
	tags := make([]string, 0, len(lm))
	for t := range lm {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	pick := ""
	for _, want := range r.langs {
		for _, t := range tags {
			if strings.EqualFold(t, want) {
				pick = t
				break
			}
		}
		if pick == "" {
			for _, t := range tags {
				if p, _, _ := strings.Cut(t, "-"); strings.EqualFold(p, strings.Split(want, "-")[0]) {
					pick = t
					break
				}
			}
		}
		if pick != "" {
			break
		}
	}
	if pick == "" {
		pick = tags[0]
		for _, t := range tags {
			if t == "und" || strings.EqualFold(t, "en-US") {
				pick = t
				break
			}
		}
	}
	m[key] = map[string]any{pick: lm[pick]}
}

// acceptLanguages orders the tags of an Accept-Language header by quality.
func acceptLanguages(h string) []string {
	type tag struct {
		name string
		q    float64
		i    int
	}
	var tags []tag
	for i, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name == "" || name == "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			tags = append(tags, tag{name, q, i})
		}
	}
	sort.SliceStable(tags, func(a, b int) bool { return tags[a].q > tags[b].q })
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.name
	}
	return out
}
