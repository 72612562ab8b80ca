package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured; it is also the JSON the command writes.
type Result struct {
	Label       string    `json:"label"`
	Target      string    `json:"target"`
	Mode        Mode      `json:"mode"`
	BatchSize   int       `json:"batch_size"`
	Rate        float64   `json:"rate"` // open-loop target in statements/s; 0 for closed loop
	Concurrency int       `json:"concurrency"`
	Seed        uint64    `json:"seed"`
	Started     time.Time `json:"started"`
	WarmupS     float64   `json:"warmup_s"`
	DurationS   float64   `json:"duration_s"`
	MeasuredS   float64   `json:"measured_s"`
	// Settle is how long the LRS took to show statements sent before the
	// run (nil when not asked for).
	Settle *SettleStats `json:"settle,omitempty"`

	Requests       int64        `json:"requests"`
	Statements     int64        `json:"statements"` // sent
	Accepted       int64        `json:"accepted"`   // in 2xx answers
	AcceptedPerSec float64      `json:"accepted_per_s"`
	RequestsPerSec float64      `json:"requests_per_s"`
	Latency        LatencyStats `json:"latency"`
	Errors         []ErrorCount `json:"errors"`

	FreshnessGET        FreshnessStats  `json:"freshness_get"`
	FreshnessClickHouse *FreshnessStats `json:"freshness_clickhouse,omitempty"`
	Queries             []QueryStats    `json:"queries"`
	Processes           []ProcessStats  `json:"processes"`
	Machine             MachineStats    `json:"machine"`
}

// LatencyStats is the latency of the write requests (answer time minus
// start time, or minus scheduled time in open loop).
type LatencyStats struct {
	Count  int64   `json:"count"`
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

func latencyStats(h *Histogram) LatencyStats {
	return LatencyStats{
		Count: int64(h.Count()), P50ms: ms(h.Quantile(0.5)), P95ms: ms(h.Quantile(0.95)),
		P99ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Max()), MeanMs: ms(h.Mean()),
	}
}

// ErrorCount counts the write requests that failed one way: an HTTP status
// ("400") or a transport failure ("timeout", "connection refused", ...).
type ErrorCount struct {
	Status     string `json:"status"`
	Requests   int64  `json:"requests"`
	Statements int64  `json:"statements"`
	Example    string `json:"example,omitempty"` // the first answer body or error
}

func sortErrors(es []ErrorCount) {
	slices.SortFunc(es, func(a, b ErrorCount) int { return cmp.Compare(a.Status, b.Status) })
}

// ReadResult reads a result written by WriteResult.
func ReadResult(path string) (Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("read result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("read result %s: %w", path, err)
	}
	return r, nil
}

// WriteResult writes r as indented JSON.
func WriteResult(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// Describe says in words how a run drove the LRS.
func (r Result) Describe() string {
	what := "POST x1"
	switch r.Mode {
	case ModePut:
		what = "PUT x1"
	case ModeBatch:
		what = "POST x" + strconv.Itoa(r.BatchSize)
	}
	if r.Rate > 0 {
		return fmt.Sprintf("%s, open loop %s st/s, <=%d in flight", what, num(r.Rate), r.Concurrency)
	}
	return fmt.Sprintf("%s, closed loop, %d clients", what, r.Concurrency)
}

// WriteTable prints results side by side: one column per run, one row per
// measurement, then the first answer of each kind of error.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, cell func(Result) string) {
		fmt.Fprint(tw, name)
		for _, r := range results {
			fmt.Fprint(tw, "\t", cell(r))
		}
		fmt.Fprintln(tw)
	}
	row("run", func(r Result) string { return r.Label })
	row("load", Result.Describe)
	row("measured", func(r Result) string {
		return fmt.Sprintf("%.1f s after %.0f s warmup", r.MeasuredS, r.WarmupS)
	})
	if slices.ContainsFunc(results, func(r Result) bool { return r.Settle != nil }) {
		row("settled before the run s", func(r Result) string {
			switch {
			case r.Settle == nil:
				return "-"
			case !r.Settle.Complete:
				return fmt.Sprintf("%.1f, not settled", r.Settle.Seconds)
			}
			return fmt.Sprintf("%.1f", r.Settle.Seconds)
		})
	}
	row("accepted statements/s", func(r Result) string { return num(r.AcceptedPerSec) })
	row("requests/s", func(r Result) string { return num(r.RequestsPerSec) })
	row("write latency p50/p95/p99/max ms", func(r Result) string {
		l := r.Latency
		return fmt.Sprintf("%s / %s / %s / %s", msf(l.P50ms), msf(l.P95ms), msf(l.P99ms), msf(l.MaxMs))
	})
	statuses := union(results, func(r Result) []string {
		var s []string
		for _, e := range r.Errors {
			s = append(s, e.Status)
		}
		return s
	})
	if len(statuses) == 0 {
		row("errors", func(Result) string { return "none" })
	}
	for _, st := range statuses {
		row("errors "+st+" (requests/statements)", func(r Result) string {
			for _, e := range r.Errors {
				if e.Status == st {
					return fmt.Sprintf("%d / %d", e.Requests, e.Statements)
				}
			}
			return "0"
		})
	}
	row("freshness GET p50/p99/max ms", func(r Result) string { return freshCell(&r.FreshnessGET) })
	row("  samples visible/missing/skipped", func(r Result) string { return freshCounts(&r.FreshnessGET) })
	row("  drain after load s", func(r Result) string { return drainCell(&r.FreshnessGET) })
	if slices.ContainsFunc(results, func(r Result) bool { return r.FreshnessClickHouse != nil }) {
		row("freshness ClickHouse p50/p99/max ms", func(r Result) string { return freshCell(r.FreshnessClickHouse) })
		row("  samples visible/missing", func(r Result) string { return freshCounts(r.FreshnessClickHouse) })
		row("  drain after load s", func(r Result) string { return drainCell(r.FreshnessClickHouse) })
	}
	for _, kind := range union(results, func(r Result) []string {
		var s []string
		for _, q := range r.Queries {
			s = append(s, q.Kind)
		}
		return s
	}) {
		row("GET "+kind+" p50/p99 ms (rows, n)", func(r Result) string {
			for _, q := range r.Queries {
				if q.Kind != kind {
					continue
				}
				if q.Count == 0 && q.Errors == 0 {
					return "-"
				}
				c := fmt.Sprintf("%s / %s (%.0f, %d)", msf(q.P50ms), msf(q.P99ms), q.AvgRows, q.Count)
				if q.Errors > 0 {
					c += fmt.Sprintf(" %d errors", q.Errors)
				}
				if q.Skipped > 0 {
					c += fmt.Sprintf(" %d skipped", q.Skipped)
				}
				return c
			}
			return "-"
		})
	}
	for _, name := range union(results, func(r Result) []string {
		var s []string
		for _, p := range r.Processes {
			s = append(s, p.Name)
		}
		return s
	}) {
		row("cpu % / mem MB "+name, func(r Result) string {
			for _, p := range r.Processes {
				if p.Name != name {
					continue
				}
				if p.Error != "" && p.MemMaxMB == 0 {
					return "unreadable"
				}
				return fmt.Sprintf("%.0f%% / %.0f", p.CPUPercent, p.MemMaxMB)
			}
			return "-"
		})
	}
	row("machine: cores, load 1m, busy", func(r Result) string {
		m := r.Machine
		return fmt.Sprintf("%d, %.1f->%.1f, %.0f%%", m.Cores, m.LoadAvgStart, m.LoadAvgEnd, m.CPUBusyPercent)
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		for _, e := range r.Errors {
			if e.Example != "" {
				ex := strings.Join(strings.Fields(e.Example), " ")
				if len(ex) > 200 {
					ex = ex[:200] + "..."
				}
				fmt.Fprintf(w, "%s, %s: %s\n", r.Label, e.Status, ex)
			}
		}
	}
	return nil
}

func union(results []Result, keys func(Result) []string) []string {
	var out []string
	for _, r := range results {
		for _, k := range keys(r) {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

func freshCell(f *FreshnessStats) string {
	if f == nil || f.Samples == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s", msf(f.P50ms), msf(f.P99ms), msf(f.MaxMs))
}

func freshCounts(f *FreshnessStats) string {
	if f == nil || f.Samples == 0 {
		return "-"
	}
	c := fmt.Sprintf("%d / %d / %d", f.Visible, f.Missing, f.Skipped)
	if f.Errors > 0 {
		c += fmt.Sprintf(", %d errors", f.Errors)
	}
	return c
}

func drainCell(f *FreshnessStats) string {
	switch {
	case f == nil || f.Visible == 0 && f.Missing == 0:
		return "-"
	case f.Missing > 0:
		// The last samples never showed: the backlog outlasted the timeout.
		return "not drained"
	}
	return fmt.Sprintf("%.2f", f.DrainS)
}

// msf prints milliseconds with precision that suits their size.
func msf(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// num prints a rate with thousands separators.
func num(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
