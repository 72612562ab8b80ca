package service

import (
	"context"
	"errors"
	"flag"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// ForwarderConfig configures lrs-forwarder.
type ForwarderConfig struct {
	writerService
	Store      StoreConfig
	Forwarding forwarding.Config
}

func (c *ForwarderConfig) register(fs *flag.FlagSet) {
	c.writerService.register(fs, "127.0.0.1:8083")
	c.Store.register(fs)
	c.Forwarding.RegisterFlags(fs)
}

func (c ForwarderConfig) validate() error {
	return errors.Join(c.writerService.validate(), c.Store.validate(), c.Forwarding.Validate())
}

// RunForwarder runs the forwarding rules until ctx is cancelled. Like the
// writers, more processes share the topic's partitions (one group).
func RunForwarder(ctx context.Context, args []string) error {
	var cfg ForwarderConfig
	return runWriter(ctx, "lrs-forwarder", args, &cfg, func(ctx context.Context, e env, cl *closers) (runnable, error) {
		st, err := openStore(ctx, cfg.Store.DSN, cfg.Store.Migrate, e)
		if err != nil {
			return nil, err
		}
		cl.add(func() { st.Close() })
		return buildForwarder(ctx, cfg.Common, cfg.Consumer, cfg.Forwarding, st, e, cl)
	})
}

// buildForwarder waits for Kafka (and the topic) and returns the forwarder:
// fc holds its own settings, common and cc the process's.
func buildForwarder(ctx context.Context, common Common, cc ConsumerConfig, fc forwarding.Config, st forwarding.Store, e env, cl *closers) (*forwarding.Forwarder, error) {
	kcl, err := connectKafka(ctx, "kafka-forwarder", common, e)
	if err != nil {
		return nil, err
	}
	cl.add(kcl.Close)
	e.health.Add("kafka-forwarder", func(ctx context.Context) error { return stream.Ping(ctx, kcl) })
	fc.InstanceID, fc.SessionTimeout = cc.InstanceID, cc.SessionTimeout
	log := e.log.Named("forwarder")
	return forwarding.New(fc, common.Topic, st, func(opts ...kgo.Opt) (*kgo.Client, error) {
		return stream.NewClient(e.brokers, log, append(opts, e.kafka...)...)
	}, log, e.reg)
}
