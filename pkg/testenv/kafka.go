package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvKafkaLibs holds the folder of the Kafka jars (scripts/testenv), from
// which a test starts a broker of its own.
const EnvKafkaLibs = "LRS_TEST_KAFKA_LIBS"

// Kafka is a single-node broker process owned by one test, for tests that
// kill, pause or restart the broker: the shared one of `make test` must
// never be touched.
type Kafka struct {
	t    testing.TB
	dir  string
	java []string
	addr string
	px   *Proxy
	cmd  *exec.Cmd
}

// StartKafka formats and starts a broker on free loopback ports and waits
// until it answers; it is killed when the test ends.
func StartKafka(t testing.TB) *Kafka {
	t.Helper()
	libs := lookup(t, EnvKafkaLibs)
	dir := t.TempDir()
	port, ctrl, ext := freePort(t), freePort(t), freePort(t)
	// A second listener advertises a proxy in front of it: clients that
	// bootstrap there reach the broker only through the proxy, which a
	// test cuts to separate them from the broker, and only them.
	px := NewProxy(t, fmt.Sprintf("127.0.0.1:%d", ext))
	props := filepath.Join(dir, "server.properties")
	conf := strings.Join([]string{
		"process.roles=broker,controller", "node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@127.0.0.1:%d", ctrl),
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d", port, ctrl, ext),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://%s", port, px.Addr()),
		"controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
		"log.dirs=" + filepath.Join(dir, "data"), "num.partitions=3", "auto.create.topics.enable=true",
		"group.initial.rebalance.delay.ms=0", "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=3",
		"transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1", "transaction.state.log.num.partitions=3",
		"share.coordinator.state.topic.replication.factor=1", "share.coordinator.state.topic.min.isr=1",
		// Fault tests use short sessions to see evictions quickly.
		"group.min.session.timeout.ms=2000",
	}, "\n") + "\n"
	if err := os.WriteFile(props, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(log4j, []byte("status = warn\nappender.file.type = File\nappender.file.name = file\nappender.file.fileName = "+
		filepath.Join(dir, "server.log")+"\nappender.file.layout.type = PatternLayout\nappender.file.layout.pattern = [%d] %p %m (%c)%n\n"+
		"rootLogger.level = warn\nrootLogger.appenderRef.file.ref = file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &Kafka{t: t, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), px: px,
		java: []string{"java", "-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
			"-Dlog4j2.configurationFile=" + log4j, "-cp", filepath.Join(libs, "*")}}
	var id [16]byte
	_, _ = rand.Read(id[:])
	format := exec.Command(k.java[0], append(k.java[1:], "kafka.tools.StorageTool", "format",
		// "=": an id may begin with "-", which would read as a flag.
		"--cluster-id="+base64.RawURLEncoding.EncodeToString(id[:]), "-c", props)...)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("format Kafka storage: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if k.cmd != nil {
			_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGCONT)
			k.Kill()
		}
	})
	k.Start()
	return k
}

// Addr is the broker's bootstrap address.
func (k *Kafka) Addr() string { return k.addr }

// ProxyAddr is a bootstrap address whose clients reach the broker through
// Proxy only.
func (k *Kafka) ProxyAddr() string { return k.px.Addr() }

// Proxy is the cuttable network between ProxyAddr's clients and the broker.
func (k *Kafka) Proxy() *Proxy { return k.px }

// Start runs the broker (again, on the same data and ports) and waits until
// it answers.
func (k *Kafka) Start() {
	k.t.Helper()
	logf, err := os.OpenFile(filepath.Join(k.dir, "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		k.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(k.java[0], append(k.java[1:], "kafka.Kafka", filepath.Join(k.dir, "server.properties"))...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that Pause stops the JVM and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("start Kafka: %v", err)
	}
	k.cmd = cmd
	// A JVM on a busy 2-core machine has been seen to need over 3 minutes.
	k.waitReady(5 * time.Minute)
}

func (k *Kafka) waitReady(d time.Duration) {
	k.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr))
	if err != nil {
		k.t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cl.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(k.dir, "server.log"))
			k.t.Fatalf("Kafka on %s did not answer within %v: %v\n%s", k.addr, d, err, tailOf(string(b), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill stops the broker with SIGKILL, as a crash would.
func (k *Kafka) Kill() {
	if k.cmd == nil || k.cmd.ProcessState != nil {
		return
	}
	_ = k.cmd.Process.Kill()
	_ = k.cmd.Wait()
}

// Pause freezes the broker (SIGSTOP): connections stay open but nothing
// answers, as with a long GC pause or a hung machine.
func (k *Kafka) Pause() { _ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume lets a paused broker go on (SIGCONT).
func (k *Kafka) Resume() { _ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGCONT) }

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
