package service

import (
	"context"
	"crypto/tls"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlrs/streamlrs/pkg/testenv"
	"github.com/streamlrs/streamlrs/pkg/tlsutil/tlstest"
)

// The API over HTTPS with a generated certificate, through a real client
// that trusts only the test CA: statements go in and come back, the
// healthcheck speaks HTTPS, and a certificate replaced on disk is served
// without a restart.
func TestAPIServesTLSAndRotates(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "LRS test CA")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := ca.Issue(t, certFile, keyFile, "127.0.0.1", "localhost")
	addr := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- RunLRS(ctx, []string{
			"-http-addr", addr, "-log-format", "console", "-log-level", "warn",
			"-store-dsn", "sqlite:" + filepath.Join(dir, "lrs.db"), "-broker-dir", filepath.Join(dir, "broker"),
			"-bootstrap-key", testKey, "-bootstrap-secret", testSecret,
			"-tls-cert-file", certFile, "-tls-key-file", keyFile,
		}, io.Discard)
	}()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}}
	served := func() (*big.Int, int) {
		resp, err := hc.Get("https://" + addr + "/readyz")
		if err != nil {
			return nil, 0
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber, resp.StatusCode
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-errc:
			t.Fatalf("lrs exited during start: %v", err)
		default:
		}
		if serial, code := served(); code == http.StatusOK {
			if serial.Cmp(first) != 0 {
				t.Fatalf("served serial %v, want %v", serial, first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lrs not ready over HTTPS in time")
		}
		time.Sleep(100 * time.Millisecond)
	}

	c := newClient(t, addr)
	c.base = "https://" + addr + "/xapi"
	c.http = hc
	r := c.post(statement("ana", "completed", "tls"))
	if r.status != http.StatusOK {
		t.Fatalf("POST over HTTPS: %d %s", r.status, r.body)
	}
	var ids []string
	r.json(t, &ids)
	if r := c.get("?statementId=" + ids[0]); r.status != http.StatusOK {
		t.Fatalf("GET over HTTPS: %d %s", r.status, r.body)
	}
	if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is answered on the TLS port")
		}
	}
	if err := RunHealthcheck(ctx, []string{"-http-addr", addr, "-tls-cert-file", certFile}, io.Discard); err != nil {
		t.Errorf("healthcheck over HTTPS: %v", err)
	}

	second := ca.Issue(t, certFile, keyFile, "127.0.0.1", "localhost")
	deadline = time.Now().Add(30 * time.Second)
	for {
		serial, _ := served()
		if serial != nil && serial.Cmp(second) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %v after the rotation, want %v", serial, second)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("lrs stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("lrs did not stop within 60s")
	}
}

func TestDatabaseTransportModes(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	tests := []struct {
		name, mode, host string
		fn               func(string) (string, string)
		dsn              string
	}{
		{"pg default is prefer", modeFallback, "db.example.com", postgresTransport, "postgres://u:p@db.example.com/lrs"},
		{"pg disable", modePlaintext, "db", postgresTransport, "postgres://u:p@db/lrs?sslmode=disable"},
		{"pg allow", modeFallback, "db", postgresTransport, "postgres://u:p@db/lrs?sslmode=allow"},
		{"pg require", modeUnverified, "db", postgresTransport, "postgres://u:p@db/lrs?sslmode=require"},
		{"pg verify-full", modeVerified, "db", postgresTransport, "postgres://u:p@db/lrs?sslmode=verify-full"},
		{"pg key=value", modeVerified, "db", postgresTransport, "host=db user=u password=p dbname=lrs sslmode=verify-full"},
		{"ch plaintext", modePlaintext, "ch", clickhouseTransport, "clickhouse://u:p@ch:9000/lrs"},
		{"ch secure", modeVerified, "ch", clickhouseTransport, "clickhouse://u:p@ch:9440/lrs?secure=true"},
		{"ch skip verify", modeUnverified, "ch", clickhouseTransport, "clickhouse://u:p@ch:9440/lrs?secure=true&skip_verify=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode, host := tt.fn(tt.dsn)
			if mode != tt.mode || host != tt.host {
				t.Errorf("got %q on %q, want %q on %q", mode, host, tt.mode, tt.host)
			}
			if strings.Contains(mode, "p@") {
				t.Errorf("mode %q shows the password", mode)
			}
		})
	}
	t.Setenv("PGSSLMODE", "verify-full")
	if mode, _ := postgresTransport("postgres://u:p@db/lrs"); mode != modeVerified {
		t.Errorf("PGSSLMODE=verify-full: got %q", mode)
	}
}
