package stream

import (
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedBroker is the in-process Kafka of the single-binary mode: kfake
// persisting to a data directory, so acknowledged statements survive a
// restart. It is one node without replication, and it keeps its log in
// memory too (bounded by the topic's retention); production uses Kafka.
type EmbeddedBroker struct {
	c *kfake.Cluster
}

// StartEmbeddedBroker listens on 127.0.0.1:port (0 picks a free port) and
// keeps its log in dataDir. syncWrites fsyncs every batch before the
// acknowledgement, at a cost in throughput.
func StartEmbeddedBroker(dataDir string, port int, maxRecordBytes int32, syncWrites bool) (*EmbeddedBroker, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("embedded broker needs a data directory")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.DataDir(dataDir),
		kfake.ClusterID("streamlrs-embedded"),
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
	return &EmbeddedBroker{c: c}, nil
}

// Addrs are the addresses clients connect to.
func (b *EmbeddedBroker) Addrs() []string { return b.c.ListenAddrs() }

// Close flushes the log to disk and stops the broker.
func (b *EmbeddedBroker) Close() { b.c.Close() }
