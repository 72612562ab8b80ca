// Package tlsutil builds the TLS configurations of the LRS: the API's server
// side, whose certificate is reloaded when its files change (so certificates
// rotate without a restart), and the client side used towards Kafka (a CA
// file, an optional client certificate for mTLS).
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Reloader holds a certificate and key read from two PEM files and reads
// them again when either file's modification time or size changes. A pair
// that fails to load (e.g. the certificate was replaced but not yet the
// key) leaves the previous one in use and is retried at the next handshake.
type Reloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	failed  [2]fileStamp // the stamps of the last pair that failed, logged once
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// recheck bounds how often the files are looked at: a busy listener
// handshakes many times a second, a rotation needs no finer timing.
const recheck = time.Second

// NewReloader loads the pair now, so a bad file fails the start.
func NewReloader(certFile, keyFile string, log *zap.Logger) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate file and a key file")
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := r.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = cert, stamp, time.Now()
	return r, nil
}

func (r *Reloader) stamps() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return out, fmt.Errorf("TLS file: %w", err)
		}
		out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// Certificate returns the current pair, reloading it first if the files
// changed.
func (r *Reloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) < recheck {
		return r.cert
	}
	r.checked = now
	stamp, err := r.stamps()
	if err != nil || stamp == r.stamp {
		if err != nil && stamp != r.failed {
			r.failed = stamp
			r.log.Warn("TLS certificate files unreadable; serving the previous certificate", zap.Error(err))
		}
		return r.cert
	}
	cert, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		if stamp != r.failed {
			r.failed = stamp
			r.log.Warn("TLS certificate change not loaded; serving the previous certificate", zap.Error(err))
		}
		return r.cert
	}
	r.cert, r.stamp = cert, stamp
	fields := []zap.Field{zap.String("cert", r.certFile)}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		fields = append(fields, zap.String("subject", leaf.Subject.String()), zap.Time("not_after", leaf.NotAfter))
	}
	r.log.Info("TLS certificate reloaded", fields...)
	return r.cert
}

// ServerConfig is the API's TLS: TLS 1.2 or newer, the certificate from r.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.Certificate(), nil },
	}
}

// ClientOptions configure the client side of a TLS connection.
type ClientOptions struct {
	// CAFile is a PEM bundle of the CAs trusted for the server's
	// certificate; empty trusts the system's roots.
	CAFile string
	// CertFile and KeyFile are the client certificate presented when the
	// server asks for one (mTLS); both or neither. They are reloaded like
	// the server's.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server's certificate
	// (default: the host dialled).
	ServerName string
}

// ClientConfig builds a verifying client configuration; the files are read
// now so that a wrong path fails the start.
func ClientConfig(o ClientOptions, log *zap.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("a client certificate needs both its certificate file and its key file")
	}
	if o.CertFile != "" {
		r, err := NewReloader(o.CertFile, o.KeyFile, log)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.Certificate(), nil }
	}
	return cfg, nil
}
