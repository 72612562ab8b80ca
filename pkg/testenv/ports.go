package testenv

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Ports for servers a test starts on a known address come from below the
// kernel's ephemeral range. A port the kernel hands out for ":0" is free
// again once the probe closes, and the next ":0" bind or outgoing connection
// in the process (an embedded broker, a Kafka client) may take it before the
// server binds: CI failed once with "address already in use" on exactly
// that. The kernel never picks a port outside its range by itself, so only
// another explicit chooser can collide, and each process starts its walk at
// a different place.
const firstTestPort = 20000

var (
	portsOnce sync.Once
	portSpan  int
	nextPort  atomic.Int64
)

// FreeAddr returns a loopback address ("127.0.0.1:port") nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freePort(t))
}

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	portsOnce.Do(func() {
		portSpan = ephemeralLow() - firstTestPort
		nextPort.Store(int64(os.Getpid() * 7919))
	})
	for range max(portSpan, 0) {
		port := firstTestPort + int(nextPort.Add(1)%int64(portSpan))
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			ln.Close()
			return port
		}
	}
	// No room below the ephemeral range: fall back to one the kernel picks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}
