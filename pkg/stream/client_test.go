package stream

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
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
