package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// Unlike the other commands, erasure and retention go through a running
// LRS's admin API: they are records on the statements topic, which only
// the LRS can publish to (its embedded broker lives in its process).

const lifecycleUsage = "usage: lrs erase -tenant ID -agent JSON [-dry-run] [-requested-by WHO] | lrs erase list -tenant ID | lrs retention -tenant ID -set DURATION [-dry-run] (-h for each)"

// adminClient calls the admin API of a running LRS.
type adminClient struct {
	url, token string
	http       *http.Client
}

func adminFlags(fs *flag.FlagSet, c *adminClient) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the running LRS (its admin API is under /admin)")
	fs.StringVar(&c.token, "admin-token", "", "the LRS's admin token")
}

func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	if c.token == "" {
		return errors.New("the admin token is missing: set -admin-token or LRS_ADMIN_TOKEN")
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+"/admin"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("admin API: %s", e.Error.Message)
		}
		return fmt.Errorf("admin API: %s: %s", resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func parseAdmin(name string, args []string, c *adminClient, register func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	adminFlags(fs, c)
	register(fs)
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	c.http = &http.Client{Timeout: time.Minute}
	return nil
}

// RunErase runs `lrs erase` (erase a learner, or count with -dry-run) and
// `lrs erase list`.
func RunErase(ctx context.Context, args []string, out io.Writer) error {
	var c adminClient
	var tenant string
	if len(args) > 0 && args[0] == "list" {
		var limit int
		if err := parseAdmin("lrs erase list", args[1:], &c, func(fs *flag.FlagSet) {
			fs.StringVar(&tenant, "tenant", "", "tenant id")
			fs.IntVar(&limit, "limit", 100, "most erasures listed, newest first")
		}); err != nil {
			return err
		}
		var l struct{ Erasures []store.ErasureRecord }
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/tenants/%s/erasures?limit=%d", tenant, limit), nil, &l); err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tAPPLIED\tSTATEMENTS\tATTACHMENTS\tDOCUMENTS\tCOPIES\tREQUESTED BY")
		for _, e := range l.Erasures {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.ID, e.Applied.Format(time.RFC3339), e.Statements, e.Attachments, e.Documents, e.Copies, e.RequestedBy)
		}
		return w.Flush()
	}
	var agent, requestedBy string
	var dry bool
	if err := parseAdmin("lrs erase", args, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id")
		fs.StringVar(&agent, "agent", "", `the learner, an Agent or Group JSON with its identifier, e.g. {"mbox":"mailto:ana@example.com"}`)
		fs.StringVar(&requestedBy, "requested-by", "", "who asked, for the record (e.g. a ticket number)")
		fs.BoolVar(&dry, "dry-run", false, "count what would be erased, erase nothing")
	}); err != nil {
		return err
	}
	if tenant == "" || agent == "" {
		return errors.New(lifecycleUsage)
	}
	if !json.Valid([]byte(agent)) {
		return fmt.Errorf("-agent %q is not JSON", agent)
	}
	var e lifecycle.Erasure
	req := map[string]any{"agent": json.RawMessage(agent), "requestedBy": requestedBy, "dryRun": dry}
	if err := c.do(ctx, http.MethodPost, "/tenants/"+tenant+"/erasures", req, &e); err != nil {
		return err
	}
	if dry {
		fmt.Fprintf(out, "Dry run: erasing this agent from tenant %s now would remove %s.\n", tenant, describeCounts(e.Counts))
		return nil
	}
	fmt.Fprintf(out, "Erasure %s published (%d copies): every writer applies it in order; `lrs erase list -tenant %s` shows what the store removed.\n", e.ID, e.Copies, tenant)
	return nil
}

// RunRetention runs `lrs retention`: set a tenant's retention, or count
// what it would remove (-dry-run).
func RunRetention(ctx context.Context, args []string, out io.Writer) error {
	var c adminClient
	var tenant string
	var set time.Duration
	var dry bool
	if err := parseAdmin("lrs retention", args, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant id")
		fs.DurationVar(&set, "set", 0, "keep statements this long (e.g. 8760h); 0: for ever")
		fs.BoolVar(&dry, "dry-run", false, "count what the retention would remove now, change nothing")
	}); err != nil {
		return err
	}
	if tenant == "" {
		return errors.New(lifecycleUsage)
	}
	var r lifecycle.Retention
	if err := c.do(ctx, http.MethodPut, "/tenants/"+tenant+"/retention", map[string]any{"retention": set.String(), "dryRun": dry}, &r); err != nil {
		return err
	}
	switch {
	case dry:
		fmt.Fprintf(out, "Dry run: a retention of %s in tenant %s would remove %s now.\n", r.Retention, tenant, describeCounts(r.Counts))
	case set == 0:
		fmt.Fprintf(out, "Tenant %s keeps its statements for ever.\n", tenant)
	default:
		fmt.Fprintf(out, "Tenant %s keeps statements %s; those stored before %s are being removed.\n", tenant, r.Retention, r.Before.Format(time.RFC3339))
	}
	return nil
}

func describeCounts(c *lifecycle.Counts) string {
	if c == nil {
		return "nothing"
	}
	s := fmt.Sprintf("%d statements, %d attachments and %d documents from the store", c.Store.Statements, c.Store.Attachments, c.Store.Documents)
	if !c.StoreCaughtUp {
		s += " (which had not applied every statement yet)"
	}
	if c.AnalyticsError != "" {
		s += " (ClickHouse could not count: " + c.AnalyticsError + ")"
	}
	if c.Analytics != nil {
		s += fmt.Sprintf(", %d statements from ClickHouse (rollup months to recompute: %v)", c.Analytics.Statements, c.Analytics.Months)
	}
	return s
}
