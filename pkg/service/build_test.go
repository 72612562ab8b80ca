package service

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

func testEnv(brokers ...string) env {
	return env{log: zap.NewNop(), reg: observability.NewRegistry(), health: observability.NewHealth(), brokers: brokers}
}

// A context cancelled while waitFor waits between attempts ends the wait at
// once: no further attempt is made, and the error is the context's.
func TestWaitForStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	done := make(chan error, 1)
	go func() {
		done <- waitFor(ctx, testEnv(), "dep", "the dependency", func(context.Context) error {
			attempts++
			time.AfterFunc(10*time.Millisecond, cancel) // during the first wait (one second)
			return errors.New("down")
		})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("waitFor succeeded, want the attempt's error")
		}
		if attempts != 1 {
			t.Fatalf("%d attempts after the context was cancelled during the first wait, want 1", attempts)
		}
	case <-time.After(time.Minute):
		t.Fatal("waitFor did not return after its context was cancelled")
	}
}

// connectKafka, waiting for a broker that is not there, returns once its
// context is cancelled.
func TestConnectKafkaStopsWithContext(t *testing.T) {
	e := testEnv(testenv.FreeAddr(t)) // nothing listens there
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		cl, err := connectKafka(ctx, "kafka", Common{}, e)
		if cl != nil {
			cl.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("connectKafka without a broker succeeded")
		}
	case <-time.After(time.Minute):
		t.Fatal("connectKafka did not return after its context was cancelled")
	}
}

// blockingRefresher's refresh lasts until its context ends.
type blockingRefresher struct {
	started  chan struct{}
	returned atomic.Bool
}

func (b *blockingRefresher) RefreshRollups(ctx context.Context) ([]int, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(10 * time.Millisecond) // the refresh winds down
	b.returned.Store(true)
	return nil, ctx.Err()
}

// The stop of startRollups returns only once a refresh in progress has,
// so that ClickHouse is never closed under it.
func TestStartRollupsStopWaits(t *testing.T) {
	ch := &blockingRefresher{started: make(chan struct{}, 1)}
	stop := startRollups(context.Background(), ch, time.Millisecond, zap.NewNop())
	<-ch.started
	stop()
	if !ch.returned.Load() {
		t.Fatal("stop returned while a refresh was running")
	}
	if n := goroutinesIn("service.refreshRollups"); n != 0 {
		t.Fatalf("%d rollup goroutines after stop, want 0", n)
	}
}

// goroutinesIn counts the goroutines whose stack names fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// A "defer cl.run()" written before the cleanups are added runs them all,
// in reverse order.
func TestDeferredClosersRunWhatWasAddedLater(t *testing.T) {
	var order []int
	func() {
		var cl closers
		defer cl.run()
		for i := range 3 {
			cl.add(func() { order = append(order, i) })
		}
	}()
	if fmt.Sprint(order) != "[2 1 0]" {
		t.Fatalf("cleanups ran as %v, want [2 1 0]", order)
	}
}
