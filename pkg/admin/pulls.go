package admin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// PullStore is the part of the store that holds the tenants' pull sources
// and how far each pull got.
type PullStore interface {
	PutPullSource(ctx context.Context, p store.PullSource) error
	ListPullSources(ctx context.Context, tenant string) ([]store.PullSource, error)
	DeletePullSource(ctx context.Context, tenant, name string) error
	PullCursor(ctx context.Context, tenant, source string) (time.Time, error)
}

// PullSource is another LRS a tenant pulls from (`lrs pull -store-dsn`),
// as shown to operators: never its secret.
type PullSource struct {
	Tenant   string `json:"tenant"`
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	Key      string `json:"key"`
	Version  string `json:"version"`
	// Interval is how often a long-running `lrs pull` pulls it, as a Go
	// duration ("5m"); "0s": once per run.
	Interval string     `json:"interval"`
	Since    *time.Time `json:"since,omitempty"`
	// Position is where the pull got to: every statement the source stored
	// up to it was delivered; absent before the first pull.
	Position  *time.Time `json:"position,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// NewPullSource is a pull source to add or replace.
type NewPullSource struct {
	Endpoint string `json:"endpoint"`
	Key      string `json:"key"`
	Secret   string `json:"secret"`
	Version  string `json:"version"`
	Interval string `json:"interval"`
	Since    string `json:"since"`
}

// minPullInterval keeps a misconfigured interval from hammering a source.
const minPullInterval = time.Second

// PutPullSource adds the tenant's source name, or replaces it (keeping its
// creation time and its position).
func (s *Service) PutPullSource(ctx context.Context, tenant, name string, n NewPullSource) (PullSource, error) {
	if !tenantID.MatchString(name) {
		return PullSource{}, invalid("pull source name %q: want 1-63 of a-z, 0-9, '.', '_', '-'", name)
	}
	u, err := url.Parse(n.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return PullSource{}, invalid("endpoint %q: want the source LRS's xAPI base URL, http(s)://host/xapi, without credentials in it", n.Endpoint)
	}
	if n.Key == "" || n.Secret == "" {
		return PullSource{}, invalid("a pull source needs the key and secret of a credential of the source LRS")
	}
	if n.Version == "" {
		n.Version = "1.0.3"
	}
	if n.Version != "1.0.3" && n.Version != "2.0.0" {
		return PullSource{}, invalid("version %q: want 1.0.3 or 2.0.0", n.Version)
	}
	var interval time.Duration
	if n.Interval != "" {
		if interval, err = time.ParseDuration(n.Interval); err != nil || interval < 0 || (interval > 0 && interval < minPullInterval) {
			return PullSource{}, invalid("interval %q: want 0 (once per run) or a duration of at least %v, e.g. 5m", n.Interval, minPullInterval)
		}
	}
	var since time.Time
	if n.Since != "" {
		if since, err = time.Parse(time.RFC3339Nano, n.Since); err != nil {
			return PullSource{}, invalid("since %q: want an RFC 3339 time", n.Since)
		}
	}
	now := time.Now().UTC()
	p := store.PullSource{Tenant: tenant, Name: name, Endpoint: strings.TrimSuffix(n.Endpoint, "/"), Key: n.Key, Secret: n.Secret,
		Version: n.Version, Interval: interval, Since: since, CreatedAt: now, UpdatedAt: now}
	existing, err := s.st.ListPullSources(ctx, tenant)
	if err != nil {
		return PullSource{}, err
	}
	for _, e := range existing {
		if e.Name == name {
			p.CreatedAt = e.CreatedAt
		}
	}
	if err := s.st.PutPullSource(ctx, p); err != nil {
		return PullSource{}, err
	}
	return s.pullView(ctx, p)
}

// ListPullSources returns the tenant's sources with their positions.
func (s *Service) ListPullSources(ctx context.Context, tenant string) ([]PullSource, error) {
	if err := s.tenantExists(ctx, tenant); err != nil {
		return nil, err
	}
	all, err := s.st.ListPullSources(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := []PullSource{}
	for _, p := range all {
		v, err := s.pullView(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// DeletePullSource removes a source; its position stays, so adding the
// same endpoint again resumes.
func (s *Service) DeletePullSource(ctx context.Context, tenant, name string) error {
	return s.st.DeletePullSource(ctx, tenant, name)
}

func (s *Service) pullView(ctx context.Context, p store.PullSource) (PullSource, error) {
	v := PullSource{Tenant: p.Tenant, Name: p.Name, Endpoint: p.Endpoint, Key: p.Key, Version: p.Version,
		Interval: p.Interval.String(), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if !p.Since.IsZero() {
		v.Since = &p.Since
	}
	pos, err := s.st.PullCursor(ctx, p.Tenant, p.Endpoint)
	if err != nil {
		return PullSource{}, err
	}
	if !pos.IsZero() {
		v.Position = &pos
	}
	return v, nil
}

// registerPulls adds the pull source routes:
//
//	GET    /tenants/:id/pulls        the tenant's sources, with their positions
//	PUT    /tenants/:id/pulls/:name  add or replace {"endpoint","key","secret","version","interval","since"}
//	DELETE /tenants/:id/pulls/:name  remove
func (a *API) registerPulls(g fiber.Router) {
	g.Get("/tenants/:id/pulls", func(c *fiber.Ctx) error {
		ps, err := a.svc.ListPullSources(c.UserContext(), c.Params("id"))
		return a.answer(c, http.StatusOK, ps, err)
	})
	g.Put("/tenants/:id/pulls/:name", func(c *fiber.Ctx) error {
		var req NewPullSource
		if err := decode(c, &req); err != nil {
			return a.answer(c, 0, nil, err)
		}
		p, err := a.svc.PutPullSource(c.UserContext(), c.Params("id"), c.Params("name"), req)
		if err == nil {
			a.log.Info("pull source set", zap.String("tenant", p.Tenant), zap.String("name", p.Name), zap.String("endpoint", p.Endpoint))
		}
		return a.answer(c, http.StatusOK, p, err)
	})
	g.Delete("/tenants/:id/pulls/:name", func(c *fiber.Ctx) error {
		err := a.svc.DeletePullSource(c.UserContext(), c.Params("id"), c.Params("name"))
		if err == nil {
			return c.SendStatus(http.StatusNoContent)
		}
		return a.answer(c, 0, nil, err)
	})
}

// RunPulls runs `lrs pulls set|list|remove`: the other LRSs a tenant pulls
// from, which `lrs pull -store-dsn` reads.
func RunPulls(ctx context.Context, args []string, out io.Writer) error {
	const usage = "usage: lrs pulls set -tenant ID -name NAME -source URL -source-key KEY [-source-secret S] [-every D] [-since T] | lrs pulls list -tenant ID | lrs pulls remove -tenant ID -name NAME"
	if len(args) == 0 {
		return errors.New(usage)
	}
	var tenant, name string
	common := func(fs *flag.FlagSet, withName bool) {
		fs.StringVar(&tenant, "tenant", "", "tenant id")
		if withName {
			fs.StringVar(&name, "name", "", "the source's name in the tenant: 1-63 of a-z, 0-9, '.', '_', '-'")
		}
	}
	switch args[0] {
	case "set":
		var n NewPullSource
		return withService(ctx, "lrs pulls set", args[1:], nil, func(fs *flag.FlagSet) {
			common(fs, true)
			fs.StringVar(&n.Endpoint, "source", "", "the source LRS's xAPI base URL")
			fs.StringVar(&n.Key, "source-key", "", "a source credential that reads all statements of its tenant")
			fs.StringVar(&n.Secret, "source-secret", "", "its secret (prefer LRS_SOURCE_SECRET: a flag shows in process lists); kept in the store")
			fs.StringVar(&n.Version, "source-version", "1.0.3", "X-Experience-API-Version sent to the source")
			fs.StringVar(&n.Interval, "every", "0s", "how often a long-running lrs pull pulls it (0: once per run)")
			fs.StringVar(&n.Since, "since", "", "RFC 3339 time: the first pull starts after it (default: everything)")
		}, func(s *Service) error {
			p, err := s.PutPullSource(ctx, tenant, name, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Tenant %s pulls %s from %s every %s (0s: once per lrs pull).\n", p.Tenant, p.Name, p.Endpoint, p.Interval)
			return nil
		})
	case "list":
		return withService(ctx, "lrs pulls list", args[1:], nil, func(fs *flag.FlagSet) { common(fs, false) }, func(s *Service) error {
			ps, err := s.ListPullSources(ctx, tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tENDPOINT\tKEY\tEVERY\tPOSITION")
			for _, p := range ps {
				pos := "(not pulled yet)"
				if p.Position != nil {
					pos = p.Position.Format(time.RFC3339Nano)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Endpoint, p.Key, p.Interval, pos)
			}
			return w.Flush()
		})
	case "remove":
		return withService(ctx, "lrs pulls remove", args[1:], nil, func(fs *flag.FlagSet) { common(fs, true) }, func(s *Service) error {
			if err := s.DeletePullSource(ctx, tenant, name); err != nil {
				return err
			}
			fmt.Fprintf(out, "Tenant %s no longer pulls %s.\n", tenant, name)
			return nil
		})
	}
	return fmt.Errorf("lrs pulls %s: unknown command; want set, list or remove", args[0])
}
