package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"
)

// Erasure is the erasure of one agent from one tenant's rows (an erasure.v1
// record of the topic, see pkg/stream.Erasure).
type Erasure struct {
	Tenant string
	// Agent is the Agent or identified Group (JSON) to erase.
	Agent []byte
	// Before bounds the statements erased by their stored time (inclusive).
	Before time.Time
}

// ErasureCounts is what an erasure or a purge removed (or in a dry run
// would remove): statements (each maybe in several unmerged rows) and the
// rollup months recomputed because of it.
type ErasureCounts struct {
	Statements int   `json:"statements"`
	Months     []int `json:"months"`
}

// mutationIDs bounds the ids of one ALTER TABLE ... DELETE.
const mutationIDs = 1000

// EraseAgent deletes the rows of every statement of e.Tenant stored at or
// before e.Before in which e.Agent appears (actor, object, context
// instructor, team, agents or groups, a Group's members, a SubStatement;
// not the authority), waits for ClickHouse to apply the deletes, and
// recomputes the rollup months they were in. With dryRun it only counts.
// The voided_statements rows of erased voiding statements stay: they hold
// ids only, and their targets stay voided as in the statement store.
func (c *ClickHouse) EraseAgent(ctx context.Context, e Erasure, dryRun bool) (ErasureCounts, error) {
	var p fastjson.Parser
	agent, err := p.ParseBytes(e.Agent)
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("%w: %v", ErrNoAgent, err)
	}
	kind, value, err := ifi(agent)
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("%w: %v", ErrNoAgent, err)
	}
	if value == "" {
		return ErasureCounts{}, ErrNoAgent
	}
	// The columns find the agent as actor, object and context; a Group's
	// members and a SubStatement are only in statement_json, where the
	// identifier appears as a JSON string. Every candidate is then checked
	// in full.
	needle := value
	if kind == "account" {
		_, needle, _ = strings.Cut(value, "|")
	}
	quoted, _ := json.Marshal(needle)
	rows, err := c.conn.Query(ctx, `SELECT statement_id, toYYYYMM(timestamp), statement_json FROM statements
WHERE tenant = ? AND stored <= toDateTime(?) AND (actor_ifi = ? OR object_id = ? OR context_instructor = ? OR context_team = ?
    OR has(context_agents, ?) OR has(context_groups, ?) OR position(statement_json, ?) > 0 OR position(statement_json, ?) > 0)`,
		e.Tenant, e.Before.Unix(), value, value, value, value, value, value, needle, string(quoted[1:len(quoted)-1]))
	if err != nil {
		return ErasureCounts{}, fmt.Errorf("analytics: find the agent's statements: %w", err)
	}
	defer rows.Close()
	found := map[uuid.UUID]bool{}
	var months []int
	for rows.Next() {
		var (
			id    uuid.UUID
			month uint32
			body  string
		)
		if err := rows.Scan(&id, &month, &body); err != nil {
			return ErasureCounts{}, fmt.Errorf("analytics: find the agent's statements: %w", err)
		}
		st, err := p.Parse(body)
		if err != nil || !storedBy(st, e.Before) || !mentions(st, kind, value) {
			continue
		}
		found[id] = true
		months = append(months, int(month))
	}
	if err := rows.Err(); err != nil {
		return ErasureCounts{}, fmt.Errorf("analytics: find the agent's statements: %w", err)
	}
	slices.Sort(months)
	n := ErasureCounts{Statements: len(found), Months: slices.Compact(months)}
	if dryRun || len(found) == 0 {
		return n, nil
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, "'"+id.String()+"'")
	}
	return n, c.deleteRows(ctx, n.Months, func(exec func(where string, args ...any) error) error {
		for len(ids) > 0 {
			k := min(len(ids), mutationIDs)
			// Ids are rendered by uuid, never by a client.
			if err := exec("tenant = ? AND statement_id IN ("+strings.Join(ids[:k], ", ")+")", e.Tenant); err != nil {
				return err
			}
			ids = ids[k:]
		}
		return nil
	})
}

// PurgeBefore deletes the tenant's rows stored before before and recomputes
// the rollup months they were in; with dryRun it only counts.
func (c *ClickHouse) PurgeBefore(ctx context.Context, tenant string, before time.Time, dryRun bool) (ErasureCounts, error) {
	var n ErasureCounts
	var count uint64
	if err := c.conn.QueryRow(ctx, "SELECT uniqExact(statement_id) FROM statements WHERE tenant = ? AND stored < toDateTime(?)", tenant, before.Unix()).Scan(&count); err != nil {
		return n, fmt.Errorf("analytics: count statements to purge: %w", err)
	}
	n.Statements = int(count)
	months, err := c.months(ctx, "SELECT DISTINCT toYYYYMM(timestamp) FROM statements WHERE tenant = ? AND stored < toDateTime(?)", tenant, before.Unix())
	if err != nil {
		return n, err
	}
	slices.Sort(months)
	n.Months = months
	if dryRun || count == 0 {
		return n, nil
	}
	return n, c.deleteRows(ctx, months, func(exec func(string, ...any) error) error {
		return exec("tenant = ? AND stored < toDateTime(?)", tenant, before.Unix())
	})
}

// deleteRows marks months for the rollups' refresh, runs the deletes that
// each call of exec submits, waits until ClickHouse applied them, and
// recomputes the months. The marks come first: should the process stop
// before the recompute, the periodic refresh still does it (the rows are
// gone by then, so a replay of the erasure would not find the months).
func (c *ClickHouse) deleteRows(ctx context.Context, months []int, deletes func(exec func(where string, args ...any) error) error) error {
	if len(months) > 0 {
		list := make([]string, len(months))
		for i, m := range months {
			list[i] = strconv.Itoa(m)
		}
		if err := c.conn.Exec(ctx, "INSERT INTO rollup_dirty (month, marked_at) SELECT toUInt32(arrayJoin(["+strings.Join(list, ", ")+"])), now()"); err != nil {
			return fmt.Errorf("analytics: mark rollup months: %w", err)
		}
	}
	err := deletes(func(where string, args ...any) error {
		if err := c.conn.Exec(ctx, "ALTER TABLE statements DELETE WHERE "+where, args...); err != nil {
			return fmt.Errorf("analytics: delete rows: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.waitMutations(ctx); err != nil {
		return err
	}
	return c.RefreshMonths(ctx, months)
}

// waitMutations waits until no mutation of the statements table is
// pending: ALTER TABLE ... DELETE returns before the rows are gone (18.16
// has no mutations_sync).
func (c *ClickHouse) waitMutations(ctx context.Context) error {
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var pending uint64
		err := c.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'statements' AND is_done = 0").Scan(&pending)
		if err != nil {
			return fmt.Errorf("analytics: read pending mutations: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("analytics: %d deletes still pending: %w", pending, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// storedBy reports whether the statement was stored at or before t.
func storedBy(st *fastjson.Value, t time.Time) bool {
	s, err := parseTime(st, "stored")
	return err == nil && !s.After(t)
}

// mentions reports whether the agent (kind, value) appears in the statement
// anywhere but its authority.
func mentions(st *fastjson.Value, kind, value string) bool {
	if agentIs(st.Get("actor"), kind, value) || contextMentions(st.Get("context"), kind, value) {
		return true
	}
	o := st.Get("object")
	if o == nil {
		return false
	}
	switch string(o.GetStringBytes("objectType")) {
	case "Agent", "Group":
		return agentIs(o, kind, value)
	case "SubStatement":
		if agentIs(o.Get("actor"), kind, value) || contextMentions(o.Get("context"), kind, value) {
			return true
		}
		if so := o.Get("object"); so != nil {
			t := string(so.GetStringBytes("objectType"))
			return (t == "Agent" || t == "Group") && agentIs(so, kind, value)
		}
	}
	return false
}

func contextMentions(c *fastjson.Value, kind, value string) bool {
	if c == nil {
		return false
	}
	if agentIs(c.Get("instructor"), kind, value) || agentIs(c.Get("team"), kind, value) {
		return true
	}
	for _, l := range []struct{ list, member string }{{"contextAgents", "agent"}, {"contextGroups", "group"}} {
		for _, e := range c.GetArray(l.list) {
			if agentIs(e.Get(l.member), kind, value) {
				return true
			}
		}
	}
	return false
}

// agentIs reports whether a is the agent, or a Group that has it as a
// member.
func agentIs(a *fastjson.Value, kind, value string) bool {
	if a == nil || a.Type() != fastjson.TypeObject {
		return false
	}
	if k, v, err := ifi(a); err == nil && k == kind && v == value {
		return true
	}
	return slices.ContainsFunc(a.GetArray("member"), func(m *fastjson.Value) bool {
		k, v, err := ifi(m)
		return err == nil && k == kind && v == value
	})
}

// ErrNoAgent is returned for an erasure whose agent cannot be identified:
// it can never be applied.
var ErrNoAgent = errors.New("analytics: erasure agent is not an Agent or Group with an inverse functional identifier")
