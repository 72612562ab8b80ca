package service

import (
	"net"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/ingest"
	"github.com/streamlrs/streamlrs/pkg/tlsutil"
)

// listenAPI serves the API on cfg.HTTPAddr, over HTTPS when a certificate is
// configured, and returns its base URL.
func listenAPI(srv *ingest.Server, cfg IngestConfig, log *zap.Logger) (string, error) {
	if cfg.TLSCertFile == "" {
		addr, err := srv.Listen(cfg.HTTPAddr)
		if err != nil {
			return "", err
		}
		return "http://" + addr.String(), nil
	}
	r, err := tlsutil.NewReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log.Named("tls"))
	if err != nil {
		return "", err
	}
	addr, err := srv.ListenTLS(cfg.HTTPAddr, tlsutil.ServerConfig(r))
	if err != nil {
		return "", err
	}
	return "https://" + addr.String(), nil
}

// Transport modes of a database connection, as logged at start.
const (
	modePlaintext  = "plaintext"
	modeFallback   = "TLS if the server offers it, else plaintext"
	modeUnverified = "TLS, server certificate not verified"
	modeCAOnly     = "TLS, CA verified but not the host name"
	modeVerified   = "TLS, certificate and host name verified"
)

// postgresTransport says how a PostgreSQL DSN connects, the way pgx will
// (PGSSLMODE and the other PG* variables included). libpq's and pgx's
// default, sslmode=prefer, falls back to plaintext when the server refuses
// TLS, so an attacker in the path can force plaintext: only verify-full
// protects the password and the data.
func postgresTransport(dsn string) (mode, host string) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "unknown (DSN does not parse)", ""
	}
	host = cfg.Host
	switch {
	case cfg.TLSConfig == nil && len(cfg.Fallbacks) > 0 && cfg.Fallbacks[0].TLSConfig != nil:
		mode = modeFallback // sslmode=allow tries plaintext first
	case cfg.TLSConfig == nil:
		mode = modePlaintext
	case hasPlaintextFallback(cfg):
		mode = modeFallback
	case cfg.TLSConfig.InsecureSkipVerify && cfg.TLSConfig.VerifyPeerCertificate != nil:
		mode = modeCAOnly
	case cfg.TLSConfig.InsecureSkipVerify:
		mode = modeUnverified
	default:
		mode = modeVerified
	}
	return mode, host
}

func hasPlaintextFallback(cfg *pgconn.Config) bool {
	for _, f := range cfg.Fallbacks {
		if f.TLSConfig == nil {
			return true
		}
	}
	return false
}

// clickhouseTransport says how a ClickHouse DSN connects: secure=true turns
// TLS on (verified against the system roots, which SSL_CERT_FILE can
// replace), skip_verify=true turns the verification off.
func clickhouseTransport(dsn string) (mode, host string) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return "unknown (DSN does not parse)", ""
	}
	if len(opts.Addr) > 0 {
		host, _, _ = net.SplitHostPort(opts.Addr[0])
	}
	switch {
	case opts.TLS == nil:
		return modePlaintext, host
	case opts.TLS.InsecureSkipVerify:
		return modeUnverified, host
	default:
		return modeVerified, host
	}
}

// logTransport logs a database connection's mode at start, warning when it
// leaves the machine without verified TLS.
func logTransport(log *zap.Logger, what, mode, host string) {
	fields := []zap.Field{zap.String("transport", mode), zap.String("host", host)}
	if mode == modeVerified || isLocal(host) {
		log.Info(what+" transport", fields...)
		return
	}
	log.Warn(what+" transport is not verified TLS: the password and the data can be read or changed on the network (see README, Transport security)", fields...)
}

// isLocal reports a Unix socket or a loopback host, where TLS buys nothing.
func isLocal(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
