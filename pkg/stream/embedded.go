package stream

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// EmbeddedBroker is the in-process Kafka of the single-binary mode: kfake
// persisting to a data directory, so acknowledged statements survive a
// restart. It is one node without replication, and it keeps its log in
// memory too (bounded by the topic's retention); production uses Kafka.
//
// Its port is on loopback, where any local user could connect: it demands
// SCRAM with a password made for each start and known only to this process,
// so nothing else reads or writes its topics. Its files are for this OS user
// only (directories 0700, files 0600).
type EmbeddedBroker struct {
	c        *kfake.Cluster
	dir      string
	password string
}

// embeddedUser is the embedded broker's only SASL account.
const embeddedUser = "lrs"

// StartEmbeddedBroker listens on 127.0.0.1:port (0 picks a free port) and
// keeps its log in dataDir. syncWrites fsyncs every batch before the
// acknowledgement, at a cost in throughput.
func StartEmbeddedBroker(dataDir string, port int, maxRecordBytes int32, syncWrites bool) (*EmbeddedBroker, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("embedded broker needs a data directory")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	// Data dirs made before the broker was private keep their old modes
	// until tightened.
	if err := tighten(dataDir); err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	// kfake persists SASL users and would load the previous start's
	// password over this one's; the account is made anew at every start.
	if err := os.Remove(filepath.Join(dataDir, "sasl.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	var secret [24]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("embedded broker password: %w", err)
	}
	password := hex.EncodeToString(secret[:])
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.DataDir(dataDir),
		kfake.ClusterID("streamlrs-embedded"),
		kfake.EnableSASL(),
		kfake.Superuser(SASLScramSHA256, embeddedUser, password),
		// Retention is enforced when the log cleaner runs; every 5 minutes
		// instead of kfake's hourly default keeps memory closer to it.
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(maxRecordBytes), "log.cleaner.backoff.ms": "300000"}),
	}
	if syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker in %s: %w", dataDir, err)
	}
	return &EmbeddedBroker{c: c, dir: dataDir, password: password}, nil
}

// tighten makes dir and everything below it private to this OS user. kfake
// creates its files 0644 and its directories 0755; inside a 0700 directory
// nobody else can reach them, and at rest they are 0600 as well.
func tighten(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chmod(path, mode)
	})
}

// Addrs are the addresses clients connect to.
func (b *EmbeddedBroker) Addrs() []string { return b.c.ListenAddrs() }

// Security is what a client of this process needs to connect.
func (b *EmbeddedBroker) Security() Security {
	return Security{SASLMechanism: SASLScramSHA256, SASLUser: embeddedUser, SASLPassword: b.password}
}

// ClientOpts are Security's client options (SCRAM needs no files, so they
// cannot fail to build).
func (b *EmbeddedBroker) ClientOpts() []kgo.Opt {
	opts, _ := b.Security().Opts(zap.NewNop())
	return opts
}

// Close flushes the log to disk and stops the broker.
func (b *EmbeddedBroker) Close() {
	b.c.Close()
	_ = tighten(b.dir) // best effort: the directory itself is already 0700
}
