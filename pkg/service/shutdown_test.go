package service

import (
	"net"
	"testing"
	"time"
)

// A client may open a connection and never send on it: Go's http.Transport
// keeps a connection it dialled for a request that another connection
// served, and load balancers open probes. Such a connection must not hold
// a graceful shutdown for the server's read timeout (60 s), longer than
// the shutdown timeout: fasthttp before v1.79 counted it as a request in
// flight, and ingest then exited with "context deadline exceeded".
func TestShutdownIsNotHeldByASilentConnection(t *testing.T) {
	addr, stop := startLRS(t, t.TempDir(), "-shutdown-timeout", "10s")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	stop()
	if took := time.Since(began); took > 8*time.Second {
		t.Errorf("shutdown took %v with one silent connection open", took.Round(100*time.Millisecond))
	}
}
