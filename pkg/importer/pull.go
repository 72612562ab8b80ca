package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Source is another LRS to pull statements from, through its xAPI API.
type Source struct {
	Endpoint    string // its xAPI base URL
	Key, Secret string // a credential that reads all the statements of its tenant
	Version     string // X-Experience-API-Version sent (default 1.0.3)
	Since       time.Time
	PageSize    int
	// Overlap re-reads this much before the last statement delivered
	// (default 1 s): xAPI's since is exclusive, several statements may
	// share a stored time, and an LRS may show a statement a little after
	// later ones, so a resume never skips one (the ones read again are
	// accepted again without a copy).
	Overlap time.Duration
}

// Pull sends the statements src stored after the last pull (or src.Since)
// to the importer's LRS, oldest first, and returns the progress. Voided
// statements come too, each before the statement voiding it (a listing
// leaves them out). Where it got to is kept in the state, per source, after
// each page.
func (im *Importer) Pull(ctx context.Context, src Source) (Progress, error) {
	im.resetCounts()
	start := time.Now()
	if src.Version == "" {
		src.Version = "1.0.3"
	}
	if src.PageSize <= 0 {
		src.PageSize = im.cfg.Batch
	}
	if src.Overlap <= 0 {
		src.Overlap = time.Second
	}
	base, err := url.Parse(strings.TrimSuffix(src.Endpoint, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return Progress{}, fmt.Errorf("pull: source %q: want the LRS's xAPI base URL, http(s)://host/xapi", src.Endpoint)
	}
	ps := im.state.pull(base.String())
	since := src.Since
	if last := ps.since(); !last.IsZero() {
		since = last.Add(-src.Overlap)
	}
	q := url.Values{"ascending": {"true"}, "limit": {fmt.Sprint(src.PageSize)}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	next := base.String() + "/statements?" + q.Encode()
	var index int64
	progress := func(done bool) Progress {
		p := Progress{File: base.String(), Read: im.read.Load(), Accepted: im.accepted.Load(), Rejected: im.rejected.Load(),
			Conflicts: im.conflicts.Load(), Retries: im.retries.Load(), Elapsed: time.Since(start), Done: done, ETA: -1}
		if s := p.Elapsed.Seconds(); s > 0 {
			p.StatementsPerSecond = float64(p.Accepted+p.Rejected+p.Conflicts) / s
		}
		return p
	}
	last := time.Now()
	for next != "" {
		var page struct {
			Statements []json.RawMessage `json:"statements"`
			More       string            `json:"more"`
		}
		if err := im.get(ctx, src, next, &page); err != nil {
			return progress(true), err
		}
		var items []Item
		var newest time.Time
		for _, raw := range page.Statements {
			var head struct {
				Stored string `json:"stored"`
				Object struct {
					ObjectType string `json:"objectType"`
					ID         string `json:"id"`
				} `json:"object"`
				Verb struct {
					ID string `json:"id"`
				} `json:"verb"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				return progress(true), fmt.Errorf("pull: a statement from %s: %w", base, err)
			}
			if head.Verb.ID == voidedVerb && head.Object.ObjectType == "StatementRef" {
				var target json.RawMessage
				err := im.get(ctx, src, base.String()+"/statements?"+url.Values{"voidedStatementId": {head.Object.ID}}.Encode(), &target)
				var nf notFoundError
				switch {
				case errors.As(err, &nf): // the source never had it, or cannot show it
				case err != nil:
					return progress(true), err
				default:
					items = append(items, Item{Index: index, JSON: target})
					index++
				}
			}
			items = append(items, Item{Index: index, JSON: raw})
			index++
			if t, err := time.Parse(time.RFC3339Nano, head.Stored); err == nil && t.After(newest) {
				newest = t
			}
		}
		im.read.Add(int64(len(items)))
		for len(items) > 0 {
			n := min(len(items), im.cfg.Batch)
			if err := im.send(ctx, batch{path: base.String()}, items[:n]); err != nil {
				return progress(true), err
			}
			items = items[n:]
		}
		ps.advance(newest)
		if err := im.state.save(); err != nil {
			return progress(true), err
		}
		if im.cfg.Progress != nil && time.Since(last) >= im.cfg.ProgressEvery {
			im.cfg.Progress(progress(false))
			last = time.Now()
		}
		next = ""
		if page.More != "" {
			more, err := base.Parse(page.More)
			if err != nil {
				return progress(true), fmt.Errorf("pull: more link %q of %s: %w", page.More, base, err)
			}
			next = more.String()
		}
	}
	p := progress(true)
	if im.cfg.Progress != nil {
		im.cfg.Progress(p)
	}
	return p, nil
}

const voidedVerb = "http://adlnet.gov/expapi/verbs/voided"

type notFoundError struct{ url string }

func (e notFoundError) Error() string { return "not found: " + e.url }

// get reads one JSON answer of the source into v, retrying what a retry
// may change.
func (im *Importer) get(ctx context.Context, src Source, u string, v any) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(src.Key, src.Secret)
		req.Header.Set("X-Experience-API-Version", src.Version)
		req.Header.Set("Accept", "application/json")
		resp, err := im.cfg.HTTP.Do(req)
		var retryAfter time.Duration
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode == http.StatusOK:
				if err := json.Unmarshal(body, v); err != nil {
					return fmt.Errorf("pull: %s answered: %w", u, err)
				}
				return nil
			case resp.StatusCode == http.StatusNotFound:
				return notFoundError{u}
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
				err = fmt.Errorf("%d %s", resp.StatusCode, message(body))
				retryAfter = retryAfterOf(resp)
			default:
				return fmt.Errorf("%w: the source %s answered %d %s", ErrFatal, u, resp.StatusCode, message(body))
			}
		}
		if err := im.retry(ctx, start, attempt, retryAfter, fmt.Errorf("GET %s: %w", u, err)); err != nil {
			return err
		}
	}
}
