// Package service wires the LRS components into runnable services: the
// ingest API, the store-writer and the analytics-writer, separately
// (services/ingest, services/store-writer, services/analytics-writer) or all
// in one process with an embedded broker (services/lrs). The mains only
// parse flags and call Run.
package service

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/streamlrs/streamlrs/pkg/analyticswriter"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/conflict"
	"github.com/streamlrs/streamlrs/pkg/console"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/storewriter"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// Common settings of every service.
type Common struct {
	LogFormat, LogLevel string
	Brokers             string
	Topic               string
	Partitions          int
	ReplicationFactor   int
	MaxRecordBytes      int
	ShutdownTimeout     time.Duration
	CreateTopics        bool
	Retention           time.Duration
	PprofAddr           string
	Kafka               KafkaSecurity
}

func (c *Common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.Brokers, "kafka-brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	fs.StringVar(&c.Topic, "kafka-topic", "xapi.statements", "statements topic (the dead-letter topic is <topic>.dlq)")
	fs.IntVar(&c.Partitions, "kafka-partitions", 6, "partitions when the topics are created (lrs with its embedded broker: 1, the only value it takes)")
	fs.IntVar(&c.ReplicationFactor, "kafka-replication-factor", 1, "replication factor when the topics are created")
	fs.IntVar(&c.MaxRecordBytes, "kafka-max-record-bytes", 16<<20, "largest record (one request's statements) the topic accepts")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	fs.BoolVar(&c.CreateTopics, "kafka-create-topics", true, "create the topics at start when missing")
	fs.DurationVar(&c.Retention, "kafka-retention", 0, "retention of the topics when a service creates them (0: the broker's default; lrs with its embedded broker: 72h)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: off)")
	c.Kafka.register(fs)
}

// KafkaSecurity is the TLS and SASL settings towards Kafka, the same flags
// in every command that talks to the brokers.
type KafkaSecurity struct {
	stream.Security
	// PasswordFile holds the SASL password (Docker and Kubernetes secrets);
	// it wins over the password setting.
	PasswordFile string
}

func (k *KafkaSecurity) register(fs *flag.FlagSet) {
	fs.BoolVar(&k.TLS, "kafka-tls", false, "connect to Kafka over TLS")
	fs.StringVar(&k.CAFile, "kafka-tls-ca-file", "", "PEM file of the CAs trusted for the brokers' certificates (default: the system's roots)")
	fs.StringVar(&k.CertFile, "kafka-tls-cert-file", "", "client certificate (PEM) for brokers that require one (mTLS)")
	fs.StringVar(&k.KeyFile, "kafka-tls-key-file", "", "key (PEM) of the client certificate")
	fs.StringVar(&k.ServerName, "kafka-tls-server-name", "", "name expected in the brokers' certificates (default: the host in kafka-brokers)")
	fs.StringVar(&k.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: no SASL)")
	fs.StringVar(&k.SASLUser, "kafka-sasl-user", "", "SASL user")
	// The password itself has no default to show, and a flag would put it
	// in the process list: the help says to use the variable or the file.
	fs.StringVar(&k.SASLPassword, "kafka-sasl-password", "", "SASL password; set it through the environment or kafka-sasl-password-file, not on the command line")
	fs.StringVar(&k.PasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password (trailing newline ignored)")
}

// resolve reads the password file and returns the settings to connect with.
func (k KafkaSecurity) resolve() (stream.Security, error) {
	s := k.Security
	s.SASLMechanism = strings.ToUpper(strings.TrimSpace(s.SASLMechanism))
	if k.PasswordFile != "" {
		b, err := os.ReadFile(k.PasswordFile)
		if err != nil {
			return s, fmt.Errorf("kafka-sasl-password-file: %w", err)
		}
		s.SASLPassword = strings.TrimRight(string(b), "\r\n")
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

func (c Common) topic() stream.TopicConfig {
	return stream.TopicConfig{Name: c.Topic, Partitions: int32(c.Partitions), ReplicationFactor: int16(c.ReplicationFactor), MaxRecordBytes: int32(c.MaxRecordBytes), Retention: c.Retention}
}

func (c Common) validate() error {
	var errs []error
	if len(config.SplitList(c.Brokers)) == 0 {
		errs = append(errs, errors.New("kafka-brokers is empty"))
	}
	if err := c.topic().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown-timeout must be positive"))
	}
	if _, err := c.Kafka.resolve(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// IngestConfig configures the xAPI HTTP API.
type IngestConfig struct {
	Common
	HTTPAddr string
	Prefix   string
	// StoreGroup is the store-writer's consumer group, whose applied
	// offsets read-your-writes follows (storewriter.Config.Group).
	StoreGroup         string
	BodyLimit          int
	MaxBatchStatements int
	ReadWait           time.Duration
	EndOffsetClients   int
	ProducerGroup      bool
	Conflict           conflict.Config
	PublishTimeout     time.Duration
	AuthCacheTTL       time.Duration
	BootstrapKey       string
	BootstrapSecret    string
	Linger             time.Duration
	DefaultVersion     string
	AdminToken         string
	CORSOrigins        string
	OpsAddr            string
	VoidingPolicy      string
	MaxBacklogBytes    int64
	TLSCertFile        string
	TLSKeyFile         string
	Console            console.Config
	Lifecycle          lifecycle.Config
	// soleProducer: the single binary's embedded broker has a credential
	// no other process knows, so it publishes every record by construction.
	soleProducer bool
}

// register adds the API's settings and the process's Common ones; the
// store's and the store-writer's group are registered by the binary, since
// lrs shares them with its store-writer.
func (c *IngestConfig) register(fs *flag.FlagSet) {
	c.Common.register(fs)
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "listen address of the xAPI API (also /metrics, /healthz, /readyz)")
	fs.StringVar(&c.Prefix, "xapi-prefix", "/xapi", "path prefix of the xAPI resources")
	fs.IntVar(&c.BodyLimit, "max-body-bytes", 10<<20, "largest request body; larger requests get 413")
	fs.IntVar(&c.MaxBatchStatements, "max-batch-statements", 1000, "most statements in one POST; more get 413")
	fs.DurationVar(&c.ReadWait, "read-wait", 2*time.Second, "how long a GET waits for the store to apply what the topic holds")
	fs.IntVar(&c.EndOffsetClients, "end-offset-clients", 1, "Kafka clients asking for the topic's end offsets, which every GET and every client-chosen id waits for; with more, a caller starts a round on an idle one instead of waiting for the round in flight (one connection each; see docs/performance.md)")
	fs.BoolVar(&c.ProducerGroup, "producer-group", true, "join the topic's producer group before publishing, so that an ingest that finds itself the only member checks client-chosen ids without a broker round trip; turn off while ingests of a release before it still publish to the topic")
	c.Conflict.RegisterFlags(fs)
	fs.DurationVar(&c.PublishTimeout, "publish-timeout", 10*time.Second, "how long a POST waits for the broker's acknowledgement (503 after)")
	fs.DurationVar(&c.AuthCacheTTL, "auth-cache-ttl", 10*time.Second, "how long a verified credential is trusted before it is re-read")
	fs.StringVar(&c.BootstrapKey, "bootstrap-key", "", "key of the first credential (default: generated and printed once)")
	fs.StringVar(&c.BootstrapSecret, "bootstrap-secret", "", "secret of the first credential")
	fs.StringVar(&c.DefaultVersion, "xapi-default-version", "2.0.0", "xAPI version stated in responses to requests that name none (1.0.3 or 2.0.0)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token of the admin API under /admin (tenants, credentials); unset: no admin API")
	fs.DurationVar(&c.Linger, "kafka-linger", 2*time.Millisecond, "how long the producer waits to batch records")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "*", "browser origins allowed to call the xAPI resources, comma-separated (https://lms.example.com), or * for any")
	fs.StringVar(&c.OpsAddr, "ops-addr", "", "listen address of /metrics and the admin API when they must not share the xAPI listener (unset: served beside the xAPI)")
	fs.Int64Var(&c.MaxBacklogBytes, "max-backlog-bytes", 0, "answer writes 503 while the store has not applied this many bytes of one partition of the topic (0: no bound; lrs with its embedded broker: half of -broker-retention-bytes), so that a topic bounded by bytes never deletes records the store-writer has not read")
	fs.StringVar(&c.VoidingPolicy, "voiding-policy", string(auth.VoidByAuthority), "who may void a statement: authority (its own authority, or a credential with scope all) or tenant (any writer of the tenant)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "serve the API over HTTPS with this certificate (PEM, chain included); reloaded when the file changes")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "key (PEM) of tls-cert-file")
	c.Console.RegisterFlags(fs)
	c.Lifecycle.RegisterFlags(fs)
}

func (c IngestConfig) validate() error {
	var errs []error
	if c.ReadWait < 0 || c.AuthCacheTTL <= 0 || c.PublishTimeout <= 0 {
		errs = append(errs, errors.New("read-wait, auth-cache-ttl and publish-timeout must be positive"))
	}
	if c.EndOffsetClients < 1 {
		errs = append(errs, errors.New("end-offset-clients must be at least 1"))
	}
	if err := c.Conflict.Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.BootstrapKey == "") != (c.BootstrapSecret == "") {
		errs = append(errs, errors.New("bootstrap-key and bootstrap-secret must be set together"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls-cert-file and tls-key-file must be set together"))
	}
	if err := c.Console.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Lifecycle.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// StoreConfig is the statement store's settings, registered once per binary:
// in lrs the API and the store-writer share the store.
type StoreConfig struct {
	DSN     string
	Migrate bool
}

func (c *StoreConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.DSN, "store-dsn", "sqlite:./data/lrs.db", "statement store: postgres://... or sqlite:PATH")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply the store's schema migrations at start")
}

func (c StoreConfig) validate() error {
	if c.DSN == "" {
		return errors.New("store-dsn is empty")
	}
	return nil
}

// ConsumerConfig is how every consumer group of a process joins its group
// and reports a stall: one setting for both writers when lrs runs them.
type ConsumerConfig struct {
	InstanceID     string
	SessionTimeout time.Duration
	StallTimeout   time.Duration
}

func (c *ConsumerConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.InstanceID, "kafka-instance-id", "", "static group membership id, unique per process (a restart then resumes at once)")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", 45*time.Second, "how long the group waits for a silent member before giving its partitions to the others")
	fs.DurationVar(&c.StallTimeout, "stall-timeout", time.Minute, "how long lag may stand without progress before /readyz reports the writer stalled")
}

func (c ConsumerConfig) validate() error {
	if c.SessionTimeout < 0 || c.StallTimeout < 0 {
		return errors.New("kafka-session-timeout and stall-timeout must not be negative")
	}
	return nil
}

// IngestServiceConfig configures lrs-ingest.
type IngestServiceConfig struct {
	Ingest IngestConfig
	Store  StoreConfig
	// ClickHouseDSN, optional, lets erasure and retention dry runs count
	// in ClickHouse too; ingest never writes there.
	ClickHouseDSN string
}

func (c *IngestServiceConfig) register(fs *flag.FlagSet) {
	c.Ingest.register(fs)
	c.Store.register(fs)
	storewriter.RegisterGroupFlag(fs, &c.Ingest.StoreGroup)
	fs.StringVar(&c.ClickHouseDSN, "clickhouse-dsn", "", "ClickHouse native DSN, only for the counts of erasure and retention dry runs (optional; a read-only user will do)")
}

func (c IngestServiceConfig) validate() error {
	var errs []error
	if c.Ingest.StoreGroup == "" {
		errs = append(errs, errors.New("store-group is empty"))
	}
	return errors.Join(append(errs, c.Ingest.Common.validate(), c.Ingest.validate(), c.Store.validate())...)
}

// writerService is what the two consumer services have in common: the
// process's settings, the admin endpoints and the group membership.
type writerService struct {
	Common
	HTTPAddr string
	Consumer ConsumerConfig
}

func (c *writerService) register(fs *flag.FlagSet, httpAddr string) {
	c.Common.register(fs)
	fs.StringVar(&c.HTTPAddr, "http-addr", httpAddr, "listen address of /metrics, /healthz, /readyz")
	c.Consumer.register(fs)
}

func (c writerService) validate() error {
	return errors.Join(c.Common.validate(), c.Consumer.validate())
}

// StoreWriterConfig configures lrs-store-writer.
type StoreWriterConfig struct {
	writerService
	Store  StoreConfig
	Writer storewriter.Config
}

func (c *StoreWriterConfig) register(fs *flag.FlagSet) {
	c.writerService.register(fs, "127.0.0.1:8081")
	c.Store.register(fs)
	c.Writer.RegisterFlags(fs)
}

func (c StoreWriterConfig) validate() error {
	return errors.Join(c.writerService.validate(), c.Store.validate(), c.Writer.Validate())
}

// AnalyticsWriterConfig configures lrs-analytics-writer.
type AnalyticsWriterConfig struct {
	writerService
	Writer analyticswriter.Config
}

func (c *AnalyticsWriterConfig) register(fs *flag.FlagSet) {
	c.writerService.register(fs, "127.0.0.1:8082")
	c.Writer.RegisterFlags(fs)
}

func (c AnalyticsWriterConfig) validate() error {
	return errors.Join(c.writerService.validate(), c.Writer.Validate())
}
