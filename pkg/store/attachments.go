package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Attachment is the body of a statement attachment. Bodies are
// content-addressed: the same SHA-256 in a tenant is the same body, so
// storing it twice is a no-op.
type Attachment struct {
	SHA2        string // lower-case hex SHA-256 of Content
	ContentType string
	Content     []byte
	// SentWith are the ids of statements that sent this body although
	// their attachment names a fileUrl: each gets a grant.
	SentWith []string
}

// AttachmentGrant says a statement sent the body of a fileUrl attachment.
type AttachmentGrant struct {
	StatementID string
	SHA2        string
}

// Attachments keeps attachment bodies, content-addressed per tenant, and
// which statements sent the body of a fileUrl attachment.
type Attachments interface {
	// PutAttachments stores bodies and their grants idempotently.
	PutAttachments(ctx context.Context, tenant string, atts []Attachment) error
	// GetAttachments returns the bodies it has among sha2s (missing ones are
	// left out).
	GetAttachments(ctx context.Context, tenant string, sha2s []string) ([]Attachment, error)
	// Granted returns the grants among gs that PutAttachments recorded.
	Granted(ctx context.Context, tenant string, gs []AttachmentGrant) (map[AttachmentGrant]bool, error)
}

// PutAttachments stores bodies idempotently.
func (p *Postgres) PutAttachments(ctx context.Context, tenant string, atts []Attachment) error {
	if len(atts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, a := range atts {
		b.Queue(`INSERT INTO attachments (tenant, sha2, content_type, content) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, sha2) DO NOTHING`, tenant, strings.ToLower(a.SHA2), a.ContentType, a.Content)
		for _, id := range a.SentWith {
			b.Queue(`INSERT INTO attachment_grants (tenant, statement_id, sha2) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				tenant, strings.ToLower(id), strings.ToLower(a.SHA2))
		}
	}
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store attachments: %w", err)
	}
	return nil
}

// GetAttachments reads the bodies among sha2s.
func (p *Postgres) GetAttachments(ctx context.Context, tenant string, sha2s []string) ([]Attachment, error) {
	if len(sha2s) == 0 {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT sha2, content_type, content FROM attachments WHERE tenant = $1 AND sha2 = ANY($2)`, tenant, lower(sha2s))
	if err != nil {
		return nil, fmt.Errorf("read attachments: %w", err)
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		var a Attachment
		if err := rows.Scan(&a.SHA2, &a.ContentType, &a.Content); err != nil {
			return nil, fmt.Errorf("read attachments: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// PutAttachments stores bodies idempotently.
func (s *SQLite) PutAttachments(ctx context.Context, tenant string, atts []Attachment) error {
	if len(atts) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, a := range atts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (tenant, sha2, content_type, content) VALUES (?, ?, ?, ?)
				ON CONFLICT (tenant, sha2) DO NOTHING`, tenant, strings.ToLower(a.SHA2), a.ContentType, a.Content); err != nil {
				return fmt.Errorf("store attachment %s: %w", a.SHA2, err)
			}
			for _, id := range a.SentWith {
				if _, err := tx.ExecContext(ctx, `INSERT INTO attachment_grants (tenant, statement_id, sha2) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
					tenant, strings.ToLower(id), strings.ToLower(a.SHA2)); err != nil {
					return fmt.Errorf("store attachment grant %s: %w", a.SHA2, err)
				}
			}
		}
		return nil
	})
}

// GetAttachments reads the bodies among sha2s.
func (s *SQLite) GetAttachments(ctx context.Context, tenant string, sha2s []string) ([]Attachment, error) {
	var out []Attachment
	for _, h := range lower(sha2s) {
		var a Attachment
		err := s.r.QueryRowContext(ctx, `SELECT sha2, content_type, content FROM attachments WHERE tenant = ? AND sha2 = ?`, tenant, h).
			Scan(&a.SHA2, &a.ContentType, &a.Content)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read attachment %s: %w", h, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (p *Postgres) Granted(ctx context.Context, tenant string, gs []AttachmentGrant) (map[AttachmentGrant]bool, error) {
	gs = lowerGrants(gs)
	ids, sums := make([]string, len(gs)), make([]string, len(gs))
	for i, g := range gs {
		ids[i], sums[i] = g.StatementID, g.SHA2
	}
	rows, err := p.pool.Query(ctx, `SELECT g.statement_id, g.sha2 FROM attachment_grants g
JOIN unnest($2::text[], $3::text[]) AS q(statement_id, sha2) ON g.statement_id = q.statement_id AND g.sha2 = q.sha2
WHERE g.tenant = $1`, tenant, ids, sums)
	if err != nil {
		return nil, fmt.Errorf("read attachment grants: %w", err)
	}
	defer rows.Close()
	return scanGrants(rows)
}

func (s *SQLite) Granted(ctx context.Context, tenant string, gs []AttachmentGrant) (map[AttachmentGrant]bool, error) {
	gs = lowerGrants(gs)
	if len(gs) == 0 {
		return map[AttachmentGrant]bool{}, nil
	}
	args := []any{tenant}
	var terms []string
	for _, g := range gs {
		terms = append(terms, "(statement_id = ? AND sha2 = ?)")
		args = append(args, g.StatementID, g.SHA2)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT statement_id, sha2 FROM attachment_grants WHERE tenant = ? AND (`+strings.Join(terms, " OR ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read attachment grants: %w", err)
	}
	defer rows.Close()
	return scanGrants(rows)
}

// lowerGrants is gs in the stored (lower) case.
func lowerGrants(gs []AttachmentGrant) []AttachmentGrant {
	out := make([]AttachmentGrant, len(gs))
	for i, g := range gs {
		out[i] = AttachmentGrant{StatementID: strings.ToLower(g.StatementID), SHA2: strings.ToLower(g.SHA2)}
	}
	return out
}

// scanGrants reads (statement_id, sha2) rows into a set.
func scanGrants(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (map[AttachmentGrant]bool, error) {
	out := map[AttachmentGrant]bool{}
	for rows.Next() {
		var g AttachmentGrant
		if err := rows.Scan(&g.StatementID, &g.SHA2); err != nil {
			return nil, fmt.Errorf("read attachment grants: %w", err)
		}
		out[g] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attachment grants: %w", err)
	}
	return out, nil
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}
