package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fastjson"
)

// Source yields the statements of a replay or back-fill, e.g. read from the
// statements topic or from the statement store. Next returns io.EOF after
// the last one.
type Source interface {
	Next(ctx context.Context) (Statement, error)
}

// BackfillOptions selects what a back-fill writes and how it reports.
type BackfillOptions struct {
	Tenant    string    // only this tenant; empty for all
	From, To  time.Time // only timestamps in [From, To); zero for unbounded
	BatchSize int       // statements per Insert; default 10000
	// Progress, when set, is called after every batch.
	Progress func(BackfillProgress)
	// OnBad, when set, receives every statement that can never be written.
	OnBad func(Statement, RowError)
}

// BackfillProgress counts what a back-fill has done so far.
type BackfillProgress struct {
	Read     int // statements taken from the source
	Filtered int // left out by tenant or time range
	Written  int // handed to ClickHouse (a replayed one changes no result)
	Bad      int // can never be written
}

// Backfill copies statements from src into ClickHouse and refreshes the
// rollups it touched. Statements already there are not counted twice, so
// an interrupted back-fill is simply run again.
func (c *ClickHouse) Backfill(ctx context.Context, src Source, opts BackfillOptions) (BackfillProgress, error) {
	var p BackfillProgress
	if opts.BatchSize < 0 {
		return p, errors.New("analytics: BatchSize must not be negative")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 10000
	}
	var parser fastjson.Parser
	batch := make([]Statement, 0, opts.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		bad, err := c.Insert(ctx, batch)
		if err != nil {
			return err
		}
		for _, b := range bad {
			if opts.OnBad != nil {
				opts.OnBad(batch[b.Index], b)
			}
		}
		p.Bad += len(bad)
		p.Written += len(batch) - len(bad)
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress(p)
		}
		return nil
	}
	for {
		s, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p, fmt.Errorf("analytics: back-fill source: %w", err)
		}
		p.Read++
		if !opts.selects(&parser, s) {
			p.Filtered++
			continue
		}
		batch = append(batch, s)
		if len(batch) == opts.BatchSize {
			if err := flush(); err != nil {
				return p, err
			}
		}
	}
	if err := flush(); err != nil {
		return p, err
	}
	if _, err := c.RefreshRollups(ctx); err != nil {
		return p, err
	}
	return p, nil
}

// selects reports whether a statement is in the tenant and time range. One
// whose timestamp cannot be read is kept, so that Insert reports it as bad.
func (o *BackfillOptions) selects(p *fastjson.Parser, s Statement) bool {
	if o.Tenant != "" && s.Tenant != o.Tenant {
		return false
	}
	if o.From.IsZero() && o.To.IsZero() {
		return true
	}
	v, err := p.ParseBytes(s.JSON)
	if err != nil {
		return true
	}
	ts, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("timestamp")))
	if err != nil {
		return true
	}
	return (o.From.IsZero() || !ts.Before(o.From)) && (o.To.IsZero() || ts.Before(o.To))
}
