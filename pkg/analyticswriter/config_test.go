package analyticswriter

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // in the error; "" for none
	}{
		{name: "DSN set", change: func(*Config) {}},
		{name: "insert what is there", change: func(c *Config) { c.MaxBatchWait = 0 }},
		{name: "no rollups", change: func(c *Config) { c.RollupInterval = 0 }},
		{name: "no DSN", change: func(c *Config) { c.DSN = "" }, want: "clickhouse-dsn is empty"},
		{name: "no group", change: func(c *Config) { c.Group = "" }, want: "analytics-group is empty"},
		{name: "no records", change: func(c *Config) { c.MaxBatchRecords = 0 }, want: "analytics-batch-records 0"},
		{name: "no bytes", change: func(c *Config) { c.MaxBatchBytes = -1 }, want: "analytics-batch-bytes -1"},
		{name: "negative wait", change: func(c *Config) { c.MaxBatchWait = -time.Second }, want: "analytics-batch-wait -1s"},
		{name: "no retry", change: func(c *Config) { c.RetryMax = 0 }, want: "analytics-retry-max 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.RegisterFlags(flag.NewFlagSet("test", flag.ContinueOnError))
			c.DSN = "clickhouse://127.0.0.1:9000/default"
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want an error with %q", err, tt.want)
			}
		})
	}
}
