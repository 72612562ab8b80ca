package admin

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/stream"
)

type recordingPublisher struct{ published []stream.Erasure }

func (p *recordingPublisher) Publish(_ context.Context, e stream.Erasure) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	p.published = append(p.published, e)
	return 3, nil
}

type caughtUp struct{}

func (caughtUp) Sync(context.Context) (time.Time, bool, error) { return time.Now(), true, nil }

// lifecycleServer serves the admin API with a lifecycle on a real
// listener, as `lrs erase` and `lrs retention` meet it.
func lifecycleServer(t *testing.T) (string, *recordingPublisher) {
	t.Helper()
	st := openStore(t, sqliteDSN(t))
	svc, err := NewService(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTenant(context.Background(), "t1", "", ""); err != nil {
		t.Fatal(err)
	}
	pub := &recordingPublisher{}
	if svc.Lifecycle, err = lifecycle.New(st, pub, nil, caughtUp{}, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	app := serve(t, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String(), pub
}

func TestEraseAndRetentionCommands(t *testing.T) {
	url, pub := lifecycleServer(t)
	ctx := context.Background()
	base := []string{"-url", url, "-admin-token", testToken, "-tenant", "t1"}
	const ana = `{"mbox":"mailto:ana@example.com"}`
	for _, c := range []struct {
		name      string
		run       func(context.Context, []string, *strings.Builder) error
		args      []string
		want      string // in the output, or in the error with wantErr
		wantErr   bool
		published int // records published so far
	}{
		{"dry run", erase, []string{"-agent", ana, "-dry-run"}, "Dry run: erasing this agent from tenant t1 now would remove 0 statements, 0 attachments and 0 documents", false, 0},
		{"erase", erase, []string{"-agent", ana, "-requested-by", "ticket 7"}, "published (3 copies)", false, 1},
		{"not JSON", erase, []string{"-agent", "ana@example.com"}, "is not JSON", true, 1},
		{"no identifier", erase, []string{"-agent", `{"name":"Ana"}`}, "inverse functional identifier", true, 1},
		{"no agent", erase, nil, "usage: lrs erase", true, 1},
		{"list", eraseList, nil, "ID  ", false, 1},
		{"retention dry run", retention, []string{"-set", "720h", "-dry-run"}, "a retention of 720h0m0s in tenant t1 would remove 0 statements", false, 1},
		{"retention", retention, []string{"-set", "720h"}, "Tenant t1 keeps statements 720h0m0s", false, 2},
		{"retention too short", retention, []string{"-set", "10m"}, "at least 1h0m0s", true, 2},
		{"for ever", retention, []string{"-set", "0"}, "keeps its statements for ever", false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			err := c.run(ctx, append(append([]string{}, base...), c.args...), &out)
			got := out.String()
			if err != nil {
				got = err.Error()
			}
			if (err != nil) != c.wantErr || !strings.Contains(got, c.want) {
				t.Fatalf("got %q (error %v), want %q", got, err, c.want)
			}
			if len(pub.published) != c.published {
				t.Fatalf("%d records published, want %d", len(pub.published), c.published)
			}
		})
	}
	if e := pub.published[0]; e.Tenant != "t1" || string(e.Agent) != ana || e.RequestedBy != "ticket 7" || e.Retention {
		t.Fatalf("erasure published %+v", e)
	}
	if e := pub.published[1]; !e.Retention || e.Before.After(time.Now().Add(-719*time.Hour)) {
		t.Fatalf("retention published %+v", e)
	}
	if err := RunErase(ctx, []string{"-url", url, "-tenant", "t1", "-agent", ana}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "admin token is missing") {
		t.Fatalf("without a token: %v", err)
	}
}

func erase(ctx context.Context, args []string, out *strings.Builder) error {
	return RunErase(ctx, args, out)
}
func eraseList(ctx context.Context, args []string, out *strings.Builder) error {
	return RunErase(ctx, append([]string{"list"}, args...), out)
}
func retention(ctx context.Context, args []string, out *strings.Builder) error {
	return RunRetention(ctx, args, out)
}

// Without a lifecycle (no Kafka producer) the routes answer 503, not 404.
func TestLifecycleRoutesWithoutALifecycle(t *testing.T) {
	app := newTestAPI(t)
	if r := call(t, app, http.MethodPost, "/admin/tenants/default/erasures", `{"agent":{"mbox":"mailto:a@example.com"}}`, testToken); r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST erasures: %d %s", r.status, r.body)
	}
}
