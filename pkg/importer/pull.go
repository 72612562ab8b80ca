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
	// The source as kept (cursor, provenance): never with a password a
	// URL may carry.
	named := *base
	named.User = nil
	source := named.String()
	pos := im.position(source)
	since := src.Since
	last, err := pos.since(ctx)
	if err != nil {
		return Progress{}, err
	}
	if !last.IsZero() {
		since = last.Add(-src.Overlap)
	}
	q := url.Values{"ascending": {"true"}, "limit": {fmt.Sprint(src.PageSize)}, "attachments": {"true"}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	next := base.String() + "/statements?" + q.Encode()
	var index int64
	progress := func(done bool) Progress {
		p := Progress{File: source, Read: im.read.Load(), Accepted: im.accepted.Load(), Rejected: im.rejected.Load(),
			Conflicts: im.conflicts.Load(), Retries: im.retries.Load(), Elapsed: time.Since(start), Done: done, ETA: -1}
		if s := p.Elapsed.Seconds(); s > 0 {
			p.StatementsPerSecond = float64(p.Accepted+p.Rejected+p.Conflicts) / s
		}
		return p
	}
	shown := time.Now()
	for next != "" {
		var page struct {
			Statements []json.RawMessage `json:"statements"`
			More       string            `json:"more"`
		}
		parts, err := im.get(ctx, src, next, &page)
		if err != nil {
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
				return progress(true), fmt.Errorf("pull: a statement from %s: %w", source, err)
			}
			if head.Verb.ID == voidedVerb && head.Object.ObjectType == "StatementRef" {
				var target json.RawMessage
				tparts, err := im.get(ctx, src, base.String()+"/statements?"+url.Values{"voidedStatementId": {head.Object.ID}, "attachments": {"true"}}.Encode(), &target)
				var nf notFoundError
				switch {
				case errors.As(err, &nf): // the source never had it, or cannot show it
				case err != nil:
					return progress(true), err
				default:
					items = append(items, Item{Index: index, JSON: target, Parts: partsOf(target, tparts)})
					index++
				}
			}
			items = append(items, Item{Index: index, JSON: raw, Parts: partsOf(raw, parts)})
			index++
			if t, err := time.Parse(time.RFC3339Nano, head.Stored); err == nil && t.After(newest) {
				newest = t
			}
		}
		im.read.Add(int64(len(items)))
		for len(items) > 0 {
			n := min(len(items), im.cfg.Batch)
			if err := im.send(ctx, batch{path: source, source: source}, items[:n]); err != nil {
				return progress(true), err
			}
			items = items[n:]
		}
		if err := pos.advance(ctx, newest); err != nil {
			return progress(true), err
		}
		if im.cfg.Progress != nil && time.Since(shown) >= im.cfg.ProgressEvery {
			im.cfg.Progress(progress(false))
			shown = time.Now()
		}
		next = ""
		if page.More != "" {
			more, err := base.Parse(page.More)
			if err != nil {
				return progress(true), fmt.Errorf("pull: more link %q of %s: %w", page.More, source, err)
			}
			// An LRS's more link need not repeat attachments=true (ours
			// does not): without it the next page would come without parts.
			mq := more.Query()
			if mq.Get("attachments") == "" {
				mq.Set("attachments", "true")
				more.RawQuery = mq.Encode()
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

// get reads one answer of the source into v, and the attachment parts of
// a multipart/mixed one, retrying what a retry may change.
func (im *Importer) get(ctx context.Context, src Source, u string, v any) (map[string]Part, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(src.Key, src.Secret)
		req.Header.Set("X-Experience-API-Version", src.Version)
		req.Header.Set("Accept", "application/json, multipart/mixed")
		resp, err := im.cfg.HTTP.Do(req)
		var retryAfter time.Duration
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode == http.StatusOK:
				var parts map[string]Part
				if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(ct), "multipart/") {
					if body, parts, err = splitMultipart(ct, body); err != nil {
						return nil, fmt.Errorf("pull: %s answered: %w", u, err)
					}
				}
				if err := json.Unmarshal(body, v); err != nil {
					return nil, fmt.Errorf("pull: %s answered: %w", u, err)
				}
				return parts, nil
			case resp.StatusCode == http.StatusNotFound:
				return nil, notFoundError{u}
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
				err = fmt.Errorf("%d %s", resp.StatusCode, message(body))
				retryAfter = retryAfterOf(resp)
			default:
				return nil, fmt.Errorf("%w: the source %s answered %d %s", ErrFatal, u, resp.StatusCode, message(body))
			}
		}
		if err := im.retry(ctx, start, attempt, retryAfter, fmt.Errorf("GET %s: %w", u, err)); err != nil {
			return nil, err
		}
	}
}

// partsOf picks, from the parts of an answer, those of the statement's
// attachments.
func partsOf(statement json.RawMessage, parts map[string]Part) []Part {
	if len(parts) == 0 {
		return nil
	}
	var st struct {
		Attachments []struct {
			SHA2 string `json:"sha2"`
		} `json:"attachments"`
	}
	if json.Unmarshal(statement, &st) != nil {
		return nil
	}
	var out []Part
	for _, a := range st.Attachments {
		if p, ok := parts[strings.ToLower(a.SHA2)]; ok {
			out = append(out, p)
		}
	}
	return out
}

// position is where a pull from one source got, in the store (Cursors)
// or in the state file.
type position struct {
	im     *Importer
	source string
}

func (im *Importer) position(source string) position { return position{im, source} }

func (p position) since(ctx context.Context) (time.Time, error) {
	if c := p.im.cfg.Cursors; c != nil {
		t, err := c.PullCursor(ctx, p.im.cfg.Tenant, p.source)
		if err != nil {
			return time.Time{}, fmt.Errorf("pull: read the position of %s: %w", p.source, err)
		}
		return t, nil
	}
	return p.im.state.pull(p.source).since(), nil
}

// advance records that everything the source stored up to t was
// delivered (a zero t, an empty page, changes nothing).
func (p position) advance(ctx context.Context, t time.Time) error {
	if c := p.im.cfg.Cursors; c != nil {
		if t.IsZero() {
			return nil
		}
		if err := c.AdvancePullCursor(ctx, p.im.cfg.Tenant, p.source, t); err != nil {
			return fmt.Errorf("pull: keep the position of %s: %w", p.source, err)
		}
		return nil
	}
	p.im.state.pull(p.source).advance(t)
	return p.im.state.save()
}
