package testenv

import (
	"net"
	"strconv"
	"testing"
)

// Addresses come from below the ephemeral range, so a ":0" bind made right
// after cannot be handed the same port, and no two calls repeat one.
func TestFreeAddrIsOutsideTheEphemeralRange(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := strconv.Atoi(port); p < firstTestPort || p >= ephemeralLow() {
			t.Fatalf("port %d outside [%d, %d)", p, firstTestPort, ephemeralLow())
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreeAddr gave %s, which does not bind: %v", addr, err)
		}
		ln.Close()
	}
}
