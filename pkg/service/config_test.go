package service

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// registered returns the flags register adds.
func registered(register func(*flag.FlagSet)) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	register(fs)
	return fs
}

// TestFlagsOfLRSMatchTheServices: lrs has every setting of the components
// the separate services run, under the same name (so the same LRS_*
// variable) and with the same default, except the differences
// LRSConfig.register documents.
func TestFlagsOfLRSMatchTheServices(t *testing.T) {
	lrs := registered((&LRSConfig{}).register)
	tests := []struct {
		service  string
		register func(*flag.FlagSet)
		// notInLRS are settings of the service itself, not of a component:
		// lrs serves the writers' endpoints on the API's listener.
		notInLRS []string
		// lrsDefaults are the defaults lrs sets apart.
		lrsDefaults map[string]string
	}{
		{service: "lrs-ingest", register: (&IngestServiceConfig{}).register},
		{service: "lrs-store-writer", register: (&StoreWriterConfig{}).register, notInLRS: []string{"http-addr"},
			lrsDefaults: map[string]string{"store-tx-statements": "1000"}},
		{service: "lrs-analytics-writer", register: (&AnalyticsWriterConfig{}).register, notInLRS: []string{"http-addr"}},
		{service: "lrs-forwarder", register: (&ForwarderConfig{}).register, notInLRS: []string{"http-addr"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			svc := registered(tt.register)
			svc.VisitAll(func(f *flag.Flag) {
				for _, n := range tt.notInLRS {
					if f.Name == n {
						return
					}
				}
				l := lrs.Lookup(f.Name)
				if l == nil {
					t.Errorf("lrs has no -%s", f.Name)
					return
				}
				want, differs := tt.lrsDefaults[f.Name]
				if !differs {
					want = f.DefValue
				} else if want == f.DefValue {
					t.Errorf("-%s: lrs is said to default to %q apart from %s, which has that default too", f.Name, want, tt.service)
				}
				if l.DefValue != want {
					t.Errorf("-%s defaults to %q in lrs, want %q (%s: %q)", f.Name, l.DefValue, want, tt.service, f.DefValue)
				}
			})
			for name := range tt.lrsDefaults {
				if svc.Lookup(name) == nil {
					t.Errorf("%s has no -%s", tt.service, name)
				}
			}
		})
	}
}

// TestConfigValidate: each binary refuses settings that cannot work before
// it starts anything, with the flag's name in the error.
func TestConfigValidate(t *testing.T) {
	parsed := func(name string, cfg interface {
		register(*flag.FlagSet)
		validate() error
	}) func([]string) error {
		return func(args []string) error {
			if err := parse(name, args, cfg.register); err != nil {
				return err
			}
			return cfg.validate()
		}
	}
	ingest := func(args []string) error { return parsed("lrs-ingest", &IngestServiceConfig{})(args) }
	storeWriter := func(args []string) error { return parsed("lrs-store-writer", &StoreWriterConfig{})(args) }
	analyticsWriter := func(args []string) error { return parsed("lrs-analytics-writer", &AnalyticsWriterConfig{})(args) }
	lrs := func(args []string) error {
		_, err := parseLRS(args)
		return err
	}
	const ch = "clickhouse://127.0.0.1:9000/default"
	tests := []struct {
		name  string
		parse func([]string) error
		args  []string
		env   map[string]string
		want  string // in the error; "" for none
	}{
		{name: "ingest defaults", parse: ingest},
		{name: "ingest without store", parse: ingest, args: []string{"-store-dsn", ""}, want: "store-dsn is empty"},
		{name: "ingest without store group", parse: ingest, args: []string{"-store-group", ""}, want: "store-group is empty"},
		{name: "store-writer defaults", parse: storeWriter},
		{name: "store-writer without store", parse: storeWriter, args: []string{"-store-dsn", ""}, want: "store-dsn is empty"},
		{name: "store-writer without lanes", parse: storeWriter, args: []string{"-store-lanes", "0"}, want: "store-lanes 0"},
		{name: "store-writer negative stall", parse: storeWriter, args: []string{"-stall-timeout", "-1s"}, want: "stall-timeout must not be negative"},
		{name: "analytics-writer with DSN", parse: analyticsWriter, args: []string{"-clickhouse-dsn", ch}},
		{name: "analytics-writer without DSN", parse: analyticsWriter, want: "clickhouse-dsn is empty"},
		{name: "analytics-writer without retry", parse: analyticsWriter, args: []string{"-clickhouse-dsn", ch, "-analytics-retry-max", "0s"}, want: "analytics-retry-max 0s"},
		{name: "lrs defaults", parse: lrs},
		{name: "lrs with its one partition", parse: lrs, args: []string{"-kafka-partitions", "1"}},
		{name: "lrs with partitions", parse: lrs, args: []string{"-kafka-partitions", "6"}, want: "kafka-partitions 6: the embedded broker's topic has one partition"},
		{name: "lrs with partitions from the environment", parse: lrs, env: map[string]string{"LRS_KAFKA_PARTITIONS": "3"}, want: "kafka-partitions 3"},
		{name: "lrs with partitions of an external Kafka", parse: lrs, args: []string{"-external-kafka", "-kafka-partitions", "6"}},
		{name: "lrs without store", parse: lrs, args: []string{"-store-dsn", ""}, want: "store-dsn is empty"},
		{name: "lrs without store group", parse: lrs, args: []string{"-store-group", ""}, want: "store-group is empty"},
		{name: "lrs without store batch", parse: lrs, args: []string{"-store-batch-records", "0"}, want: "store-batch-records 0"},
		{name: "lrs without lanes", parse: lrs, args: []string{"-store-lanes", "0"}, want: "store-lanes 0"},
		{name: "lrs with negative statements", parse: lrs, args: []string{"-store-tx-statements", "-1"}, want: "store-tx-statements -1"},
		{name: "lrs without store retry", parse: lrs, args: []string{"-store-retry-max", "0s"}, want: "store-retry-max 0s"},
		{name: "lrs negative session", parse: lrs, args: []string{"-kafka-session-timeout", "-1s"}, want: "kafka-session-timeout"},
		{name: "lrs bad conflict setting", parse: lrs, args: []string{"-conflict-index-max", "0"}, want: "conflict index max 0"},
		// The analytics-writer runs only with a DSN, and is checked then.
		{name: "lrs analytics unused", parse: lrs, args: []string{"-analytics-batch-records", "0"}},
		{name: "lrs analytics", parse: lrs, args: []string{"-clickhouse-dsn", ch, "-analytics-batch-records", "0"}, want: "analytics-batch-records 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := tt.parse(tt.args)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestLRSRefusesPartitionsOfTheEmbeddedBroker: the setting is refused, not
// overridden, before anything starts.
func TestLRSRefusesPartitionsOfTheEmbeddedBroker(t *testing.T) {
	dir := t.TempDir()
	err := RunLRS(context.Background(), []string{"-kafka-partitions", "6", "-broker-dir", dir + "/broker", "-store-dsn", "sqlite:" + dir + "/db/lrs.db"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "kafka-partitions 6") {
		t.Fatalf("RunLRS: %v, want the partitions refused", err)
	}
}

// TestLRSRunGroup: the first failure of a function of the group cancels the
// others' context and is what Wait returns; a function that ends without
// error stops nothing.
func TestLRSRunGroup(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		results []error // what each function returns once its context ends, or at once when not nil
		cancel  bool    // cancel the parent context
		want    error
	}{
		{name: "one fails", results: []error{nil, boom, nil}, want: boom},
		{name: "parent cancelled", results: []error{nil, nil}, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g, gctx := newRunGroup(ctx)
			ended := make(chan struct{}, len(tt.results))
			for _, r := range tt.results {
				g.Go(func() error {
					defer func() { ended <- struct{}{} }()
					if r != nil {
						return r
					}
					<-gctx.Done()
					return nil
				})
			}
			g.Go(func() error { return nil }) // ends at once, stopping nothing
			if tt.cancel {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- g.Wait() }()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Fatalf("Wait: %v, want %v", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Wait did not return: the group was not stopped")
			}
			if len(ended) != len(tt.results) {
				t.Fatalf("%d of %d functions ended", len(ended), len(tt.results))
			}
		})
	}
}
