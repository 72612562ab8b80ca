package stream

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/testenv"
	"github.com/streamlrs/streamlrs/pkg/tlsutil/tlstest"
)

func TestSecurityValidate(t *testing.T) {
	tests := []struct {
		name  string
		s     Security
		want  string // substring of the error; "" means valid
		proto string
	}{
		{name: "plaintext", proto: "PLAINTEXT"},
		{name: "tls", s: Security{TLS: true, CAFile: "ca.pem"}, proto: "SSL"},
		{name: "scram over tls", s: Security{TLS: true, SASLMechanism: SASLScramSHA512, SASLUser: "u", SASLPassword: "p"}, proto: "SASL_SSL"},
		{name: "scram without tls", s: Security{SASLMechanism: SASLScramSHA256, SASLUser: "u", SASLPassword: "p"}, proto: "SASL_PLAINTEXT"},
		{name: "plain without tls", s: Security{SASLMechanism: SASLPlain, SASLUser: "u", SASLPassword: "p"}, want: "in clear"},
		{name: "unknown mechanism", s: Security{TLS: true, SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: "p"}, want: "GSSAPI"},
		{name: "no password", s: Security{TLS: true, SASLMechanism: SASLPlain, SASLUser: "u"}, want: "needs a user and a password"},
		{name: "password without mechanism", s: Security{SASLPassword: "p"}, want: "no kafka-sasl-mechanism"},
		{name: "ca without tls", s: Security{CAFile: "ca.pem"}, want: "kafka-tls is off"},
		{name: "cert without key", s: Security{TLS: true, CertFile: "c.pem"}, want: "kafka-tls-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if tt.proto != "" && tt.s.Protocol() != tt.proto {
				t.Errorf("protocol %s, want %s", tt.s.Protocol(), tt.proto)
			}
		})
	}
	// The password never reaches the log fields.
	s := Security{TLS: true, SASLMechanism: SASLPlain, SASLUser: "u", SASLPassword: "hunter2-secret"}
	for _, f := range s.LogFields() {
		if strings.Contains(f.String, "hunter2") {
			t.Errorf("log field %s holds the password", f.Key)
		}
	}
}

// ping connects with s and returns the outcome of one metadata request.
func ping(t *testing.T, brokers []string, s Security) error {
	t.Helper()
	opts, err := s.Opts(zap.NewNop())
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	cl, err := NewClient(brokers, zap.NewNop(), append(opts, kgo.RetryTimeout(5*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Ping(ctx, cl)
}

// The real Kafka's SASL_SSL listener with each mechanism, its mTLS listener,
// and every way a client can be refused: each refusal is recognised as one
// (so services fail their start at once) with a reason naming the setting.
func TestSecuredKafka(t *testing.T) {
	k := testenv.KafkaSecured(t)
	stranger := tlstest.NewCA(t, "a CA the broker's certificate is not from")
	sasl := func(mech, pw string) Security {
		return Security{TLS: true, CAFile: k.CAFile, SASLMechanism: mech, SASLUser: k.User, SASLPassword: pw}
	}
	tests := []struct {
		name    string
		brokers []string
		s       Security
		refusal string // "" means the connection works
	}{
		{"PLAIN", k.SASLBrokers, sasl(SASLPlain, k.Password), ""},
		{"SCRAM-SHA-256", k.SASLBrokers, sasl(SASLScramSHA256, k.Password), ""},
		{"SCRAM-SHA-512", k.SASLBrokers, sasl(SASLScramSHA512, k.Password), ""},
		{"mTLS", k.MTLSBrokers, Security{TLS: true, CAFile: k.CAFile, CertFile: k.CertFile, KeyFile: k.KeyFile}, ""},
		{"wrong password", k.SASLBrokers, sasl(SASLScramSHA512, "wrong"), "SASL user or password"},
		{"wrong PLAIN password", k.SASLBrokers, sasl(SASLPlain, "wrong"), "SASL user or password"},
		{"untrusted broker certificate", k.SASLBrokers, Security{TLS: true, CAFile: stranger.CertFile, SASLMechanism: SASLScramSHA256, SASLUser: k.User, SASLPassword: k.Password}, "not trusted"},
		{"no client certificate", k.MTLSBrokers, Security{TLS: true, CAFile: k.CAFile}, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ping(t, tt.brokers, tt.s)
			reason, refused := Refused(err)
			if tt.refusal == "" {
				if err != nil {
					t.Fatalf("ping: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("connected; want a refusal")
			}
			if !refused || !strings.Contains(reason, tt.refusal) {
				t.Fatalf("error %v: refused=%v reason %q, want a refusal mentioning %q", err, refused, reason, tt.refusal)
			}
		})
	}

	// Records go through the secured listener both ways.
	opts, err := sasl(SASLScramSHA512, k.Password).Opts(zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := cluster{brokers: k.SASLBrokers, opts: opts}
	tc := testTopic(t, c)
	publish(t, c, tc, 0, 5)
	col := &collector{ids: map[string]int{}, offsets: map[int32]int64{}}
	stop := runConsumer(t, ConsumerConfig{Brokers: c.brokers, ClientOpts: c.opts, Topic: tc.Name, Group: testenv.UniqueName("g")}, col, nil)
	waitFor(t, "5 statements over SASL_SSL", func() bool { d, _ := col.count(); return d == 5 })
	stop()
}

// The embedded broker answers only this process's password, and keeps its
// files private.
func TestEmbeddedBrokerIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "broker")
	b, err := StartEmbeddedBroker(dir, 0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	tc := testTopic(t, embedded(b))
	publish(t, embedded(b), tc, 0, 3)
	if err := ping(t, b.Addrs(), Security{}); err == nil {
		t.Error("a client without credentials reached the embedded broker")
	}
	wrong := b.Security()
	wrong.SASLPassword = "guessed"
	if err := ping(t, b.Addrs(), wrong); err == nil {
		t.Error("a wrong password reached the embedded broker")
	}
	b.Close()
	// A restart makes a new password; the old one no longer works, the
	// records are still there.
	b2, err := StartEmbeddedBroker(dir, 0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if b2.Security().SASLPassword == b.Security().SASLPassword {
		t.Error("the password is the same across starts")
	}
	end, err := func() (map[int32]int64, error) {
		cl, err := NewClient(b2.Addrs(), zap.NewNop(), b2.ClientOpts()...)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		return EndOffsets(testenv.Context(t, 30*time.Second), cl, tc.Name)
	}()
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	var n int64
	for _, o := range end {
		n += o
	}
	if n != 3 {
		t.Errorf("%d records after a restart, want 3", n)
	}
	b2.Close()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
