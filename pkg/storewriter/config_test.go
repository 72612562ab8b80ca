package storewriter

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
		{name: "defaults", change: func(*Config) {}},
		{name: "no bound on statements per transaction", change: func(c *Config) { c.TxStatements = 0 }},
		{name: "write what is there", change: func(c *Config) { c.MaxBatchWait = 0 }},
		{name: "no group", change: func(c *Config) { c.Group = "" }, want: "store-group is empty"},
		{name: "no records", change: func(c *Config) { c.MaxBatchRecords = 0 }, want: "store-batch-records 0"},
		{name: "no bytes", change: func(c *Config) { c.MaxBatchBytes = 0 }, want: "store-batch-bytes 0"},
		{name: "negative wait", change: func(c *Config) { c.MaxBatchWait = -time.Millisecond }, want: "store-batch-wait -1ms"},
		{name: "no lanes", change: func(c *Config) { c.Lanes = 0 }, want: "store-lanes 0"},
		{name: "negative statements", change: func(c *Config) { c.TxStatements = -1 }, want: "store-tx-statements -1"},
		{name: "negative imported statements", change: func(c *Config) { c.TxImportStatements = -1 }, want: "store-tx-import-statements -1"},
		{name: "no retry", change: func(c *Config) { c.RetryMax = 0 }, want: "store-retry-max 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.RegisterFlags(flag.NewFlagSet("test", flag.ContinueOnError))
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
