package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says where statements go and how.
type Config struct {
	Endpoint    string // the LRS's xAPI base URL, e.g. http://127.0.0.1:8080/xapi
	Key, Secret string // a credential with statements/write; it picks the tenant
	Version     string // X-Experience-API-Version sent (default 1.0.3)
	Batch       int    // statements per request
	Concurrency int    // requests in flight
	// StatePath is where progress is kept so that an interrupted import
	// resumes where it stopped ("" keeps none).
	StatePath string
	// Rejects receives one JSON line per statement the LRS refused.
	Rejects io.Writer
	// Progress is called about every ProgressEvery, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// RetryFor is how long a request that keeps failing (the LRS down,
	// 5xx, 429) is retried before the run stops with its last error.
	RetryFor time.Duration
	HTTP     *http.Client
	// Provenance sends each statement's source (X-LRS-Source: the file's
	// file:// URL, the source LRS's URL) so that the LRS keeps it and the
	// statement's original stored time; the credential then needs the
	// import scope.
	Provenance bool
	// Cursors, when set, keeps each pull's position in the statement store
	// under (Tenant, source) instead of the state file.
	Cursors Cursors
	Tenant  string
	// Post, when set, delivers each request instead of an HTTP POST to
	// Endpoint (which, with Key and Secret, it makes unneeded): the lrs
	// server pulling its tenants' sources hands them to its own API in
	// process.
	Post PostFunc
}

// PostFunc delivers one POST /statements body (contentType: JSON or
// multipart/mixed; source: the X-LRS-Source) and returns the LRS's answer:
// its status, its message, and the Retry-After it asked for.
type PostFunc func(ctx context.Context, body []byte, contentType, source string) (status int, msg string, retryAfter time.Duration, err error)

// Cursors is where pull positions are kept (pkg/store.Imports).
type Cursors interface {
	PullCursor(ctx context.Context, tenant, source string) (time.Time, error)
	AdvancePullCursor(ctx context.Context, tenant, source string, since time.Time) error
}

// Validate checks the settings and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Post == nil && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		errs = append(errs, fmt.Errorf("endpoint %q: want the LRS's xAPI base URL, http(s)://host/xapi", c.Endpoint))
	}
	if c.Post == nil && (c.Key == "" || c.Secret == "") {
		errs = append(errs, errors.New("a credential key and secret are required (-key, and -secret or LRS_IMPORT_SECRET)"))
	}
	if c.Batch < 1 || c.Batch > 10000 {
		errs = append(errs, fmt.Errorf("batch %d: want 1 to 10000", c.Batch))
	}
	if c.Cursors != nil && c.Tenant == "" {
		errs = append(errs, errors.New("pull positions kept in the store need the tenant"))
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1 to 64", c.Concurrency))
	}
	if c.Version == "" {
		c.Version = "1.0.3"
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 2 * time.Minute}
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 15 * time.Minute
	}
	c.Endpoint = strings.TrimSuffix(c.Endpoint, "/")
	return errors.Join(errs...)
}

// Progress is what an import has done so far.
type Progress struct {
	File                     string // being read
	Read, Skipped            int64  // statements read; skipped as done by an earlier run
	Accepted                 int64  // stored, or already stored with the same content
	Rejected, Conflicts      int64  // refused as invalid; refused because the id holds other content
	BytesRead, BytesTotal    int64
	Elapsed                  time.Duration
	Retries                  int64 // requests retried (the LRS unavailable, throttling)
	Done                     bool
	StatementsPerSecond, ETA float64 // ETA in seconds, from the bytes left; -1 unknown
}

// String is one progress line.
func (p Progress) String() string {
	pct := 0.0
	if p.BytesTotal > 0 {
		pct = 100 * float64(p.BytesRead) / float64(p.BytesTotal)
	}
	s := fmt.Sprintf("%5.1f%%  read %d  accepted %d  rejected %d  conflicts %d  %.0f statements/s",
		pct, p.Read, p.Accepted, p.Rejected, p.Conflicts, p.StatementsPerSecond)
	if p.Skipped > 0 {
		s += fmt.Sprintf("  skipped %d (done before)", p.Skipped)
	}
	if p.Retries > 0 {
		s += fmt.Sprintf("  retries %d", p.Retries)
	}
	if !p.Done && p.ETA >= 0 {
		s += "  ETA " + (time.Duration(p.ETA) * time.Second).String()
	}
	return s
}

// Importer sends the statements of files to one LRS.
type Importer struct {
	cfg   Config
	state *state

	read, skipped, accepted, rejected, conflicts, retries, bytesRead atomic.Int64
	rejectMu                                                         sync.Mutex
}

// New checks cfg and loads the state of an earlier run, if any.
func New(cfg Config) (*Importer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	st, err := loadState(cfg.StatePath)
	if err != nil {
		return nil, err
	}
	im := &Importer{cfg: cfg, state: st}
	if im.cfg.Post == nil {
		im.cfg.Post = im.post
	}
	return im, nil
}

type batch struct {
	file   *fileState
	seq    int // from fileState.dispatched
	items  []Item
	path   string
	source string // X-LRS-Source
}

// resetCounts starts the counts of a new run or pull.
func (im *Importer) resetCounts() {
	for _, c := range []*atomic.Int64{&im.read, &im.skipped, &im.accepted, &im.rejected, &im.conflicts, &im.retries, &im.bytesRead} {
		c.Store(0)
	}
}

// ErrFatal wraps an answer no retry can change (wrong credentials, a
// missing scope): the import stops.
var ErrFatal = errors.New("the LRS refuses this import")

// Run imports files in order and returns the final progress. An error
// leaves the state so that a new run resumes; the statements refused are
// in the rejects, not errors.
func (im *Importer) Run(ctx context.Context, files []string) (Progress, error) {
	im.resetCounts()
	start := time.Now()
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return Progress{}, fmt.Errorf("import: %w", err)
		}
		total += st.Size()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan batch, im.cfg.Concurrency)
	var wg sync.WaitGroup
	for range im.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := im.send(ctx, b, b.items); err != nil {
					cancel(err)
					continue
				}
				b.file.done(b.seq)
			}
		}()
	}
	var current atomic.Value
	current.Store("")
	progress := func(done bool) Progress {
		p := Progress{File: current.Load().(string), Read: im.read.Load(), Skipped: im.skipped.Load(),
			Accepted: im.accepted.Load(), Rejected: im.rejected.Load(), Conflicts: im.conflicts.Load(),
			Retries: im.retries.Load(), BytesRead: im.bytesRead.Load(), BytesTotal: total,
			Elapsed: time.Since(start), Done: done, ETA: -1}
		if secs := p.Elapsed.Seconds(); secs > 0 {
			p.StatementsPerSecond = float64(p.Accepted+p.Rejected+p.Conflicts) / secs
			if p.BytesRead > 0 && total > p.BytesRead {
				p.ETA = float64(total-p.BytesRead) * secs / float64(p.BytesRead)
			}
		}
		return p
	}
	tick := time.NewTicker(im.cfg.ProgressEvery)
	defer tick.Stop()
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		for {
			select {
			case <-tick.C:
				im.state.save()
				if im.cfg.Progress != nil {
					im.cfg.Progress(progress(false))
				}
			case <-stopTicker:
				return
			}
		}
	}()

	readErr := func() error {
		defer close(work)
		for _, path := range files {
			current.Store(path)
			if err := im.readFile(ctx, path, work); err != nil {
				return err
			}
		}
		return nil
	}()
	wg.Wait()
	close(stopTicker)
	<-tickerDone
	saveErr := im.state.save()
	p := progress(true)
	if im.cfg.Progress != nil {
		im.cfg.Progress(p)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return p, err
	}
	if readErr != nil {
		return p, readErr
	}
	if err := ctx.Err(); err != nil {
		return p, err
	}
	if saveErr != nil {
		return p, saveErr
	}
	return p, nil
}

func (im *Importer) readFile(ctx context.Context, path string, work chan<- batch) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	fs, err := im.state.file(abs, st.Size())
	if err != nil {
		return err
	}
	skip := fs.resumeAt()
	var n, next int64
	var items []Item
	// flush hands the batch to the workers; next is the position after
	// everything read so far, the file's resume point once the batch and
	// every one before it are done.
	flush := func() error {
		seq := fs.dispatched(next)
		if len(items) == 0 {
			fs.done(seq)
			return nil
		}
		b := batch{file: fs, seq: seq, items: items, path: path, source: (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()}
		items = nil
		select {
		case work <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	err = Read(f, &n, func(it Item) error {
		im.bytesRead.Add(n)
		n = 0
		next = it.Index + 1
		if it.Index < skip {
			im.skipped.Add(1)
			return nil
		}
		im.read.Add(1)
		if it.Err != nil {
			im.rejected.Add(1)
			im.reject(path, it, 0, it.Err.Error())
			return nil
		}
		items = append(items, it)
		if len(items) == im.cfg.Batch {
			return flush()
		}
		return nil
	})
	im.bytesRead.Add(n)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	return flush()
}

// send posts items, splitting a refused batch to find the statements it
// refused for, and retrying what a retry may change.
func (im *Importer) send(ctx context.Context, b batch, items []Item) error {
	body, contentType, err := im.body(b, items)
	if err != nil {
		return err
	}
	if body == nil {
		return nil // every item was rejected while preparing
	}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		status, msg, retryAfter, err := im.cfg.Post(ctx, body, contentType, b.source)
		switch {
		case err == nil && status/100 == 2:
			im.accepted.Add(int64(len(items)))
			return nil
		case err == nil && status == http.StatusForbidden && im.cfg.Provenance && strings.Contains(msg, "X-LRS-Source"):
			return fmt.Errorf("%w: %d %s (give the credential the import scope, or import without provenance: -provenance=false)", ErrFatal, status, msg)
		case err == nil && (status == http.StatusUnauthorized || status == http.StatusForbidden):
			return fmt.Errorf("%w: %d %s", ErrFatal, status, msg)
		case err == nil && status/100 == 4 && status != http.StatusTooManyRequests && status != http.StatusRequestTimeout:
			if len(items) > 1 {
				half := len(items) / 2
				if err := im.send(ctx, b, items[:half]); err != nil {
					return err
				}
				return im.send(ctx, b, items[half:])
			}
			if status == http.StatusConflict {
				im.conflicts.Add(1)
			} else {
				im.rejected.Add(1)
			}
			im.reject(b.path, items[0], status, msg)
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d %s", status, msg)
		}
		if err := im.retry(ctx, start, attempt, retryAfter, fmt.Errorf("POST %s/statements: %w", im.cfg.Endpoint, err)); err != nil {
			return err
		}
	}
}

// retry waits before attempt+1 of a request that has failed since start
// with failure, or gives up once RetryFor has passed.
func (im *Importer) retry(ctx context.Context, start time.Time, attempt int, retryAfter time.Duration, failure error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if time.Since(start) > im.cfg.RetryFor {
		return fmt.Errorf("gave up after %v of retries: %w", im.cfg.RetryFor, failure)
	}
	im.retries.Add(1)
	select {
	case <-time.After(max(backoff(attempt), retryAfter)):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// body is the JSON array of items, each with its id (see WithID), and its
// content type: with the attachment parts the items carry, multipart/mixed.
func (im *Importer) body(b batch, items []Item) ([]byte, string, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	n := 0
	var parts []Part
	seen := map[string]bool{}
	for _, it := range items {
		st, _, err := WithID(it)
		if err != nil {
			im.rejected.Add(1)
			im.reject(b.path, it, 0, err.Error())
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(st)
		n++
		for _, p := range it.Parts {
			if !seen[p.Hash] {
				seen[p.Hash] = true
				parts = append(parts, p)
			}
		}
	}
	if n == 0 {
		return nil, "", nil
	}
	buf.WriteByte(']')
	if len(parts) == 0 {
		return buf.Bytes(), "application/json", nil
	}
	return multipartBody(buf.Bytes(), parts)
}

func (im *Importer) post(ctx context.Context, body []byte, contentType, source string) (status int, msg string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, im.cfg.Endpoint+"/statements", bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.SetBasicAuth(im.cfg.Key, im.cfg.Secret)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Experience-API-Version", im.cfg.Version)
	if im.cfg.Provenance && source != "" {
		req.Header.Set(headerSource, source)
	}
	resp, err := im.cfg.HTTP.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, message(answer), retryAfterOf(resp), nil
}

// headerSource is pkg/xapiservice.HeaderSource (the importer speaks to an LRS
// over HTTP only).
const headerSource = "X-LRS-Source"

// retryAfterOf is the wait an answer's Retry-After asks for, in seconds
// (0 when it has none).
func retryAfterOf(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// message is the LRS's own explanation: our LRS's error message, or the
// start of any other LRS's body.
func message(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 7) // up to 32 s
	return d/2 + rand.N(d/2)
}

// reject writes one line of the rejects file: where the statement was, why
// it was refused (status 0: refused before sending), and the statement.
func (im *Importer) reject(path string, it Item, status int, reason string) {
	if im.cfg.Rejects == nil {
		return
	}
	line := struct {
		File      string          `json:"file"`
		Index     int64           `json:"index"`
		Line      int64           `json:"line,omitempty"`
		Status    int             `json:"status,omitempty"`
		Reason    string          `json:"reason"`
		Statement json.RawMessage `json:"statement,omitempty"`
	}{File: path, Index: it.Index, Line: it.Line, Status: status, Reason: reason}
	if json.Valid(it.JSON) {
		line.Statement = it.JSON
	}
	b, _ := json.Marshal(line)
	im.rejectMu.Lock()
	defer im.rejectMu.Unlock()
	im.cfg.Rejects.Write(append(b, '\n'))
}
