package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeProc writes a /proc-like folder: pid -> {ppid, ticks (utime), rss pages, pss kB}.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) fakeProc {
	root := t.TempDir()
	f := fakeProc{t, root}
	f.write("loadavg", "1.50 1.20 0.90 3/400 12345\n")
	f.cpu(100, 300)
	return f
}

func (f fakeProc) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	// Replaced whole, as the kernel serves it: the watcher reads while
	// the test writes.
	if err := os.WriteFile(p+".new", []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeProc) cpu(busy, idle uint64) {
	f.write("stat", fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 1 2 3 4\n", busy, idle))
}

// proc writes /proc/PID/stat with the given command (spaces and
// parentheses included, as the kernel allows) and optional smaps_rollup.
func (f fakeProc) proc(pid, ppid int, comm string, utime, cutime, rssPages uint64, pssKB int) {
	// Fields 3..24: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime prio nice threads itreal start vsize rss
	f.write(fmt.Sprintf("%d/stat", pid), fmt.Sprintf("%d (%s) S %d 1 1 0 -1 0 0 0 0 0 %d 5 %d 0 20 0 1 0 100 1000000 %d 0 0\n",
		pid, comm, ppid, utime, cutime, rssPages))
	if pssKB >= 0 {
		f.write(fmt.Sprintf("%d/smaps_rollup", pid), fmt.Sprintf("00400000-7fff [rollup]\nRss: 999 kB\nPss: %d kB\nShared_Clean: 0 kB\n", pssKB))
	}
}

func TestProcStat(t *testing.T) {
	f := newFakeProc(t)
	f.proc(10, 1, "lrs ) (x", 200, 7, 256, -1)
	ticks, ppid, rss, err := procFS{f.root}.stat(10)
	if err != nil {
		t.Fatal(err)
	}
	page := uint64(os.Getpagesize())
	if ticks != 200+5+7 || ppid != 1 || rss != 256*page/1024 {
		t.Fatalf("ticks %d ppid %d rss %d", ticks, ppid, rss)
	}
	if _, _, _, err := (procFS{f.root}).stat(11); err == nil {
		t.Fatal("missing process read without error")
	}
	f.write("12/stat", "12 (short) S 1 2\n")
	if _, _, _, err := (procFS{f.root}).stat(12); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Fatalf("truncated stat: %v", err)
	}
}

func TestProcTreeSumsPSS(t *testing.T) {
	f := newFakeProc(t)
	f.proc(20, 1, "postgres", 100, 50, 1000, 4000)
	f.proc(21, 20, "postgres: walwriter", 10, 0, 1000, 1000)
	f.proc(22, 20, "postgres: lrs lrs 127.0.0.1", 30, 0, 1000, 2000)
	f.proc(23, 22, "grandchild", 1, 0, 10, 24)
	f.proc(30, 1, "unrelated", 999, 0, 9999, 9999)
	fs := procFS{f.root}
	s, err := fs.sample(Process{Name: "postgres", PID: 20, Tree: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(100 + 5 + 50 + 10 + 5 + 30 + 5 + 1 + 5); s.ticks != want {
		t.Errorf("tree ticks %d, want %d", s.ticks, want)
	}
	if s.memKB != 4000+1000+2000+24 {
		t.Errorf("tree PSS %d kB", s.memKB)
	}
	one, err := fs.sample(Process{Name: "postgres", PID: 20})
	if err != nil || one.ticks != 155 || one.memKB != 1000*uint64(os.Getpagesize())/1024 {
		t.Errorf("single process %+v %v", one, err)
	}
}

func TestProcWatcher(t *testing.T) {
	f := newFakeProc(t)
	f.proc(40, 1, "lrs", 100, 0, 100, -1)
	w := newProcWatcher(procFS{f.root}, []Process{{Name: "lrs", PID: 40}, {Name: "gone", PID: 41}}, 5*time.Millisecond)
	w.start()
	f.proc(40, 1, "lrs", 150, 0, 300, -1) // memory peaks mid-run
	time.Sleep(30 * time.Millisecond)
	f.proc(40, 1, "lrs", 200, 0, 200, -1)
	f.cpu(160, 340)
	f.write("loadavg", "2.50 1.20 0.90 3/400 12345\n")
	ps, m := w.finish()
	page := float64(os.Getpagesize())
	if ps[0].CPUPercent <= 0 || ps[0].MemMaxMB != 300*page/1024/1024 || ps[0].MemEndMB != 200*page/1024/1024 || ps[0].Error != "" {
		t.Errorf("lrs: %+v", ps[0])
	}
	if ps[1].Error == "" {
		t.Errorf("a missing process has no error: %+v", ps[1])
	}
	if m.LoadAvgStart != 1.5 || m.LoadAvgEnd != 2.5 || m.CPUBusyPercent != 60 || m.Cores < 1 {
		t.Errorf("machine %+v", m)
	}
}

func TestParseProcess(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Process
		ok   bool
	}{
		{"lrs=123", Process{Name: "lrs", PID: 123}, true},
		{"postgres=77+", Process{Name: "postgres", PID: 77, Tree: true}, true},
		{"=1", Process{}, false},
		{"lrs", Process{}, false},
		{"lrs=abc", Process{}, false},
		{"lrs=0", Process{}, false},
	} {
		got, err := ParseProcess(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %+v, %v", tc.in, got, err)
		}
	}
}

func TestProcWatcherFinishWithoutStart(t *testing.T) {
	f := newFakeProc(t)
	f.proc(50, 1, "lrs", 100, 0, 100, -1)
	done := make(chan []ProcessStats)
	go func() {
		ps, _ := newProcWatcher(procFS{f.root}, []Process{{Name: "lrs", PID: 50}}, time.Millisecond).finish()
		done <- ps
	}()
	select {
	case ps := <-done:
		if ps[0].CPUPercent != 0 || ps[0].MemEndMB <= 0 {
			t.Fatalf("empty window: %+v", ps[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("finish blocked on a watcher that never started")
	}
}
