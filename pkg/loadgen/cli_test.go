package loadgen

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCommandRunsAndReports(t *testing.T) {
	_, srv := newFakeLRS(t, 0, testCred)
	path := filepath.Join(t.TempDir(), "run.json")
	var out strings.Builder
	err := Command(context.Background(), []string{
		"-url", srv.URL + "/xapi", "-auth", "lms:s3cret", "-mode", "batch", "-batch", "5",
		"-duration", "300ms", "-warmup", "0s", "-concurrency", "2", "-instances", "2", "-learners", "20",
		"-proc", "self=" + strconv.Itoa(os.Getpid()), "-label", "cli", "-out", path,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cli") || !strings.Contains(out.String(), "POST x5, closed loop, 2 clients") || !strings.Contains(out.String(), "mem MB self") {
		t.Fatalf("table:\n%s", out.String())
	}
	res, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Label != "cli" || res.Accepted == 0 || res.Accepted%5 != 0 || len(res.Processes) != 2 {
		t.Fatalf("saved result %+v", res)
	}
	out.Reset()
	if err := Command(context.Background(), []string{"report", path, path}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(strings.Split(out.String(), "\n")[0], "cli") != 2 {
		t.Fatalf("report of two files:\n%s", out.String())
	}
}

func TestCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-auth", "nocolon"},
		{"-auth", "a:b", "-mode", "delete"},
		{"-auth", "a:b", "-proc", "x"},
		{"-auth", "a:b", "-epoch", "yesterday"},
		{"-auth", "a:b", "stray"},
		{"-no-such-flag"},
		{"report"},
		{"report", "/nonexistent.json"},
	} {
		var out strings.Builder
		if err := Command(context.Background(), args, &out); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
