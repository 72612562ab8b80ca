package admin

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/streamlrs/streamlrs/pkg/config"
	"github.com/streamlrs/streamlrs/pkg/forwarding"
)

const forwardingUsage = "usage: lrs forwarding create|list|show|delete|pause|resume|rewind|dead-letters|resend -tenant ID [-name RULE] (-h for each)"

// RunForwarding runs `lrs forwarding ...`: the tenants' forwarding rules,
// in the store like `lrs tenants`; the forwarders apply a change within
// their rules interval.
func RunForwarding(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(forwardingUsage)
	}
	cmd, rest := args[0], args[1:]
	name := "lrs forwarding " + cmd
	var tenant, rule string
	named := func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant of the rule")
		fs.StringVar(&rule, "name", "", "name of the rule")
	}
	switch cmd {
	case "create":
		var spec forwarding.Spec
		var actor, authority string
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			named(fs)
			fs.StringVar(&spec.Target.Type, "target-type", forwarding.TargetXAPI, "xapi (another LRS) or webhook")
			fs.StringVar(&spec.Target.URL, "target-url", "", "the other LRS's xAPI endpoint (statements go to URL/statements), or the webhook's URL")
			fs.StringVar(&spec.Target.Key, "target-key", "", "xapi: key of a credential of the other LRS")
			fs.StringVar(&spec.Target.Secret, "target-secret", "", "xapi: its secret (set it through LRS_TARGET_SECRET rather than on the command line)")
			fs.StringVar(&spec.Target.Version, "target-version", "", "xapi: X-Experience-API-Version sent (default 1.0.3)")
			fs.StringVar(&spec.Filter.Verb, "verb", "", "only statements with this verb IRI")
			fs.StringVar(&spec.Filter.Activity, "activity", "", "only statements whose object is this Activity IRI")
			fs.StringVar(&spec.Filter.ActivityType, "activity-type", "", "only statements whose object Activity has this type")
			fs.StringVar(&actor, "actor", "", `only statements of this actor, an Agent JSON such as {"mbox":"mailto:ana@example.com"}`)
			fs.StringVar(&authority, "authority", "", "only statements with this authority (Agent JSON), e.g. one credential's")
			fs.StringVar(&spec.Filter.Registration, "registration", "", "only statements of this registration UUID")
			fs.BoolVar(&spec.Filter.Voiding, "voiding", false, "also the voiding statements of the statements selected")
			fs.StringVar(&spec.Start, "start", "now", "where to start: now, beginning (of the topic's retention) or an RFC 3339 time")
		}, func(s *Service) error {
			spec.Name = rule
			spec.Filter.Actor, spec.Filter.Authority = rawOrNil(actor), rawOrNil(authority)
			r, err := s.Forwarding.Create(ctx, tenant, spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Created forwarding rule %s of tenant %s to %s %s.\n", r.Name, r.Tenant, r.Target.Type, r.Target.URL)
			if r.Target.Type == forwarding.TargetWebhook {
				fmt.Fprintf(out, "The webhook's signing secret is shown only this once:\n\n  secret: %s\n\n", r.Target.Secret)
			}
			return nil
		})
	case "list":
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			fs.StringVar(&tenant, "tenant", "", "tenant of the rules")
		}, func(s *Service) error {
			rs, err := s.Forwarding.List(ctx, tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTARGET\tSTATE\tLAG RECORDS\tLAG SECONDS\tDELIVERED\tFAILED\tDEAD LETTERS\tLAST ERROR")
			for _, r := range rs {
				state := "running"
				if r.Paused {
					state = "paused"
				}
				fmt.Fprintf(w, "%s\t%s %s\t%s\t%d\t%.1f\t%d\t%d\t%d\t%s\n", r.Name, r.Target.Type, r.Target.URL, state, r.LagRecords, r.LagSeconds, r.Delivered, r.Failed, r.DeadLetters, r.LastError)
			}
			return w.Flush()
		})
	case "show":
		return withService(ctx, name, rest, nil, named, func(s *Service) error {
			r, err := s.Forwarding.Get(ctx, tenant, rule)
			if err != nil {
				return err
			}
			return printJSON(out, r)
		})
	case "delete":
		return withService(ctx, name, rest, nil, named, func(s *Service) error {
			if err := s.Forwarding.Delete(ctx, tenant, rule); err != nil {
				return err
			}
			fmt.Fprintf(out, "Deleted forwarding rule %s of tenant %s.\n", rule, tenant)
			return nil
		})
	case "pause", "resume":
		return withService(ctx, name, rest, nil, named, func(s *Service) error {
			r, err := s.Forwarding.SetPaused(ctx, tenant, rule, cmd == "pause")
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Forwarding rule %s of tenant %s: %sd.\n", r.Name, r.Tenant, cmd)
			return nil
		})
	case "rewind":
		var to string
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			named(fs)
			fs.StringVar(&to, "to", "", "deliver again from this RFC 3339 time, or from the beginning of the topic's retention (beginning)")
		}, func(s *Service) error {
			r, err := s.Forwarding.Rewind(ctx, tenant, rule, to)
			if err != nil {
				return err
			}
			from := "the beginning of retention"
			if r.StartAt != nil {
				from = r.StartAt.Format(time.RFC3339)
			}
			fmt.Fprintf(out, "Forwarding rule %s of tenant %s delivers again from %s.\n", r.Name, r.Tenant, from)
			return nil
		})
	case "dead-letters":
		var after int64
		var limit int
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			named(fs)
			fs.Int64Var(&after, "after", 0, "list those after this id")
			fs.IntVar(&limit, "limit", 100, fmt.Sprintf("most listed (1-%d)", forwarding.MaxDeadLettersListed))
		}, func(s *Service) error {
			ds, err := s.Forwarding.DeadLetters(ctx, tenant, rule, after, limit)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tCREATED\tSTATEMENT ID\tSTATUS\tRESEND\tANSWER")
			for _, d := range ds {
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%t\t%s\n", d.ID, d.CreatedAt.Format(time.RFC3339), d.StatementID, d.Status, d.Resend, d.Answer)
			}
			return w.Flush()
		})
	case "resend":
		var ids string
		return withService(ctx, name, rest, nil, func(fs *flag.FlagSet) {
			named(fs)
			fs.StringVar(&ids, "ids", "", "comma-separated dead letter ids (default: every one of the rule)")
		}, func(s *Service) error {
			var list []int64
			for _, v := range config.SplitList(ids) {
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("%s: -ids: %q is not a dead letter id", name, v)
				}
				list = append(list, id)
			}
			n, err := s.Forwarding.Resend(ctx, tenant, rule, list)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d dead letters of rule %s will be sent again.\n", n, rule)
			return nil
		})
	}
	return fmt.Errorf("%s: unknown command; %s", name, forwardingUsage)
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func printJSON(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}
