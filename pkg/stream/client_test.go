package stream

import (
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/streamlrs/streamlrs/pkg/testenv"
)

// franz-go logs its info (every connection and metadata refresh) only when
// the service logs at debug; warnings and errors reach the log at info.
func TestKafkaLogLevel(t *testing.T) {
	tests := []struct {
		level zapcore.Level
		want  kgo.LogLevel
	}{
		{zapcore.DebugLevel, kgo.LogLevelDebug},
		{zapcore.InfoLevel, kgo.LogLevelWarn},
		{zapcore.WarnLevel, kgo.LogLevelWarn},
		{zapcore.ErrorLevel, kgo.LogLevelError},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			core, _ := observer.New(tt.level)
			if got := kafkaLogLevel(zap.New(core))(); got != tt.want {
				t.Fatalf("kafkaLogLevel at %s = %s, want %s", tt.level, got, tt.want)
			}
		})
	}
}

// TopicEnds answers what the broker's ListEndOffsets answers, as records
// arrive, on both brokers.
func TestTopicEndsFollowTheTopic(t *testing.T) {
	for _, k := range brokerKinds {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t)
			tc := testTopic(t, c)
			cl, err := NewClient(c.brokers, zap.NewNop(), c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ends := NewTopicEnds(cl, tc.Name)
			ctx := testenv.Context(t, 30*time.Second)
			for _, n := range []int{0, 5, 7} {
				publish(t, c, tc, 0, n)
				got, err := ends.Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, tc.Name)
				if err != nil {
					t.Fatal(err)
				}
				want := map[int32]int64{}
				listed.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
				if !maps.Equal(got, want) {
					t.Fatalf("after %d more records: %v, want %v", n, got, want)
				}
			}
		})
	}
}
