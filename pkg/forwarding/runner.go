package forwarding

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// item is one statement selected for a rule, with where it came from.
type item struct {
	id        string
	json      json.RawMessage
	partition int32
	offset    int64
}

// partState is where a rule stands in one partition.
type partState struct {
	next, end    int64 // next < 0: not known until the first record is read
	pendingSince time.Time
}

// runner forwards one rule's statements of the partitions this process
// owns, in order, one batch at a time: a slow or failing target holds up
// this rule only.
type runner struct {
	f      *Forwarder
	rule   Rule
	match  matcher
	parts  []int32
	send   sender
	log    *zap.Logger
	state  map[int32]*partState
	counts map[int32]*store.ForwardingPosition // to add at the next save
	resend time.Time                           // when dead letters marked for resending were last looked for
}

func (r *runner) run(ctx context.Context) {
	offsets, err := r.start(ctx)
	if err != nil {
		return // ctx ended
	}
	cl, err := r.f.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.f.topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond), kgo.FetchMaxBytes(int32(max(r.f.cfg.BatchBytes, 1<<20))))
	if err != nil {
		r.log.Error("forwarder client", zap.Error(err))
		return
	}
	defer cl.Close()
	r.log.Info("forwarding", zap.Int32s("partitions", r.parts), zap.Int64("generation", r.rule.Generation))
	for ctx.Err() == nil {
		recs, ends := r.poll(ctx, cl)
		if len(recs) > 0 {
			if err := r.handle(ctx, recs, ends); err != nil {
				return // ctx ended before the batch was delivered: it is read again
			}
		}
		if time.Since(r.resend) >= r.f.cfg.RulesInterval {
			r.resend = time.Now()
			r.resendDeadLetters(ctx)
		}
	}
}

// start reads the rule's positions and returns where to read each partition.
func (r *runner) start(ctx context.Context) (map[int32]kgo.Offset, error) {
	var saved []store.ForwardingPosition
	err := r.retry(ctx, "read positions", func() (err error) {
		saved, err = r.f.st.ForwardingPositions(ctx, r.rule.Tenant, r.rule.Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	offsets := map[int32]kgo.Offset{}
	for _, p := range r.parts {
		r.state[p] = &partState{next: -1, end: -1}
		switch i := slices.IndexFunc(saved, func(s store.ForwardingPosition) bool { return s.Partition == p && s.Generation == r.rule.Generation }); {
		case i >= 0:
			offsets[p] = kgo.NewOffset().At(saved[i].Next)
			r.state[p].next, r.state[p].end = saved[i].Next, saved[i].End
		case r.rule.StartAt == nil:
			offsets[p] = kgo.NewOffset().AtStart()
		default:
			offsets[p] = kgo.NewOffset().AfterMilli(r.rule.StartAt.UnixMilli())
		}
	}
	return offsets, nil
}

// poll gathers records until the batch is full or has waited BatchWait
// since its first record; with none it returns after RulesInterval.
func (r *runner) poll(ctx context.Context, cl *kgo.Client) ([]*kgo.Record, map[int32]int64) {
	var (
		recs     []*kgo.Record
		size     int
		deadline = time.Now().Add(r.f.cfg.RulesInterval)
	)
	ends := map[int32]int64{}
	for len(recs) < r.f.cfg.BatchStatements && size < r.f.cfg.BatchBytes {
		if len(recs) > 0 && r.f.cfg.BatchWait == 0 {
			break
		}
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := cl.PollRecords(pctx, r.f.cfg.BatchStatements)
		cancel()
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.log.Warn("fetch error", zap.Int32("partition", p), zap.Error(err))
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				ends[p.Partition] = p.HighWatermark
			}
			for _, rec := range p.Records {
				recs = append(recs, rec)
				size += len(rec.Value)
			}
		})
		if len(recs) > 0 && deadline.After(time.Now().Add(r.f.cfg.BatchWait)) {
			deadline = time.Now().Add(r.f.cfg.BatchWait)
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
	}
	return recs, ends
}

// handle selects the rule's statements of recs, delivers them, and saves
// the positions past recs. An error means ctx ended first.
func (r *runner) handle(ctx context.Context, recs []*kgo.Record, ends map[int32]int64) error {
	for _, rec := range recs {
		if st := r.state[rec.Partition]; st != nil && st.pendingSince.IsZero() {
			st.pendingSince = rec.Timestamp
		}
	}
	for p, end := range ends {
		if st := r.state[p]; st != nil {
			st.end = end
		}
	}
	r.report()
	items := r.selectItems(ctx, recs)
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && n < r.f.cfg.BatchStatements && (n == 0 || size+len(items[n].json) <= r.f.cfg.BatchBytes) {
			size += len(items[n].json)
			n++
		}
		if err := r.deliver(ctx, items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	for _, rec := range recs {
		if st := r.state[rec.Partition]; st != nil {
			st.next = rec.Offset + 1
		}
	}
	for _, st := range r.state {
		st.pendingSince = time.Time{}
	}
	r.save(ctx)
	return nil
}

// selectItems decodes recs with stream's decoder and keeps the rule's
// tenant's statements its filter selects. Records of another format (such
// as the erasure events) and records the writers dead-letter are skipped.
func (r *runner) selectItems(ctx context.Context, recs []*kgo.Record) []item {
	var out []item
	picked := map[string]bool{}
	for _, rec := range recs {
		// Like the writers, a record without a format header is taken for
		// statements.v1 (DecodeBatch decides).
		if f, ok := header(rec, stream.FormatHeader); ok && f != stream.FormatBatchV1 {
			continue
		}
		if t, ok := header(rec, stream.TenantHeader); ok && t != r.rule.Tenant {
			continue
		}
		b, err := stream.DecodeBatch(rec)
		if err != nil || b.Tenant != r.rule.Tenant {
			continue
		}
		for _, s := range b.Statements {
			var v statementView
			if json.Unmarshal(s.Statement, &v) != nil {
				continue
			}
			if r.match.match(v) || r.voidsSelected(ctx, v, picked) {
				picked[s.ID] = true
				out = append(out, item{id: s.ID, json: s.Statement, partition: rec.Partition, offset: rec.Offset})
			}
		}
	}
	return out
}

// voidsSelected reports whether v is a voiding statement the rule forwards:
// its filter asks for them and the voided statement is one it selects, or
// one the store does not hold (yet).
func (r *runner) voidsSelected(ctx context.Context, v statementView, picked map[string]bool) bool {
	target := v.voids()
	if !r.rule.Filter.Voiding || target == "" {
		return false
	}
	if picked[target] {
		return true
	}
	for _, voided := range []bool{true, false} {
		s, err := r.f.st.GetStatement(ctx, r.rule.Tenant, target, voided)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			r.log.Warn("cannot read the statement a voiding statement names; forwarding it", zap.String("statement", target), zap.Error(err))
			return true
		}
		var tv statementView
		return json.Unmarshal(s.JSON, &tv) == nil && r.match.match(tv)
	}
	return true
}

func header(rec *kgo.Record, key string) (string, bool) {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// deliver sends items until the target takes them or refuses them for
// good. Failures are retried with exponential backoff and jitter (at least
// what a Retry-After asks); a batch refused with 400, 409 or 413 is halved until
// the statements at fault are alone, and those go to the dead letters. It
// returns an error only when ctx ended first.
func (r *runner) deliver(ctx context.Context, items []item) error {
	backoff := r.f.cfg.RetryMin
	raws := make([]json.RawMessage, len(items))
	for i, it := range items {
		raws[i] = it.json
	}
	for {
		actx, cancel := context.WithTimeout(ctx, r.f.cfg.Timeout)
		err := r.send.send(actx, raws)
		cancel()
		if err == nil {
			r.count(items, func(p *store.ForwardingPosition, n int64) { p.Delivered += n })
			r.f.metrics.delivered.WithLabelValues(r.rule.Tenant, r.rule.Name).Add(float64(len(items)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var a *Answer
		if errors.As(err, &a) && a.permanent() {
			if a.splittable() && len(items) > 1 {
				h := len(items) / 2
				if err := r.deliver(ctx, items[:h]); err != nil {
					return err
				}
				return r.deliver(ctx, items[h:])
			}
			return r.deadLetter(ctx, items, a)
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if a != nil && a.RetryAfter > wait {
			wait = a.RetryAfter
		}
		r.failed(ctx, items[0].partition, err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, r.f.cfg.RetryMax)
	}
}

func (r *runner) deadLetter(ctx context.Context, items []item, a *Answer) error {
	ds := make([]store.ForwardingDeadLetter, len(items))
	for i, it := range items {
		ds[i] = store.ForwardingDeadLetter{Tenant: r.rule.Tenant, Rule: r.rule.Name, StatementID: it.id, Statement: it.json,
			Partition: it.partition, Offset: it.offset, Status: a.Status, Answer: a.Body}
	}
	err := r.retry(ctx, "dead-letter", func() error { return r.f.st.AddForwardingDeadLetters(ctx, ds) })
	if err != nil {
		return err
	}
	r.log.Warn("target refused statements; dead-lettered", zap.Int("statements", len(items)), zap.Int("status", a.Status), zap.String("answer", a.Body))
	r.count(items, func(p *store.ForwardingPosition, n int64) {
		p.DeadLetters += n
		p.LastError, p.LastErrorAt = a.Error(), time.Now()
	})
	r.f.metrics.deadLetters.WithLabelValues(r.rule.Tenant, r.rule.Name).Add(float64(len(items)))
	return nil
}

// failed counts a failed attempt and saves it at once, so that operators
// see the error while the target stays down.
func (r *runner) failed(ctx context.Context, partition int32, err error, wait time.Duration) {
	r.log.Warn("delivery failed; retrying", zap.Duration("retry_in", wait), zap.Error(err))
	r.f.metrics.failures.WithLabelValues(r.rule.Tenant, r.rule.Name).Inc()
	p := r.counter(partition)
	p.Failed++
	p.LastError, p.LastErrorAt = err.Error(), time.Now()
	r.report()
	r.save(ctx)
}

func (r *runner) counter(partition int32) *store.ForwardingPosition {
	p := r.counts[partition]
	if p == nil {
		p = &store.ForwardingPosition{Partition: partition}
		r.counts[partition] = p
	}
	return p
}

func (r *runner) count(items []item, add func(*store.ForwardingPosition, int64)) {
	n := map[int32]int64{}
	for _, it := range items {
		n[it.partition]++
	}
	for p, k := range n {
		add(r.counter(p), k)
	}
}

// save writes the positions and the counts gathered since the last save.
// A failure keeps the counts for the next one; the positions are only
// behind, so a restart delivers some statements again.
func (r *runner) save(ctx context.Context) {
	ps := make([]store.ForwardingPosition, 0, len(r.state))
	for part, st := range r.state {
		if st.next < 0 {
			continue
		}
		p := store.ForwardingPosition{Partition: part, Generation: r.rule.Generation, Next: st.next, End: max(st.end, st.next), PendingSince: st.pendingSince}
		if c := r.counts[part]; c != nil {
			p.Delivered, p.Failed, p.DeadLetters, p.LastError, p.LastErrorAt = c.Delivered, c.Failed, c.DeadLetters, c.LastError, c.LastErrorAt
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.f.st.SaveForwardingPositions(sctx, r.rule.Tenant, r.rule.Name, ps); err != nil {
		r.log.Warn("saving positions failed", zap.Error(err))
		return
	}
	for _, p := range ps {
		delete(r.counts, p.Partition)
	}
}

// report sets the rule's lag gauges.
func (r *runner) report() {
	var records int64
	var oldest time.Time
	for _, st := range r.state {
		if st.next >= 0 && st.end > st.next {
			records += st.end - st.next
		}
		if !st.pendingSince.IsZero() && (oldest.IsZero() || st.pendingSince.Before(oldest)) {
			oldest = st.pendingSince
		}
	}
	seconds := 0.0
	if !oldest.IsZero() {
		seconds = time.Since(oldest).Seconds()
	}
	r.f.metrics.lagRecords.WithLabelValues(r.rule.Tenant, r.rule.Name).Set(float64(records))
	r.f.metrics.lagSeconds.WithLabelValues(r.rule.Tenant, r.rule.Name).Set(seconds)
}

// resendDeadLetters sends again the dead letters of this process's
// partitions that an operator marked; a refusal dead-letters them anew.
func (r *runner) resendDeadLetters(ctx context.Context) {
	ds, err := r.f.st.ListForwardingDeadLetters(ctx, r.rule.Tenant, r.rule.Name, 0, r.f.cfg.BatchStatements, true)
	if err != nil {
		r.log.Warn("reading dead letters to resend failed", zap.Error(err))
		return
	}
	var items []item
	var ids []int64
	for _, d := range ds {
		if slices.Contains(r.parts, d.Partition) {
			items = append(items, item{id: d.StatementID, json: d.Statement, partition: d.Partition, offset: d.Offset})
			ids = append(ids, d.ID)
		}
	}
	if len(items) == 0 {
		return
	}
	if err := r.deliver(ctx, items); err != nil {
		return
	}
	if err := r.retry(ctx, "delete resent dead letters", func() error { return r.f.st.DeleteForwardingDeadLetters(ctx, r.rule.Tenant, r.rule.Name, ids) }); err != nil {
		return
	}
	r.log.Info("dead letters sent again", zap.Int("statements", len(items)))
	r.save(ctx)
}

// retry runs fn until it succeeds or ctx ends (the store restarting).
func (r *runner) retry(ctx context.Context, what string, fn func() error) error {
	backoff := r.f.cfg.RetryMin
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Warn(what+" failed; retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, r.f.cfg.RetryMax)
	}
}
