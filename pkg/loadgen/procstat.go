package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process names a process whose CPU and memory are reported.
type Process struct {
	Name string
	PID  int
	// Tree includes every descendant (PostgreSQL's backends, for example).
	// Its memory is then the sum of proportional set sizes (PSS), so that
	// shared memory is not counted once per process.
	Tree bool
}

// ParseProcess reads NAME=PID, or NAME=PID+ for a process tree.
func ParseProcess(s string) (Process, error) {
	name, pid, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Process{}, fmt.Errorf("process %q: want NAME=PID or NAME=PID+", s)
	}
	p := Process{Name: name}
	if strings.HasSuffix(pid, "+") {
		p.Tree, pid = true, strings.TrimSuffix(pid, "+")
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return Process{}, fmt.Errorf("process %q: %q is not a process id", s, pid)
	}
	p.PID = n
	return p, nil
}

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux
// architecture Go supports (reading it needs sysconf, which needs cgo).
const clockTicks = 100

// procSample is one reading of a process (or tree).
type procSample struct {
	ticks uint64 // user+system time, own and of reaped children
	memKB uint64
}

// procFS reads /proc below root (a folder laid out like /proc in tests).
type procFS struct{ root string }

// stat reads utime, stime, cutime, cstime, ppid and rss from /proc/PID/stat.
func (fs procFS) stat(pid int) (ticks uint64, ppid int, rssKB uint64, err error) {
	b, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field N is f[N-3].
	if len(f) < 22 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var v [4]uint64
	for k, idx := range []int{14, 15, 16, 17} {
		if v[k], err = strconv.ParseUint(f[idx-3], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/%d/stat field %d: %w", pid, idx, err)
		}
	}
	ppid, err = strconv.Atoi(f[4-3])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat ppid: %w", pid, err)
	}
	rss, err := strconv.ParseInt(f[24-3], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat rss: %w", pid, err)
	}
	return v[0] + v[1] + v[2] + v[3], ppid, uint64(max(rss, 0)) * uint64(os.Getpagesize()) / 1024, nil
}

// pss reads the proportional set size from /proc/PID/smaps_rollup.
func (fs procFS) pss(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			return strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/smaps_rollup: no Pss line", pid)
}

// descendants returns pid and every process below it.
func (fs procFS) descendants(pid int) []int {
	entries, err := os.ReadDir(fs.root)
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, _, err := fs.stat(p); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func (fs procFS) sample(p Process) (procSample, error) {
	if !p.Tree {
		t, _, rss, err := fs.stat(p.PID)
		return procSample{ticks: t, memKB: rss}, err
	}
	var s procSample
	for i, pid := range fs.descendants(p.PID) {
		t, _, rss, err := fs.stat(pid)
		if err != nil {
			if i == 0 {
				return procSample{}, err
			}
			continue // a child that just exited
		}
		s.ticks += t
		if pss, err := fs.pss(pid); err == nil {
			s.memKB += pss
		} else {
			s.memKB += rss
		}
	}
	return s, nil
}

// cpuTotals reads the machine's busy and total jiffies from /proc/stat.
func (fs procFS) cpuTotals() (busy, total uint64, err error) {
	b, err := os.ReadFile(filepath.Join(fs.root, "stat"))
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// loadAvg reads the 1-minute load average.
func (fs procFS) loadAvg() (float64, error) {
	b, err := os.ReadFile(filepath.Join(fs.root, "loadavg"))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("/proc/loadavg is empty")
	}
	return strconv.ParseFloat(f[0], 64)
}

// ProcessStats is what a run reports per process.
type ProcessStats struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	Tree bool   `json:"tree,omitempty"`
	// CPUPercent is the average over the measured window, in % of one core.
	CPUPercent float64 `json:"cpu_percent"`
	// MemMaxMB and MemEndMB are RSS (or summed PSS for a tree).
	MemMaxMB float64 `json:"mem_max_mb"`
	MemEndMB float64 `json:"mem_end_mb"`
	Error    string  `json:"error,omitempty"`
}

// MachineStats describes how busy the whole machine was.
type MachineStats struct {
	Cores          int     `json:"cores"`
	LoadAvgStart   float64 `json:"load_avg_1m_start"`
	LoadAvgEnd     float64 `json:"load_avg_1m_end"`
	CPUBusyPercent float64 `json:"cpu_busy_percent"` // of all cores, over the window
}

// procWatcher samples processes and the machine from start to stop.
type procWatcher struct {
	fs    procFS
	procs []Process
	every time.Duration

	mu         sync.Mutex
	first      []procSample
	last       []procSample
	maxMem     []uint64
	errs       []error
	t0, t1     time.Time
	busy0      uint64
	total0     uint64
	busy1      uint64
	total1     uint64
	load0      float64
	load1      float64
	stop, done chan struct{}
}

func newProcWatcher(fs procFS, procs []Process, every time.Duration) *procWatcher {
	n := len(procs)
	return &procWatcher{
		fs: fs, procs: procs, every: every,
		first: make([]procSample, n), last: make([]procSample, n), maxMem: make([]uint64, n), errs: make([]error, n),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

func (w *procWatcher) read(into []procSample) {
	for i, p := range w.procs {
		s, err := w.fs.sample(p)
		w.mu.Lock()
		if err != nil {
			if w.errs[i] == nil {
				w.errs[i] = err
			}
		} else {
			into[i] = s
			w.maxMem[i] = max(w.maxMem[i], s.memKB)
		}
		w.mu.Unlock()
	}
}

// start takes the first readings and samples memory until finish.
func (w *procWatcher) start() {
	w.t0 = time.Now()
	w.busy0, w.total0, _ = w.fs.cpuTotals()
	w.load0, _ = w.fs.loadAvg()
	w.read(w.first)
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.every)
		defer t.Stop()
		scratch := make([]procSample, len(w.procs))
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.read(scratch)
			}
		}
	}()
}

// finish takes the last readings and returns the stats of the window; a
// watcher never started (the load ended as the window began) reports an
// empty window.
func (w *procWatcher) finish() ([]ProcessStats, MachineStats) {
	if w.t0.IsZero() {
		w.start()
	}
	close(w.stop)
	<-w.done
	w.t1 = time.Now()
	w.read(w.last)
	w.busy1, w.total1, _ = w.fs.cpuTotals()
	w.load1, _ = w.fs.loadAvg()
	secs := w.t1.Sub(w.t0).Seconds()
	out := make([]ProcessStats, len(w.procs))
	for i, p := range w.procs {
		ps := ProcessStats{Name: p.Name, PID: p.PID, Tree: p.Tree}
		if w.errs[i] != nil {
			ps.Error = w.errs[i].Error()
		}
		if secs > 0 && w.last[i].ticks >= w.first[i].ticks {
			ps.CPUPercent = float64(w.last[i].ticks-w.first[i].ticks) / clockTicks / secs * 100
		}
		ps.MemMaxMB = float64(w.maxMem[i]) / 1024
		ps.MemEndMB = float64(w.last[i].memKB) / 1024
		out[i] = ps
	}
	m := MachineStats{Cores: runtime.NumCPU(), LoadAvgStart: w.load0, LoadAvgEnd: w.load1}
	if w.total1 > w.total0 {
		m.CPUBusyPercent = float64(w.busy1-w.busy0) / float64(w.total1-w.total0) * 100
	}
	return out, m
}
