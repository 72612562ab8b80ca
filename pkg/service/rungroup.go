package service

import (
	"context"
	"sync"
)

// runGroup runs functions until they return; the first to fail cancels the
// context the others were given, and Wait returns its error. It is
// golang.org/x/sync/errgroup's WithContext, which this module does not
// depend on.
type runGroup struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// newRunGroup returns a group and the context, derived from ctx, that its
// first failure cancels.
func newRunGroup(ctx context.Context) (*runGroup, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &runGroup{cancel: cancel}, ctx
}

// Go runs f in its own goroutine.
func (g *runGroup) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

// Wait waits for every function and returns the first failure.
func (g *runGroup) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
