package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// settleStatements is how many statements settle sends: enough that, with
// random keys, every partition of a topic of up to a few dozen almost
// surely gets one, so the LRS has caught up everywhere when all are seen.
const settleStatements = 32

// SettleStats says how long the LRS took, before the run, to show
// statements sent to it: the backlog an earlier run left behind.
type SettleStats struct {
	Seconds  float64 `json:"seconds"`
	Complete bool    `json:"complete"` // false: Settle ran out first
}

// settle sends settleStatements statements (not part of the load: their own
// generator) and waits until GET returns all of them and, with ClickHouse,
// until ClickHouse has them, at most cfg.Settle. Runs that follow each other
// on one LRS otherwise measure the previous run's backlog.
func (r *runner) settle(ctx context.Context, ch *chWatcher) (SettleStats, error) {
	start := time.Now()
	deadline := start.Add(r.cfg.Settle)
	gen, err := NewGenerator(GenConfig{Seed: r.cfg.Gen.Seed ^ 0x5e771e, Instances: 1, Learners: 100, Courses: 1})
	if err != nil {
		return SettleStats{}, err
	}
	ids := make([]string, 0, settleStatements)
	for range settleStatements {
		id, err := r.postOne(ctx, gen.Next())
		if err != nil {
			return SettleStats{}, fmt.Errorf("loadgen: settle: %w", err)
		}
		ids = append(ids, id)
	}
	pending := ids
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		status, err := r.fresh.get(ctx, r.statements+"?statementId="+url.QueryEscape(pending[0]), 0)
		switch {
		case err == nil && status == http.StatusOK:
			pending = pending[1:]
		case err == nil && status == http.StatusNotFound:
			sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
		default:
			return SettleStats{}, fmt.Errorf("loadgen: settle: GET answered %d: %v", status, err)
		}
	}
	if ch != nil {
		for len(pending) == 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			found, err := ch.query(ids)
			if err != nil {
				return SettleStats{}, fmt.Errorf("loadgen: settle: %w", err)
			}
			if len(found) == len(ids) {
				break
			}
			sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
		}
	}
	s := SettleStats{Seconds: time.Since(start).Seconds(), Complete: time.Now().Before(deadline) && ctx.Err() == nil}
	return s, ctx.Err()
}

// postOne POSTs one statement with the first credential and returns its id.
func (r *runner) postOne(ctx context.Context, st Statement) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.statements, bytes.NewReader(st.JSON))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", r.authFor(0))
	req.Header.Set("X-Experience-API-Version", r.cfg.Version)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST answered %d: %s", resp.StatusCode, body)
	}
	var ids []string
	if err := json.Unmarshal(body, &ids); err != nil || len(ids) != 1 {
		return "", fmt.Errorf("POST answer %q: want one statement id", body)
	}
	return ids[0], nil
}
