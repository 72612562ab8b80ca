package console

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// The per-LMS view counts each credential's statements of the last day by
// the hour they were stored, reading at most lmsMaxStatements of them.
const (
	lmsHours         = 24
	lmsMaxStatements = 20 * store.MaxLimit
	silentAfter      = time.Hour
)

type lmsRow struct {
	credentialRow
	Hours  []float64 // oldest hour first
	Total  int
	Capped bool // more than lmsMaxStatements: the counts stop there
	Silent bool // enabled, and nothing stored within silentAfter
	// Errors are this instance's error answers to the credential in the
	// last lmsHours, by status; LastError is the hour of the newest.
	Errors    []statusCount
	LastError time.Time
}

type lmsData struct {
	Rows  []lmsRow
	Hours []time.Time
	// Counted: the API reports its answers per credential (Deps.Answers).
	Counted bool
}

func (c *Console) lms(ctx *fiber.Ctx) error {
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	creds, err := c.d.Admin.ListCredentials(ctx.UserContext(), t.ID)
	if err != nil {
		return c.failErr(ctx, err)
	}
	now := time.Now().UTC()
	first := now.Truncate(time.Hour).Add(-(lmsHours - 1) * time.Hour)
	d := lmsData{Hours: make([]time.Time, lmsHours), Counted: c.d.Answers != nil}
	for i := range d.Hours {
		d.Hours[i] = first.Add(time.Duration(i) * time.Hour)
	}
	for _, cr := range creds {
		r := lmsRow{credentialRow: credentialRow{Credential: cr}, Hours: make([]float64, lmsHours)}
		q := store.Query{Tenant: t.ID, Authority: string(cr.Authority), Since: first.Add(-time.Nanosecond), Limit: store.MaxLimit}
		for {
			p, err := c.d.Statements.QueryStatements(ctx.UserContext(), q)
			if err != nil {
				return c.failErr(ctx, err)
			}
			for _, s := range p.Statements {
				if r.LastStatement.IsZero() {
					r.LastStatement = s.Stored // newest first
				}
				if h := int(s.Stored.Sub(first) / time.Hour); h >= 0 && h < lmsHours {
					r.Hours[h]++
				}
				r.Total++
			}
			if p.More == "" {
				break
			}
			if r.Total >= lmsMaxStatements {
				r.Capped = true
				break
			}
			q = store.Query{Tenant: t.ID, Authority: string(cr.Authority), Cursor: p.More}
		}
		if r.LastStatement.IsZero() {
			if r.LastStatement, err = c.lastStatement(ctx, cr); err != nil {
				return c.failErr(ctx, err)
			}
		}
		r.Silent = !cr.Disabled && now.Sub(r.LastStatement) > silentAfter
		if c.d.Answers != nil {
			r.Errors, r.LastError = c.d.Answers.errors(cr.Key)
		}
		d.Rows = append(d.Rows, r)
	}
	return c.render(ctx, http.StatusOK, "lms", page{Title: "LMS of " + t.ID, Nav: "lms", Tenant: t.ID, Data: d})
}
