package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Forwarding is what pkg/forwarding keeps in the store: the tenants' rules,
// each rule's position per partition of the statements topic with its
// counters, and the statements its target refused for good.
type Forwarding interface {
	// CreateForwardingRule stores a new rule: ErrExists if the tenant has
	// one of that name, ErrNotFound if the tenant does not exist.
	CreateForwardingRule(ctx context.Context, r ForwardingRule) error
	GetForwardingRule(ctx context.Context, tenant, name string) (ForwardingRule, error)
	// ListForwardingRules lists the rules of tenant ("" for every tenant's)
	// by tenant and name.
	ListForwardingRules(ctx context.Context, tenant string) ([]ForwardingRule, error)
	DeleteForwardingRule(ctx context.Context, tenant, name string) error
	SetForwardingRulePaused(ctx context.Context, tenant, name string, paused bool) (ForwardingRule, error)
	// RewindForwardingRule makes the rule start again at `to` (zero: the
	// beginning of retention): it raises the rule's generation, so that
	// the positions saved before are ignored.
	RewindForwardingRule(ctx context.Context, tenant, name string, to time.Time) (ForwardingRule, error)
	// ForwardingPositions returns the rule's saved positions, of every
	// generation, by partition.
	ForwardingPositions(ctx context.Context, tenant, name string) ([]ForwardingPosition, error)
	// SaveForwardingPositions adds the counters of ps to the rule's and
	// moves its positions, unless a rewind made ps's generation old.
	SaveForwardingPositions(ctx context.Context, tenant, name string, ps []ForwardingPosition) error
	AddForwardingDeadLetters(ctx context.Context, ds []ForwardingDeadLetter) error
	// ListForwardingDeadLetters returns the rule's dead letters after id
	// `after`, oldest first, at most limit; only those marked for resending
	// when resendOnly.
	ListForwardingDeadLetters(ctx context.Context, tenant, name string, after int64, limit int, resendOnly bool) ([]ForwardingDeadLetter, error)
	// MarkForwardingDeadLetters marks the rule's dead letters ids (every
	// one when ids is empty) to be sent again, and reports how many.
	MarkForwardingDeadLetters(ctx context.Context, tenant, name string, ids []int64) (int, error)
	DeleteForwardingDeadLetters(ctx context.Context, tenant, name string, ids []int64) error
}

// ForwardingRule is a rule as stored: Filter and Target are its JSON, which
// pkg/forwarding validates and reads.
type ForwardingRule struct {
	Tenant, Name   string
	Filter, Target []byte
	// StartAt is where the rule reads from when it has no position (zero:
	// the beginning of retention).
	StartAt    time.Time
	Generation int64
	Paused     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ForwardingPosition is a rule's place and counters in one partition.
type ForwardingPosition struct {
	Partition  int32
	Generation int64
	// Next is the next offset to read; End the partition's end seen last.
	Next, End int64
	// PendingSince is when the oldest record read and not yet delivered
	// was written (zero: none is pending).
	PendingSince time.Time
	// Counted statements: on save, what to add; on read, the totals.
	Delivered, Failed, DeadLetters int64
	// LastError is kept when a save gives none.
	LastError   string
	LastErrorAt time.Time
	UpdatedAt   time.Time
}

// ForwardingDeadLetter is one statement a rule's target refused.
type ForwardingDeadLetter struct {
	ID           int64
	Tenant, Rule string
	StatementID  string
	Statement    []byte
	Partition    int32
	Offset       int64
	Status       int
	Answer       string
	Resend       bool
	CreatedAt    time.Time
}

const forwardingRuleColumns = "tenant, name, filter, target, start_at, generation, paused, created_at, updated_at"

func scanForwardingRule(row rowScanner) (ForwardingRule, error) {
	var r ForwardingRule
	var filter, target string
	err := row.Scan(&r.Tenant, &r.Name, &filter, &target, timeDest{&r.StartAt}, &r.Generation, &r.Paused, timeDest{&r.CreatedAt}, timeDest{&r.UpdatedAt})
	r.Filter, r.Target = []byte(filter), []byte(target)
	return r, err
}

func ruleNotFound(tenant, name string) error {
	return fmt.Errorf("forwarding rule %s/%s: %w", tenant, name, ErrNotFound)
}

func (s *sqlDB) CreateForwardingRule(ctx context.Context, r ForwardingRule) error {
	if r.Tenant == "" || r.Name == "" {
		return errors.New("create forwarding rule: tenant and name are required")
	}
	now := time.Now().UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.UpdatedAt = r.CreatedAt
	res, err := s.w.ExecContext(ctx, s.d.bind("INSERT INTO forwarding_rules ("+forwardingRuleColumns+") VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (tenant, name) DO NOTHING"),
		r.Tenant, r.Name, string(r.Filter), string(r.Target), s.optTime(r.StartAt), r.Paused, s.time(r.CreatedAt), s.time(r.UpdatedAt))
	if s.d.foreignKeyViolation(err) {
		return fmt.Errorf("create forwarding rule %s: tenant %s: %w", r.Name, r.Tenant, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("create forwarding rule %s/%s: %w", r.Tenant, r.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create forwarding rule %s/%s: %w", r.Tenant, r.Name, err)
	} else if n == 0 {
		return fmt.Errorf("forwarding rule %s/%s: %w", r.Tenant, r.Name, ErrExists)
	}
	return nil
}

func (s *sqlDB) GetForwardingRule(ctx context.Context, tenant, name string) (ForwardingRule, error) {
	r, err := scanForwardingRule(s.r.QueryRowContext(ctx, s.d.bind("SELECT "+forwardingRuleColumns+" FROM forwarding_rules WHERE tenant = ? AND name = ?"), tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return ForwardingRule{}, ruleNotFound(tenant, name)
	}
	if err != nil {
		return ForwardingRule{}, fmt.Errorf("get forwarding rule %s/%s: %w", tenant, name, err)
	}
	return r, nil
}

func (s *sqlDB) ListForwardingRules(ctx context.Context, tenant string) ([]ForwardingRule, error) {
	q, args := "SELECT "+forwardingRuleColumns+" FROM forwarding_rules ORDER BY tenant, name", []any{}
	if tenant != "" {
		q, args = "SELECT "+forwardingRuleColumns+" FROM forwarding_rules WHERE tenant = ? ORDER BY tenant, name", []any{tenant}
	}
	rows, err := s.r.QueryContext(ctx, s.d.bind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list forwarding rules: %w", err)
	}
	out, err := collect(rows, scanForwardingRule)
	if err != nil {
		return nil, fmt.Errorf("list forwarding rules: %w", err)
	}
	return out, nil
}

func (s *sqlDB) DeleteForwardingRule(ctx context.Context, tenant, name string) error {
	res, err := s.w.ExecContext(ctx, s.d.bind("DELETE FROM forwarding_rules WHERE tenant = ? AND name = ?"), tenant, name)
	if err != nil {
		return fmt.Errorf("delete forwarding rule %s/%s: %w", tenant, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete forwarding rule %s/%s: %w", tenant, name, err)
	} else if n == 0 {
		return ruleNotFound(tenant, name)
	}
	return nil
}

func (s *sqlDB) updateForwardingRule(ctx context.Context, tenant, name, set string, args ...any) (ForwardingRule, error) {
	args = append(append(args, s.time(time.Now())), tenant, name)
	r, err := scanForwardingRule(s.w.QueryRowContext(ctx, s.d.bind("UPDATE forwarding_rules SET "+set+", updated_at = ? WHERE tenant = ? AND name = ? RETURNING "+forwardingRuleColumns), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return ForwardingRule{}, ruleNotFound(tenant, name)
	}
	if err != nil {
		return ForwardingRule{}, fmt.Errorf("update forwarding rule %s/%s: %w", tenant, name, err)
	}
	return r, nil
}

func (s *sqlDB) SetForwardingRulePaused(ctx context.Context, tenant, name string, paused bool) (ForwardingRule, error) {
	return s.updateForwardingRule(ctx, tenant, name, "paused = ?", paused)
}

func (s *sqlDB) RewindForwardingRule(ctx context.Context, tenant, name string, to time.Time) (ForwardingRule, error) {
	return s.updateForwardingRule(ctx, tenant, name, "start_at = ?, generation = generation + 1", s.optTime(to))
}

const forwardingPositionColumns = "partition, generation, next_offset, end_offset, pending_since, delivered, failed, dead_letters, last_error, last_error_at, updated_at"

func (s *sqlDB) ForwardingPositions(ctx context.Context, tenant, name string) ([]ForwardingPosition, error) {
	rows, err := s.r.QueryContext(ctx, s.d.bind("SELECT "+forwardingPositionColumns+" FROM forwarding_positions WHERE tenant = ? AND rule = ? ORDER BY partition"), tenant, name)
	if err != nil {
		return nil, fmt.Errorf("read forwarding positions of %s/%s: %w", tenant, name, err)
	}
	out, err := collect(rows, func(row rowScanner) (ForwardingPosition, error) {
		var p ForwardingPosition
		err := row.Scan(&p.Partition, &p.Generation, &p.Next, &p.End, timeDest{&p.PendingSince}, &p.Delivered, &p.Failed, &p.DeadLetters,
			&p.LastError, timeDest{&p.LastErrorAt}, timeDest{&p.UpdatedAt})
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read forwarding positions of %s/%s: %w", tenant, name, err)
	}
	return out, nil
}

func (s *sqlDB) SaveForwardingPositions(ctx context.Context, tenant, name string, ps []ForwardingPosition) error {
	// A row's place moves only under a generation at least its own, so
	// that a forwarder still running before a rewind cannot undo it; what
	// it delivered meanwhile is counted all the same.
	const q = `INSERT INTO forwarding_positions (tenant, rule, ` + forwardingPositionColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, rule, partition) DO UPDATE SET
    next_offset = CASE WHEN excluded.generation >= forwarding_positions.generation THEN excluded.next_offset ELSE forwarding_positions.next_offset END,
    end_offset = CASE WHEN excluded.generation >= forwarding_positions.generation THEN excluded.end_offset ELSE forwarding_positions.end_offset END,
    pending_since = CASE WHEN excluded.generation >= forwarding_positions.generation THEN excluded.pending_since ELSE forwarding_positions.pending_since END,
    generation = CASE WHEN excluded.generation >= forwarding_positions.generation THEN excluded.generation ELSE forwarding_positions.generation END,
    delivered = forwarding_positions.delivered + excluded.delivered,
    failed = forwarding_positions.failed + excluded.failed,
    dead_letters = forwarding_positions.dead_letters + excluded.dead_letters,
    last_error = CASE WHEN excluded.last_error <> '' THEN excluded.last_error ELSE forwarding_positions.last_error END,
    last_error_at = CASE WHEN excluded.last_error <> '' THEN excluded.last_error_at ELSE forwarding_positions.last_error_at END,
    updated_at = excluded.updated_at`
	now := time.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, p := range ps {
			_, err := tx.ExecContext(ctx, s.d.bind(q), tenant, name, p.Partition, p.Generation, p.Next, p.End, s.optTime(p.PendingSince),
				p.Delivered, p.Failed, p.DeadLetters, p.LastError, s.optTime(p.LastErrorAt), s.time(now))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if s.d.foreignKeyViolation(err) {
		return ruleNotFound(tenant, name)
	}
	if err != nil {
		return fmt.Errorf("save forwarding positions of %s/%s: %w", tenant, name, err)
	}
	return nil
}

func (s *sqlDB) AddForwardingDeadLetters(ctx context.Context, ds []ForwardingDeadLetter) error {
	now := time.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			_, err := tx.ExecContext(ctx, s.d.bind(`INSERT INTO forwarding_dead_letters (tenant, rule, statement_id, statement, partition, record_offset, status, answer, resend, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), d.Tenant, d.Rule, d.StatementID, string(d.Statement), d.Partition, d.Offset, d.Status, d.Answer, false, s.time(now))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if s.d.foreignKeyViolation(err) {
		return fmt.Errorf("add forwarding dead letters: %w", ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("add forwarding dead letters: %w", err)
	}
	return nil
}

func (s *sqlDB) ListForwardingDeadLetters(ctx context.Context, tenant, name string, after int64, limit int, resendOnly bool) ([]ForwardingDeadLetter, error) {
	q := "SELECT id, tenant, rule, statement_id, statement, partition, record_offset, status, answer, resend, created_at FROM forwarding_dead_letters WHERE tenant = ? AND rule = ? AND id > ?"
	if resendOnly {
		q += " AND " + s.d.isTrue("resend")
	}
	rows, err := s.r.QueryContext(ctx, s.d.bind(q+" ORDER BY id LIMIT ?"), tenant, name, after, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("list forwarding dead letters of %s/%s: %w", tenant, name, err)
	}
	out, err := collect(rows, func(row rowScanner) (ForwardingDeadLetter, error) {
		var d ForwardingDeadLetter
		var stmt string
		err := row.Scan(&d.ID, &d.Tenant, &d.Rule, &d.StatementID, &stmt, &d.Partition, &d.Offset, &d.Status, &d.Answer, &d.Resend, timeDest{&d.CreatedAt})
		d.Statement = []byte(stmt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list forwarding dead letters of %s/%s: %w", tenant, name, err)
	}
	return out, nil
}

// idList renders ids as a SQL list of integers (they are int64, so they
// cannot carry anything else).
func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (s *sqlDB) MarkForwardingDeadLetters(ctx context.Context, tenant, name string, ids []int64) (int, error) {
	q := "UPDATE forwarding_dead_letters SET resend = ? WHERE tenant = ? AND rule = ?"
	if len(ids) > 0 {
		q += " AND id IN " + idList(ids)
	}
	res, err := s.w.ExecContext(ctx, s.d.bind(q), true, tenant, name)
	if err != nil {
		return 0, fmt.Errorf("mark forwarding dead letters of %s/%s: %w", tenant, name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark forwarding dead letters of %s/%s: %w", tenant, name, err)
	}
	return int(n), nil
}

func (s *sqlDB) DeleteForwardingDeadLetters(ctx context.Context, tenant, name string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, s.d.bind("DELETE FROM forwarding_dead_letters WHERE tenant = ? AND rule = ? AND id IN "+idList(ids)), tenant, name); err != nil {
		return fmt.Errorf("delete forwarding dead letters of %s/%s: %w", tenant, name, err)
	}
	return nil
}
