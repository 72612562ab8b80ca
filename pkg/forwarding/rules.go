package forwarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// RulesStore is what managing rules needs of the store.
type RulesStore interface {
	store.Forwarding
	GetTenant(ctx context.Context, id string) (store.Tenant, error)
}

// Rules manages the forwarding rules: the operations behind the admin
// API's /admin/tenants/{id}/forwarding routes and `lrs forwarding`. The
// forwarders apply a change within their rules interval.
type Rules struct {
	st  RulesStore
	now func() time.Time
}

// NewRules manages the rules in st.
func NewRules(st RulesStore) (*Rules, error) {
	if st == nil {
		return nil, errors.New("forwarding rules need a store")
	}
	return &Rules{st: st, now: time.Now}, nil
}

// Status is a rule with what its forwarders last reported.
type Status struct {
	Rule
	// LagRecords is how many records of the topic the rule has not read
	// past, and LagSeconds the age of the oldest one it has read and not
	// delivered, as of ReportedAt.
	LagRecords  int64      `json:"lagRecords"`
	LagSeconds  float64    `json:"lagSeconds"`
	Delivered   int64      `json:"delivered"`
	Failed      int64      `json:"failed"`
	DeadLetters int64      `json:"deadLetters"`
	LastError   string     `json:"lastError,omitempty"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
	ReportedAt  *time.Time `json:"reportedAt,omitempty"`
}

// DeadLetter is a statement a rule's target refused, with its answer.
type DeadLetter struct {
	ID          int64           `json:"id"`
	StatementID string          `json:"statementId"`
	Statement   json.RawMessage `json:"statement"`
	Partition   int32           `json:"partition"`
	Offset      int64           `json:"offset"`
	Status      int             `json:"status"`
	Answer      string          `json:"answer"`
	Resend      bool            `json:"resend"`
	CreatedAt   time.Time       `json:"createdAt"`
}

// Create stores a new rule. The answer holds the target's secret (a
// webhook's, generated), the only time it is shown.
func (r *Rules) Create(ctx context.Context, tenant string, s Spec) (Rule, error) {
	if _, err := r.st.GetTenant(ctx, tenant); err != nil {
		return Rule{}, err
	}
	now := r.now().UTC()
	start, err := s.validate(now)
	if err != nil {
		return Rule{}, err
	}
	filter, err := json.Marshal(s.Filter)
	if err != nil {
		return Rule{}, err
	}
	target, err := json.Marshal(s.Target)
	if err != nil {
		return Rule{}, err
	}
	if err := r.st.CreateForwardingRule(ctx, store.ForwardingRule{Tenant: tenant, Name: s.Name, Filter: filter, Target: target, StartAt: start, CreatedAt: now}); err != nil {
		return Rule{}, err
	}
	stored, err := r.st.GetForwardingRule(ctx, tenant, s.Name)
	if err != nil {
		return Rule{}, err
	}
	rule, err := fromStore(stored)
	if err != nil {
		return Rule{}, err
	}
	if s.Target.Type != TargetWebhook {
		rule = rule.shown()
	}
	return rule, nil
}

// List returns the tenant's rules with their status.
func (r *Rules) List(ctx context.Context, tenant string) ([]Status, error) {
	if _, err := r.st.GetTenant(ctx, tenant); err != nil {
		return nil, err
	}
	stored, err := r.st.ListForwardingRules(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := []Status{}
	for _, s := range stored {
		st, err := r.status(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Get returns one rule with its status.
func (r *Rules) Get(ctx context.Context, tenant, name string) (Status, error) {
	s, err := r.st.GetForwardingRule(ctx, tenant, name)
	if err != nil {
		return Status{}, err
	}
	return r.status(ctx, s)
}

func (r *Rules) status(ctx context.Context, s store.ForwardingRule) (Status, error) {
	rule, err := fromStore(s)
	if err != nil {
		return Status{}, err
	}
	ps, err := r.st.ForwardingPositions(ctx, s.Tenant, s.Name)
	if err != nil {
		return Status{}, err
	}
	out := Status{Rule: rule.shown()}
	var oldest, reported, lastErr time.Time
	for _, p := range ps {
		out.Delivered += p.Delivered
		out.Failed += p.Failed
		out.DeadLetters += p.DeadLetters
		if p.LastError != "" && p.LastErrorAt.After(lastErr) {
			lastErr, out.LastError = p.LastErrorAt, p.LastError
		}
		if p.Generation != s.Generation {
			continue // before a rewind
		}
		out.LagRecords += max(p.End-p.Next, 0)
		if !p.PendingSince.IsZero() && (oldest.IsZero() || p.PendingSince.Before(oldest)) {
			oldest = p.PendingSince
		}
		if p.UpdatedAt.After(reported) {
			reported = p.UpdatedAt
		}
	}
	if !lastErr.IsZero() {
		out.LastErrorAt = &lastErr
	}
	if !reported.IsZero() {
		out.ReportedAt = &reported
		if !oldest.IsZero() {
			out.LagSeconds = reported.Sub(oldest).Seconds()
		}
	}
	return out, nil
}

// Delete removes a rule with its positions and dead letters.
func (r *Rules) Delete(ctx context.Context, tenant, name string) error {
	return r.st.DeleteForwardingRule(ctx, tenant, name)
}

// SetPaused pauses a rule (its forwarders stop within their rules
// interval; a batch cut off then is sent again) or resumes it from its
// saved positions.
func (r *Rules) SetPaused(ctx context.Context, tenant, name string, paused bool) (Rule, error) {
	s, err := r.st.SetForwardingRulePaused(ctx, tenant, name, paused)
	if err != nil {
		return Rule{}, err
	}
	rule, err := fromStore(s)
	return rule.shown(), err
}

// Rewind makes a rule deliver again from `to` (see ParseStart): the
// statements acknowledged since, that the topic still holds.
func (r *Rules) Rewind(ctx context.Context, tenant, name, to string) (Rule, error) {
	if to == "" {
		return Rule{}, invalid("rewind needs a time (RFC 3339) or beginning")
	}
	at, err := ParseStart(to, r.now())
	if err != nil {
		return Rule{}, err
	}
	s, err := r.st.RewindForwardingRule(ctx, tenant, name, at)
	if err != nil {
		return Rule{}, err
	}
	rule, err := fromStore(s)
	return rule.shown(), err
}

// MaxDeadLettersListed bounds one page of dead letters.
const MaxDeadLettersListed = 1000

// DeadLetters lists a rule's dead letters after id `after`, oldest first.
func (r *Rules) DeadLetters(ctx context.Context, tenant, name string, after int64, limit int) ([]DeadLetter, error) {
	if limit < 1 || limit > MaxDeadLettersListed {
		return nil, invalid("limit %d: want 1-%d", limit, MaxDeadLettersListed)
	}
	if _, err := r.st.GetForwardingRule(ctx, tenant, name); err != nil {
		return nil, err
	}
	ds, err := r.st.ListForwardingDeadLetters(ctx, tenant, name, after, limit, false)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(ds))
	for i, d := range ds {
		out[i] = DeadLetter{ID: d.ID, StatementID: d.StatementID, Statement: d.Statement, Partition: d.Partition, Offset: d.Offset,
			Status: d.Status, Answer: d.Answer, Resend: d.Resend, CreatedAt: d.CreatedAt}
	}
	return out, nil
}

// Resend marks dead letters (every one of the rule when ids is empty) to
// be sent again by the rule's forwarders; it reports how many.
func (r *Rules) Resend(ctx context.Context, tenant, name string, ids []int64) (int, error) {
	if _, err := r.st.GetForwardingRule(ctx, tenant, name); err != nil {
		return 0, err
	}
	n, err := r.st.MarkForwardingDeadLetters(ctx, tenant, name, ids)
	if err != nil {
		return 0, fmt.Errorf("resend dead letters: %w", err)
	}
	return n, nil
}
