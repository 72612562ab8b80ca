package stream

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedBroker is the in-process Kafka of the single-binary mode: kfake
// persisting to a data directory, so acknowledged statements survive a
// restart. It is one node without replication; production uses Kafka.
//
// kfake keeps the records in segment files and an index entry per record
// batch (about 90 bytes) in memory, so its memory grows with the log. The
// log is bounded by bytes per partition (retention bytes) as well as by
// time, which bounds both the disk and that index.
type EmbeddedBroker struct {
	c    *kfake.Cluster
	stop chan struct{}
	done chan struct{}
}

// segmentBytes is small so that retention frees the disk in small steps.
const segmentBytes = 16 << 20

// retentionCheck is how often retention is enforced.
const retentionCheck = 30 * time.Second

// StartEmbeddedBroker listens on 127.0.0.1:port (0 picks a free port) and
// keeps its log in dataDir. syncWrites fsyncs every batch before the
// acknowledgement, at a cost in throughput; without it a crash of the
// machine (not only of the process) can lose the last acknowledged
// batches. retentionBytes bounds each partition's log: the oldest segments
// go first, whether or not the writers have read them (0: unbounded).
func StartEmbeddedBroker(dataDir string, port int, maxRecordBytes int32, syncWrites bool, retentionBytes int64) (*EmbeddedBroker, error) {
	if dataDir == "" {
		return nil, errors.New("embedded broker needs a data directory")
	}
	if retentionBytes < 0 {
		return nil, fmt.Errorf("embedded broker retention bytes %d: want 0 (unbounded) or more", retentionBytes)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	bcfg := map[string]string{"message.max.bytes": fmt.Sprint(maxRecordBytes), "log.segment.bytes": fmt.Sprint(segmentBytes)}
	if retentionBytes > 0 {
		// A broker-wide default, so it applies to topics created before
		// the setting existed too.
		bcfg["log.retention.bytes"] = fmt.Sprint(retentionBytes)
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.DataDir(dataDir),
		kfake.ClusterID("streamlrs-embedded"),
		kfake.BrokerConfigs(bcfg),
	}
	if syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker in %s: %w", cfg.DataDir, err)
	}
	b := &EmbeddedBroker{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	// kfake's own cleaner runs only for topics with a retention setting of
	// their own, and hourly; enforcing it here covers every topic.
	go b.enforceRetention(retentionCheck)
	return b, nil
}

func (b *EmbeddedBroker) enforceRetention(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.c.ApplyRetention()
		}
	}
}

// Addrs are the addresses clients connect to.
func (b *EmbeddedBroker) Addrs() []string { return b.c.ListenAddrs() }

// Close flushes the log to disk and stops the broker.
func (b *EmbeddedBroker) Close() {
	close(b.stop)
	<-b.done
	b.c.Close()
}
