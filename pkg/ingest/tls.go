package ingest

import (
	"crypto/tls"
	"net"
)

// ListenTLS is Listen serving HTTPS with cfg (tlsutil.ServerConfig, whose
// certificate follows its files).
//
// Behind a TLS-terminating proxy the API needs nothing of it: no response
// carries an absolute URL (the `more` link is a path), and no decision is
// taken on X-Forwarded-For, X-Forwarded-Proto or Forwarded, which the API
// ignores; a client can set them to anything. X-Request-ID is kept as the
// request's id for logs, nothing more.
func (s *Server) ListenTLS(addr string, cfg *tls.Config) (net.Addr, error) {
	return s.listen(addr, cfg)
}
