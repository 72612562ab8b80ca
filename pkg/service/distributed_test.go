package service

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
	"github.com/streamlrs/streamlrs/pkg/tlsutil/tlstest"
)

// binaries are the services compiled once for the whole test run (in one
// go build, which compiles them in parallel), in a directory TestMain
// removes.
var binaries struct {
	once sync.Once
	dir  string
	err  error
}

// prebuild starts compiling the services in the background, so that a test
// can start its servers meanwhile; buildBinaries then waits for it.
func prebuild() { go binaries.once.Do(compileServices) }

func compileServices() {
	dir, err := os.MkdirTemp("", "lrs-bin-")
	if err != nil {
		binaries.err = err
		return
	}
	binaries.dir = dir
	services := []string{"ingest", "store-writer", "analytics-writer", "forwarder", "lrs"}
	args := []string{"build", "-o", dir}
	for _, s := range services {
		args = append(args, "../../services/"+s)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		binaries.err = fmt.Errorf("%v\n%s", err, out)
		return
	}
	for _, s := range services[:4] {
		if err := os.Rename(filepath.Join(dir, s), filepath.Join(dir, "lrs-"+s)); err != nil {
			binaries.err = err
			return
		}
	}
}

// buildBinaries returns the directory of the compiled services: lrs-ingest,
// lrs-store-writer, lrs-analytics-writer, lrs-forwarder and lrs.
func buildBinaries(t *testing.T) string {
	t.Helper()
	binaries.once.Do(compileServices)
	if binaries.err != nil {
		t.Fatalf("build the services: %v", binaries.err)
	}
	return binaries.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func startProcess(t *testing.T, bin, name string, env []string, args ...string) *process {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, log: logf}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log ---\n%s", name, tail(string(b), 4000))
		}
	})
	return p
}

// stop sends SIGTERM and expects a clean exit: the graceful shutdown path.
func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, err)
		}
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not stop within 40s of SIGTERM", p.name)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestDistributedServices runs ingest, store-writer and analytics-writer as
// separate processes against the real Kafka (through its SASL_SSL listener:
// SCRAM-SHA-512, the CA of the test run, the password from a file),
// PostgreSQL and ClickHouse: statements POSTed to ingest are read back from
// PostgreSQL through the API and counted in ClickHouse.
func TestDistributedServices(t *testing.T) {
	k := testenv.KafkaSecured(t)
	pg := testenv.PostgresDSN(t)
	ch := testenv.ClickHouseDSN(t)
	bin := buildBinaries(t)

	topic := testenv.UniqueName("xapi")
	secured := []string{
		"LRS_KAFKA_BROKERS=" + strings.Join(k.SASLBrokers, ","), "LRS_KAFKA_TLS=true", "LRS_KAFKA_TLS_CA_FILE=" + k.CAFile,
		"LRS_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "LRS_KAFKA_SASL_USER=" + k.User,
	}
	common := append([]string{
		"LRS_KAFKA_TOPIC=" + topic, "LRS_KAFKA_PARTITIONS=3", "LRS_KAFKA_SASL_PASSWORD_FILE=" + k.PasswordFile,
		"LRS_LOG_FORMAT=json", "LRS_STORE_GROUP=" + topic + "-store", "LRS_ANALYTICS_GROUP=" + topic + "-analytics",
	}, secured...)

	// Refused by the broker, a service fails its start at once (well within
	// the minute it waits for a broker that is merely not up yet) and says
	// which setting is wrong.
	stranger := tlstest.NewCA(t, "not the broker's CA")
	refusals := []struct {
		name, want string
		env        []string
	}{
		{"wrong password", "SASL user or password", []string{"LRS_KAFKA_SASL_PASSWORD=wrong"}},
		{"untrusted certificate", "certificate is not trusted", []string{"LRS_KAFKA_SASL_PASSWORD_FILE=" + k.PasswordFile, "LRS_KAFKA_TLS_CA_FILE=" + stranger.CertFile}},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "lrs-store-writer"))
			cmd.Env = append(os.Environ(), append(secured, "LRS_KAFKA_TOPIC="+topic, "LRS_HTTP_ADDR=", "LRS_STORE_DSN=sqlite:"+filepath.Join(t.TempDir(), "lrs.db"))...)
			cmd.Env = append(cmd.Env, r.env...)
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("still running after 45s: a retry loop, not a refusal\n%s", tail(string(out), 2000))
			}
			if err == nil || !strings.Contains(string(out), "refused this client") || !strings.Contains(string(out), r.want) {
				t.Fatalf("exit %v, output does not name the refusal (%q):\n%s", err, r.want, tail(string(out), 2000))
			}
		})
	}

	ingestAddr, swAddr, awAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	sw := startProcess(t, bin, "lrs-store-writer", append(common, "LRS_STORE_DSN="+pg, "LRS_HTTP_ADDR="+swAddr))
	aw := startProcess(t, bin, "lrs-analytics-writer", append(common, "LRS_CLICKHOUSE_DSN="+ch, "LRS_HTTP_ADDR="+awAddr))
	// The store-writer migrates the schema; ingest starts with -migrate too,
	// which is idempotent.
	ing := startProcess(t, bin, "lrs-ingest", append(common, "LRS_STORE_DSN="+pg, "LRS_HTTP_ADDR="+ingestAddr,
		"LRS_BOOTSTRAP_KEY="+testKey, "LRS_BOOTSTRAP_SECRET="+testSecret))
	for _, addr := range []string{swAddr, awAddr, ingestAddr} {
		waitReady(t, addr, nil)
	}
	// The container health check: each binary asks its own /readyz.
	for name, addr := range map[string]string{"lrs-store-writer": swAddr, "lrs-analytics-writer": awAddr, "lrs-ingest": ingestAddr} {
		cmd := exec.Command(filepath.Join(bin, name), "healthcheck")
		cmd.Env = append(os.Environ(), "LRS_HTTP_ADDR="+addr)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s healthcheck: %v\n%s", name, err, out)
		}
	}

	c := newClient(t, ingestAddr)
	c.version = "2.0.0"
	var ids []string
	for i := 0; i < 5; i++ {
		r := c.post(statementArray(20, fmt.Sprintf("attempted-%d", i)))
		if r.status != 200 {
			t.Fatalf("POST batch %d: %d %s", i, r.status, r.body)
		}
		var got []string
		r.json(t, &got)
		ids = append(ids, got...)
	}
	// Read your writes through PostgreSQL.
	r := c.get("?statementId=" + ids[len(ids)-1])
	if r.status != 200 {
		t.Fatalf("GET last statement: %d %s", r.status, r.body)
	}
	var page struct {
		Statements []map[string]any `json:"statements"`
		More       string           `json:"more"`
	}
	r = c.get("?limit=500")
	r.json(t, &page)
	if len(page.Statements) != len(ids) {
		t.Fatalf("store has %d statements, want %d", len(page.Statements), len(ids))
	}

	// ClickHouse receives every statement exactly once.
	conn := testenv.ClickHouseConn(t, ch)
	var n uint64
	deadline := time.Now().Add(60 * time.Second)
	for {
		row := conn.QueryRow(context.Background(), "SELECT count() FROM (SELECT DISTINCT statement_id FROM statements WHERE tenant = 'default')")
		if err := row.Scan(&n); err != nil {
			t.Fatalf("count in ClickHouse: %v", err)
		}
		if n == uint64(len(ids)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if n != uint64(len(ids)) {
		t.Fatalf("ClickHouse has %d distinct statements, want %d", n, len(ids))
	}

	// SIGTERM: every service shuts down cleanly (checked by stop).
	ing.stop(t)
	sw.stop(t)
	aw.stop(t)
	for _, p := range []*process{ing, sw, aw} {
		b, err := os.ReadFile(p.log.Name())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), k.Password) {
			t.Errorf("%s logged the Kafka password", p.name)
		}
		if !strings.Contains(string(b), `"kafka_security":"SASL_SSL"`) {
			t.Errorf("%s did not log its Kafka security", p.name)
		}
	}
}
