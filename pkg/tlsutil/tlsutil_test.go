package tlsutil_test

import (
	"crypto/tls"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/tlsutil"
	"github.com/streamlrs/streamlrs/pkg/tlsutil/tlstest"
)

// servedSerial makes a new connection with a client that trusts only ca and
// returns the serial number of the certificate the server presented.
func servedSerial(t *testing.T, url string, ca *tlstest.CA) *big.Int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber
}

// A certificate replaced on disk is served to the next connection without a
// restart; a broken replacement leaves the previous one in service.
func TestReloaderServesRotatedCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := ca.Issue(t, certFile, keyFile, "127.0.0.1")
	r, err := tlsutil.NewReloader(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	// httptest's StartTLS would add its own certificate, which wins for a
	// client without SNI; wrap the listener as the API does.
	srv.Listener = tls.NewListener(srv.Listener, tlsutil.ServerConfig(r))
	srv.Start()
	defer srv.Close()
	srv.URL = "https://" + srv.Listener.Addr().String()

	if got := servedSerial(t, srv.URL, ca); got.Cmp(first) != 0 {
		t.Fatalf("served serial %v, want %v", got, first)
	}
	second := ca.Issue(t, certFile, keyFile, "127.0.0.1")
	waitSerial(t, srv.URL, ca, second)

	// A key that does not match the certificate (a rotation half done).
	other := filepath.Join(dir, "other.key")
	ca.Issue(t, filepath.Join(dir, "other.crt"), other, "127.0.0.1")
	b, _ := os.ReadFile(other)
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past the re-check interval
	if got := servedSerial(t, srv.URL, ca); got.Cmp(second) != 0 {
		t.Fatalf("after a broken rotation the server presents %v, want the previous %v", got, second)
	}
}

func waitSerial(t *testing.T, url string, ca *tlstest.CA, want *big.Int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := servedSerial(t, url, ca)
		if got.Cmp(want) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still presents serial %v, want the rotated %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestBadFilesFailAtOnce(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsutil.NewReloader(junk, junk, nil); err == nil {
		t.Error("NewReloader accepted a file that holds no certificate")
	}
	if _, err := tlsutil.NewReloader(filepath.Join(dir, "missing.crt"), junk, nil); err == nil {
		t.Error("NewReloader accepted a missing file")
	}
	tests := []struct {
		name string
		o    tlsutil.ClientOptions
	}{
		{"CA without PEM", tlsutil.ClientOptions{CAFile: junk}},
		{"missing CA", tlsutil.ClientOptions{CAFile: filepath.Join(dir, "missing.pem")}},
		{"cert without key", tlsutil.ClientOptions{CertFile: junk}},
	}
	for _, tt := range tests {
		if _, err := tlsutil.ClientConfig(tt.o, nil); err == nil {
			t.Errorf("%s: ClientConfig accepted it", tt.name)
		}
	}
}
