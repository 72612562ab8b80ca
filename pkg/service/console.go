package service

import (
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/console"
	"github.com/streamlrs/streamlrs/pkg/ingest"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

// mountConsole serves the operator's console under /console beside the
// admin API (svc, nil when there is none): the admin token is its login.
// kcl is the API's producer client; answers are the API's answers per
// credential (consoleAnswers). The console samples this process's metrics
// until ctx ends.
func mountConsole(ctx context.Context, srv *ingest.Server, svc *admin.Service, st store.Store, kcl *kgo.Client, answers *console.Answers, cfg IngestConfig, e env) error {
	if svc == nil || !cfg.Console.Enabled {
		if svc != nil {
			e.log.Info("console disabled (console=false)")
		}
		return nil
	}
	// The xAPI group answers every path under its prefix.
	if cfg.Prefix == console.Prefix || strings.HasPrefix(cfg.Prefix, console.Prefix+"/") {
		return errors.New("the console needs an xapi-prefix other than " + console.Prefix + " (or console=false)")
	}
	log := e.log.Named("console")
	c, err := console.New(cfg.Console, cfg.AdminToken, console.Deps{
		Admin: svc, Statements: st, Voider: srv.Statements(), Gatherer: e.reg, Answers: answers, Log: log,
		Kafka: console.Kafka{
			Client: kcl, Topic: cfg.Topic, StoreGroup: cfg.StoreGroup,
			Dial: func(opts ...kgo.Opt) (*kgo.Client, error) {
				return stream.NewClient(e.brokers, log, append(opts, e.kafka...)...)
			},
			Applied: func(ctx context.Context) (map[int32]int64, error) {
				return st.AppliedOffsets(ctx, cfg.StoreGroup, cfg.Topic)
			},
		},
	})
	if err != nil {
		return err
	}
	c.Register(srv.OpsApp())
	go c.Run(ctx)
	e.log.Info("console enabled", zap.String("prefix", console.Prefix))
	return nil
}

// consoleAnswers counts the API's answers per credential for the console;
// nil when no console will run.
func consoleAnswers(cfg IngestConfig) *console.Answers {
	if cfg.AdminToken == "" || !cfg.Console.Enabled {
		return nil
	}
	return console.NewAnswers()
}

// answered is the hook the API reports its answers through (a method value
// of a nil *Answers would not be a nil func).
func answered(a *console.Answers) func(tenant, key string, status int) {
	if a == nil {
		return nil
	}
	return a.Answered
}
