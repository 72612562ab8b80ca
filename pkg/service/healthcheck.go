package service

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RunHealthcheck asks a running service on this machine whether it is
// ready: the container health check of images that have no shell or curl
// (`lrs-ingest healthcheck`). It reads the same LRS_HTTP_ADDR as the service.
func RunHealthcheck(ctx context.Context, args []string, out io.Writer) error {
	var addr, path, certFile string
	err := parse("healthcheck", args, func(fs *flag.FlagSet) {
		fs.StringVar(&addr, "http-addr", "127.0.0.1:8080", "the service's listen address")
		fs.StringVar(&certFile, "tls-cert-file", "", "set when the service serves HTTPS (the same variable as the service's)")
		fs.StringVar(&path, "path", "/readyz", "/readyz (dependencies up) or /healthz (alive)")
	})
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("http-addr %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	scheme, hc := "http", http.DefaultClient
	if certFile != "" {
		// The service's certificate names its public host, not the loopback
		// address asked here; the check sends no credentials and reads only
		// readiness, so it does not verify the certificate.
		scheme = "https"
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("not answering: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(out, "%s\n", body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", path, resp.StatusCode)
	}
	return nil
}
