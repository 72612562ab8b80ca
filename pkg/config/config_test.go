package config

import (
	"flag"
	"testing"
	"time"
)

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantDur time.Duration
		wantErr bool
	}{
		{name: "default", want: "def", wantDur: time.Second},
		{name: "env", env: map[string]string{"LRS_HTTP_ADDR": "env", "LRS_READ_WAIT": "3s"}, want: "env", wantDur: 3 * time.Second},
		{name: "flag wins", args: []string{"-http-addr", "flag"}, env: map[string]string{"LRS_HTTP_ADDR": "env"}, want: "flag", wantDur: time.Second},
		{name: "bad env", env: map[string]string{"LRS_READ_WAIT": "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			addr := fs.String("http-addr", "def", "listen address")
			wait := fs.Duration("read-wait", time.Second, "wait")
			err := Parse(fs, tt.args)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *addr != tt.want || *wait != tt.wantDur {
				t.Fatalf("got %q %v, want %q %v", *addr, *wait, tt.want, tt.wantDur)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	got := SplitList(" a, ,b ,")
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %q", got)
	}
}
