package loadgen

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleResults() []Result {
	return []Result{
		{
			Label: "embedded", Settle: &SettleStats{Seconds: 60.1}, Mode: ModePost, BatchSize: 1, Concurrency: 64, WarmupS: 2, MeasuredS: 10,
			Started: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC), AcceptedPerSec: 12345.6, RequestsPerSec: 12345.6,
			Latency:      LatencyStats{Count: 10, P50ms: 1.234, P95ms: 4.5, P99ms: 12.34, MaxMs: 345.6},
			Errors:       []ErrorCount{{Status: "400", Requests: 3, Statements: 3, Example: "{\"error\":\n \"multipart\"}"}},
			FreshnessGET: FreshnessStats{Samples: 10, Visible: 9, Missing: 1, P50ms: 20, P99ms: 80, MaxMs: 90, DrainS: 0.25},
			Queries:      []QueryStats{{Kind: "agent", Count: 5, P50ms: 1.5, P99ms: 3, AvgRows: 42}},
			Processes:    []ProcessStats{{Name: "loadgen", CPUPercent: 55, MemMaxMB: 40}, {Name: "lrs", CPUPercent: 120.4, MemMaxMB: 300}},
			Machine:      MachineStats{Cores: 2, LoadAvgStart: 1, LoadAvgEnd: 3.5, CPUBusyPercent: 97},
		},
		{
			Label: "distributed", Mode: ModeBatch, BatchSize: 100, Rate: 25000, Concurrency: 64, WarmupS: 2, MeasuredS: 10,
			AcceptedPerSec:      25000,
			Settle:              &SettleStats{Seconds: 4.24, Complete: true},
			FreshnessGET:        FreshnessStats{Samples: 5, Visible: 5, P50ms: 300, DrainS: 0.25},
			FreshnessClickHouse: &FreshnessStats{Samples: 5, Visible: 5, P50ms: 1500, P99ms: 2100, MaxMs: 2100, DrainS: 1.5},
			Processes:           []ProcessStats{{Name: "lrs-ingest", CPUPercent: 90, MemMaxMB: 80}},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := WriteTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"run  ", "embedded", "distributed",
		"POST x1, closed loop, 64 clients", "POST x100, open loop 25,000 st/s, <=64 in flight",
		"accepted statements/s", "12,346", "25,000",
		"1.23 / 4.50 / 12.3 / 346",
		"errors 400 (requests/statements)", "3 / 3",
		"20.0 / 80.0 / 90.0", "9 / 1 / 0", "not drained", "0.25",
		"settled before the run s", "60.1, not settled", "4.2",
		"freshness ClickHouse p50/p99/max ms", "1500 / 2100 / 2100", "1.50",
		"GET agent p50/p99 ms (rows, n)", "1.50 / 3.00 (42, 5)",
		"cpu % / mem MB lrs ", "120% / 300", "cpu % / mem MB lrs-ingest", "90% / 80",
		"2, 1.0->3.5, 97%",
		`embedded, 400: {"error": "multipart"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// A run without a process or error kind shows a dash or zero, never
	// another run's figure.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "cpu % / mem MB lrs-ingest") && !strings.Contains(line, "-  ") {
			t.Errorf("missing process not shown as '-': %q", line)
		}
		if strings.HasPrefix(line, "errors 400") && !strings.HasSuffix(strings.TrimSpace(line), "0") {
			t.Errorf("run without errors not shown as 0: %q", line)
		}
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	want := sampleResults()[1]
	if err := WriteResult(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := ReadResult(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Fatal("missing file read")
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 1234567.8: "1,234,568"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %s, want %s", in, got, want)
		}
	}
}
