package stream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/tlsutil"
)

// SASL mechanisms a client can authenticate with.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Security is how a client protects its connections to the brokers: TLS
// (with a CA file and an optional client certificate) and SASL. Every
// service, the back-fill and the forwarder take the same settings, so that
// one set of LRS_KAFKA_* variables reaches a secured cluster. The zero value
// is plaintext without authentication, as a local broker wants.
type Security struct {
	TLS bool
	// CAFile, CertFile, KeyFile and ServerName: see tlsutil.ClientOptions.
	CAFile, CertFile, KeyFile, ServerName string
	// SASLMechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism          string
	SASLUser, SASLPassword string
}

// Validate reports settings that cannot work or would leak the password.
func (s Security) Validate() error {
	var errs []error
	if !s.TLS && (s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != "") {
		errs = append(errs, errors.New("kafka TLS files or server name are set but kafka-tls is off"))
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		errs = append(errs, errors.New("kafka client certificate needs both kafka-tls-cert-file and kafka-tls-key-file"))
	}
	switch s.SASLMechanism {
	case "":
		if s.SASLUser != "" || s.SASLPassword != "" {
			errs = append(errs, errors.New("kafka SASL user or password is set but no kafka-sasl-mechanism"))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASLUser == "" || s.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("kafka SASL %s needs a user and a password", s.SASLMechanism))
		}
		// PLAIN sends the password as it is: only inside TLS.
		if s.SASLMechanism == SASLPlain && !s.TLS {
			errs = append(errs, errors.New("kafka SASL PLAIN without TLS would send the password in clear: enable kafka-tls or use SCRAM"))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism))
	}
	return errors.Join(errs...)
}

// Protocol names the settings the way Kafka's security.protocol does.
func (s Security) Protocol() string {
	switch {
	case s.TLS && s.SASLMechanism != "":
		return "SASL_SSL"
	case s.TLS:
		return "SSL"
	case s.SASLMechanism != "":
		return "SASL_PLAINTEXT"
	default:
		return "PLAINTEXT"
	}
}

// LogFields describe the settings for the start-up log, never the password.
func (s Security) LogFields() []zap.Field {
	f := []zap.Field{zap.String("kafka_security", s.Protocol())}
	if s.SASLMechanism != "" {
		f = append(f, zap.String("kafka_sasl", s.SASLMechanism), zap.String("kafka_sasl_user", s.SASLUser))
	}
	if s.TLS {
		ca := s.CAFile
		if ca == "" {
			ca = "system roots"
		}
		f = append(f, zap.String("kafka_tls_ca", ca), zap.Bool("kafka_tls_client_cert", s.CertFile != ""))
	}
	return f
}

// Opts are the client options that apply the settings; files are read now,
// so a missing or bad file fails the start.
func (s Security) Opts(log *zap.Logger) ([]kgo.Opt, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if s.TLS {
		cfg, err := tlsutil.ClientConfig(tlsutil.ClientOptions{CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName}, log)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	var m sasl.Mechanism
	switch s.SASLMechanism {
	case SASLPlain:
		m = plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()
	case SASLScramSHA256:
		m = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()
	case SASLScramSHA512:
		m = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// Refused reports whether err means the brokers refused this client for
// good, and why in words an operator can act on: a wrong user or password,
// a mechanism the broker does not offer, a broker certificate this client
// does not trust (or a client certificate the broker does not), or TLS
// spoken to a port that does not speak it. Waiting changes none of these, so
// a service fails its start at once instead of retrying.
func Refused(err error) (reason string, refused bool) {
	if err == nil {
		return "", false
	}
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		remote    *net.OpError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return "the broker rejected the SASL user or password (LRS_KAFKA_SASL_USER, LRS_KAFKA_SASL_PASSWORD or LRS_KAFKA_SASL_PASSWORD_FILE, LRS_KAFKA_SASL_MECHANISM)", true
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return "the broker does not offer this SASL mechanism on this listener (LRS_KAFKA_SASL_MECHANISM)", true
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid):
		return "the broker's certificate is not trusted: LRS_KAFKA_TLS_CA_FILE must hold the CA that signed it, and it must name the host in LRS_KAFKA_BROKERS (or LRS_KAFKA_TLS_SERVER_NAME)", true
	case errors.As(err, &remote) && remote.Op == "remote error":
		// A TLS alert from the broker: crypto/tls reports it as a
		// "remote error" (with TLS 1.3 only when the first response is read).
		return "the broker refused the TLS handshake: does it require a client certificate (LRS_KAFKA_TLS_CERT_FILE, LRS_KAFKA_TLS_KEY_FILE) signed by a CA it trusts?", true
	case errors.As(err, &record):
		return "the broker's port does not speak TLS (LRS_KAFKA_TLS is set for a plaintext listener?)", true
	}
	return "", false
}
