package service

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/loadgen"
	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// TestImportOfAGigabyteFile imports a generated NDJSON file of about 1 GB
// (LRS_TEST_IMPORT_BYTES) with `lrs import` into the lrs binary as `make
// run` starts it, each in a process of its own so that their memory is
// their own: the importer streams the file in a few tens of MiB, and the
// LRS's anonymous memory is flat across the file (no higher in the second
// half of the import than in the first) and under 1 GiB, since the ingest
// holds the store to a bounded backlog instead of buffering what it
// accepted. Afterwards the store holds every statement, with provenance.
func TestImportOfAGigabyteFile(t *testing.T) {
	size := int64(1_000_000_000)
	if v := os.Getenv("LRS_TEST_IMPORT_BYTES"); v != "" {
		var err error
		if size, err = strconv.ParseInt(v, 10, 64); err != nil || size <= 0 {
			t.Fatalf("LRS_TEST_IMPORT_BYTES=%q: want a positive number of bytes", v)
		}
	}
	const statementBytes = 1228 // what lrs-loadgen ndjson writes per statement, newline included
	n := size / statementBytes
	bin := buildBinaries(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "export.ndjson")
	if err := loadgen.Command(context.Background(), []string{"ndjson", "-n", fmt.Sprint(n), "-out", file}, io.Discard); err != nil {
		t.Fatalf("generate %s: %v", file, err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}

	db := filepath.Join(dir, "lrs.db")
	addr := testenv.FreeAddr(t)
	lrs := startProcess(t, bin, "lrs", nil, "-http-addr", addr, "-log-level", "warn",
		"-store-dsn", "sqlite:"+db, "-broker-dir", filepath.Join(dir, "broker"),
		"-bootstrap-key", testKey, "-bootstrap-secret", testSecret)
	waitReady(t, addr, nil)
	out, err := exec.Command(filepath.Join(bin, "lrs"), "credentials", "create", "-store-dsn", "sqlite:"+db,
		"-tenant", "default", "-key", "importer-big", "-label", "gigabyte import", "-scopes", "statements/write,import").CombinedOutput()
	m := regexp.MustCompile(`secret: +(\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("credentials create: %v\n%s", err, out)
	}

	type sample struct {
		at time.Duration
		kb int64
	}
	var samples []sample
	imp := exec.Command(filepath.Join(bin, "lrs"), "import", "-endpoint", "http://"+addr+"/xapi", "-key", "importer-big",
		"-batch", "1000", "-concurrency", "4", "-state", "", "-rejects", filepath.Join(dir, "rejects.ndjson"), file)
	imp.Env = append(os.Environ(), "LRS_IMPORT_SECRET="+string(m[1]))
	var impOut strings.Builder
	imp.Stdout, imp.Stderr = &impOut, &impOut
	start := time.Now()
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- imp.Wait() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-tick.C:
			samples = append(samples, sample{time.Since(start), statusKB(lrs.cmd.Process.Pid, "RssAnon")})
		}
	}
	accepted := time.Since(start)
	if err != nil {
		t.Fatalf("lrs import: %v\n%s", err, tail(impOut.String(), 4000))
	}
	if want := fmt.Sprintf("%d accepted", n); !strings.Contains(impOut.String(), want) {
		t.Fatalf("lrs import did not report %q:\n%s", want, tail(impOut.String(), 4000))
	}
	importerKB := imp.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	var firstHalf, secondHalf int64 // peak anonymous RSS of the LRS, in kB
	for _, s := range samples {
		if s.at < accepted/2 {
			firstHalf = max(firstHalf, s.kb)
		} else {
			secondHalf = max(secondHalf, s.kb)
		}
	}

	ro, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var stored, withProvenance int64
	deadline := time.Now().Add(10 * time.Minute)
	for stored < n && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		if err := ro.QueryRow("SELECT count(*) FROM statements WHERE body IS NOT NULL").Scan(&stored); err != nil {
			t.Fatal(err)
		}
	}
	if err := ro.QueryRow("SELECT count(*) FROM statements WHERE source IS NOT NULL").Scan(&withProvenance); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d statements (%d MB): accepted in %v (%.0f/s), stored in %v (%.0f/s); importer max RSS %d MiB; lrs peak anonymous RSS %d MiB in the first half of the import, %d MiB in the second",
		n, fi.Size()/1e6, accepted.Round(time.Millisecond), float64(n)/accepted.Seconds(), elapsed.Round(time.Millisecond), float64(stored)/elapsed.Seconds(),
		importerKB>>10, firstHalf>>10, secondHalf>>10)
	if stored != n || withProvenance != n {
		t.Fatalf("the store holds %d statements, %d with provenance; want %d of each", stored, withProvenance, n)
	}
	if importerKB<<10 > 128<<20 {
		t.Errorf("the importer's RSS reached %d MiB: it should stream the file, not hold it", importerKB>>10)
	}
	// The margin is the garbage collector's: the heap swings by a few
	// hundred MiB between collections under this load. The memory grows
	// until the store's backlog reaches its bound (about 420,000 of these
	// statements), so a file much smaller than the default does not show
	// the plateau in its first half.
	if peak := max(firstHalf, secondHalf); peak > 1<<20 || secondHalf > firstHalf*13/10+64<<10 {
		t.Errorf("the LRS's anonymous RSS peaked at %d MiB in the first half of the import and %d MiB in the second: it follows the file (want it flat, under 1 GiB)",
			firstHalf>>10, secondHalf>>10)
	}
}

// statusKB reads one field (in kB) of /proc/PID/status; 0 if unreadable.
func statusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, rest, ok := strings.Cut(sc.Text(), ":"); ok && name == field {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
