package config

import (
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"url password", "postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"url without password", "postgres://u@h/db", "postgres://u@h/db"},
		{"query password", "postgres://u@h/db?sslmode=disable&password=secret", "postgres://u@h/db?sslmode=disable&password=xxxxx"},
		{"both, and sslpassword", "postgresql://u:secret@h/db?sslpassword=secret&application_name=lrs", "postgresql://u:xxxxx@h/db?sslpassword=xxxxx&application_name=lrs"},
		{"escaped query key", "postgres://h/db?pass%77ord=secret", "postgres://h/db?pass%77ord=xxxxx"},
		{"clickhouse", "clickhouse://lrs:secret@ch:9000/lrs?secure=true", "clickhouse://lrs:xxxxx@ch:9000/lrs?secure=true"},
		{"unparsable url", "postgres://u:se/cr#et@h/db?password=secret", "postgres://xxxxx@h/db?password=xxxxx"},
		{"key=value", "host=db user=lrs password=secret dbname=lrs", "host=db user=lrs password=xxxxx dbname=lrs"},
		{"key = value, quoted", "host=db password = 'sec \\' ret' dbname=lrs", "host=db password = xxxxx dbname=lrs"},
		{"unterminated quote", "password='secret", "password=xxxxx"},
		{"sqlite", "sqlite:./data/lrs.db", "sqlite:./data/lrs.db"},
		{"path with a space", "/var/lib/my lrs.db", "/var/lib/my lrs.db"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactDSN(tt.dsn)
			if got != tt.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("RedactDSN(%q) = %q shows the password", tt.dsn, got)
			}
		})
	}
}
