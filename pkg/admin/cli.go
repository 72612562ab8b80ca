package admin

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// The CLI works on the store directly, like `lrs migrate`: it needs no
// running LRS, and the running instances see its changes within their auth
// cache ttl.

// RunTenants runs `lrs tenants create|list`.
func RunTenants(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: lrs tenants create -id ID [-name NAME] [-voiding-policy P] | lrs tenants list | lrs tenants set -id ID -voiding-policy P | lrs tenants conflicts -id ID [-limit N]")
	}
	switch args[0] {
	case "create":
		var id, name, policy string
		return withService(ctx, "lrs tenants create", args[1:], nil, func(fs *flag.FlagSet) {
			fs.StringVar(&id, "id", "", "tenant id: 1-63 of a-z, 0-9, '.', '_', '-'")
			fs.StringVar(&name, "name", "", "display name (default: the id)")
			fs.StringVar(&policy, "voiding-policy", "", voidingPolicyUsage)
		}, func(s *Service) error {
			t, err := s.CreateTenant(ctx, id, name, policy)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Created tenant %s (%s).\n", t.ID, t.Name)
			return nil
		})
	case "list":
		return withService(ctx, "lrs tenants list", args[1:], nil, nil, func(s *Service) error {
			ts, err := s.ListTenants(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tVOIDING POLICY\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, t.Name, policyOrDefault(t.VoidingPolicy), t.CreatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		})
	case "set":
		var id, policy string
		return withService(ctx, "lrs tenants set", args[1:], nil, func(fs *flag.FlagSet) {
			fs.StringVar(&id, "id", "", "tenant id")
			fs.StringVar(&policy, "voiding-policy", "", voidingPolicyUsage)
		}, func(s *Service) error {
			t, err := s.SetVoidingPolicy(ctx, id, policy)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Tenant %s: voiding policy %s.\n", t.ID, policyOrDefault(t.VoidingPolicy))
			return nil
		})
	case "conflicts":
		var id string
		var limit int
		return withService(ctx, "lrs tenants conflicts", args[1:], nil, func(fs *flag.FlagSet) {
			fs.StringVar(&id, "id", "", "tenant id")
			fs.IntVar(&limit, "limit", 100, "most conflicts listed, newest first (1-1000)")
		}, func(s *Service) error {
			cs, err := s.RecentConflicts(ctx, id, limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DETECTED\tSTATEMENT ID\tREFUSED FINGERPRINT\tSTORED FINGERPRINT")
			for _, c := range cs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Detected.Format(time.RFC3339), c.StatementID, c.Fingerprint, c.StoredFingerprint)
			}
			return w.Flush()
		})
	}
	return fmt.Errorf("lrs tenants %s: unknown command; want create, list, set or conflicts", args[0])
}

const voidingPolicyUsage = "who may void statements in the tenant: authority (their own authority, or a credential with scope all) or tenant (any writer); empty: the deployment's LRS_VOIDING_POLICY"

func policyOrDefault(p string) string {
	if p == "" {
		return "(deployment's)"
	}
	return p
}

// RunCredentials runs `lrs credentials create|list|disable|enable|rotate`.
func RunCredentials(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: lrs credentials create|list|disable|enable|rotate (-h for each)")
	}
	cmd, rest := args[0], args[1:]
	name := "lrs credentials " + cmd
	switch cmd {
	case "create":
		var n NewCredential
		var scopes, authority string
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			fs.StringVar(&n.Tenant, "tenant", "", "tenant of the credential")
			fs.StringVar(&n.Label, "label", "", `what the credential is for, e.g. "Moodle EU-West"`)
			fs.StringVar(&scopes, "scopes", "statements/write,statements/read/mine", "comma-separated xAPI scopes")
			fs.StringVar(&n.Key, "key", "", "key (default: generated)")
			fs.StringVar(&authority, "authority", "", "authority Agent or Group JSON set on its statements (default: an account named after the key)")
			fs.IntVar(&n.RateLimit, "rate-limit", 0, "most requests per second per API instance (0: unlimited)")
		}, func(s *Service) error {
			n.Scopes = config.SplitList(scopes)
			n.Authority = json.RawMessage(authority)
			c, err := s.CreateCredential(ctx, n)
			if err != nil {
				return err
			}
			printSecret(out, "Created credential "+c.Key+" ("+c.Label+") for tenant "+c.Tenant+".", c)
			return nil
		})
	case "list":
		var tenant string
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			fs.StringVar(&tenant, "tenant", "", "only this tenant's credentials (default: every tenant's)")
		}, func(s *Service) error {
			cs, err := s.ListCredentials(ctx, tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KEY\tTENANT\tLABEL\tSCOPES\tSTATUS\tRATE LIMIT")
			for _, c := range cs {
				status := "enabled"
				if c.Disabled {
					status = "disabled"
				}
				if c.PreviousSecretUntil != nil {
					status += ", old secret until " + c.PreviousSecretUntil.Format(time.RFC3339)
				}
				rate := "-"
				if c.RateLimit > 0 {
					rate = fmt.Sprintf("%d/s", c.RateLimit)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Key, c.Tenant, c.Label, strings.Join(c.Scopes, ","), status, rate)
			}
			return w.Flush()
		})
	case "disable", "enable":
		var key string
		return withService(ctx, name, rest, &key, nil, func(s *Service) error {
			c, err := s.SetDisabled(ctx, key, cmd == "disable")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Credential %s (%s) of tenant %s is %sd; running instances apply it within their auth cache ttl.\n", c.Key, c.Label, c.Tenant, cmd)
			return nil
		})
	case "rotate":
		var key string
		var grace time.Duration
		return withService(ctx, name, rest, &key, func(fs *flag.FlagSet) {
			fs.DurationVar(&grace, "grace", 0, "how long the old secret keeps working, e.g. 24h (0: it stops now)")
		}, func(s *Service) error {
			c, err := s.Rotate(ctx, key, grace)
			if err != nil {
				return err
			}
			msg := "Rotated credential " + c.Key + " (" + c.Label + "). The old secret stops working now (within the auth cache ttl)."
			if c.PreviousSecretUntil != nil {
				msg = "Rotated credential " + c.Key + " (" + c.Label + "). The old secret works until " + c.PreviousSecretUntil.Format(time.RFC3339) + "."
			}
			printSecret(out, msg, c)
			return nil
		})
	}
	return fmt.Errorf("lrs credentials %s: unknown command; want create, list, disable, enable or rotate", cmd)
}

func printSecret(out io.Writer, msg string, c Credential) {
	fmt.Fprintf(out, "%s The secret is shown only this once:\n\n  key:    %s\n  secret: %s\n\n", msg, c.Key, c.Secret)
}

// withService parses the command's flags (plus -store-dsn and -migrate,
// with their LRS_* variables) and, when key is not nil, one credential key
// after them; then it opens the store and runs fn.
func withService(ctx context.Context, name string, args []string, key *string, register func(*flag.FlagSet), fn func(*Service) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var dsn string
	var migrate bool
	fs.StringVar(&dsn, "store-dsn", "sqlite:./data/lrs.db", "statement store: postgres://... or sqlite:PATH")
	fs.BoolVar(&migrate, "migrate", true, "apply the store's schema migrations first")
	if register != nil {
		register(fs)
	}
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case key != nil && fs.NArg() != 1:
		return fmt.Errorf("usage: %s [flags] KEY: give exactly one credential key, after the flags", name)
	case key != nil:
		*key = fs.Arg(0)
	case fs.NArg() > 0:
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
	}
	s, err := NewService(st, nil)
	if err != nil {
		return err
	}
	return fn(s)
}
