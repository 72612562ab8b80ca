package importer

import (
	"context"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// Schedule runs pull for each source that list returns: a source with an
// interval again each interval after its last pull ended, one without
// once, until ctx ends; unless forever, it returns as soon as no source
// repeats. list is read again every round and at least every recheck, so
// that sources added, changed or removed apply without a restart. An error
// of list, or of pulling a source without interval, ends it; pull decides
// what it returns.
func Schedule(ctx context.Context, list func(context.Context) ([]store.PullSource, error),
	pull func(context.Context, store.PullSource) error, recheck time.Duration, forever bool) error {
	next := map[[2]string]time.Time{} // by tenant and name: when to pull it again; absent: now
	for {
		sources, err := list(ctx)
		if err != nil {
			return err
		}
		wake, repeating := time.Now().Add(recheck), false
		for _, ps := range sources {
			k := [2]string{ps.Tenant, ps.Name}
			repeating = repeating || ps.Interval > 0
			if t, ok := next[k]; ok && time.Now().Before(t) {
				wake = minTime(wake, t)
				continue
			}
			if _, ok := next[k]; ok && ps.Interval == 0 {
				continue // pulled once already
			}
			err := pull(ctx, ps)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil && ps.Interval == 0 {
				return err
			}
			next[k] = time.Now().Add(ps.Interval)
			if ps.Interval > 0 {
				wake = minTime(wake, next[k])
			}
		}
		if !repeating && !forever {
			return nil
		}
		select {
		case <-time.After(time.Until(wake)):
		case <-ctx.Done():
			return nil
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
