// Package forwarding sends a tenant's statements on, as the statements topic
// holds them, to other xAPI LRSs and to webhooks: the rules (a filter, a
// target, a start position), their delivery (batches, retries, dead
// letters), and the forwarder that runs them across processes. See
// docs/forwarding.md.
package forwarding

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// ErrInvalid wraps a rule or request that cannot be carried out as given.
var ErrInvalid = errors.New("invalid request")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Filter selects the statements a rule forwards: every condition given
// must hold (none given: every statement of the tenant).
type Filter struct {
	// Verb is a verb IRI.
	Verb string `json:"verb,omitempty"`
	// Activity is the IRI of the Activity that is the statement's object.
	Activity string `json:"activity,omitempty"`
	// ActivityType is the type in the object Activity's definition.
	ActivityType string `json:"activityType,omitempty"`
	// Actor and Authority are an Agent (or identified Group), matched by
	// its inverse functional identifier, also among a Group's members.
	Actor     json.RawMessage `json:"actor,omitempty"`
	Authority json.RawMessage `json:"authority,omitempty"`
	// Registration is a context registration UUID.
	Registration string `json:"registration,omitempty"`
	// Voiding forwards, besides, the voiding statements of the statements
	// the filter selects (and those whose target the store does not hold
	// yet), so that a target can void what it was sent.
	Voiding bool `json:"voiding,omitempty"`
}

// Target is where a rule sends its statements.
type Target struct {
	// Type is TargetXAPI or TargetWebhook.
	Type string `json:"type"`
	// URL is the xAPI endpoint (statements are POSTed to URL/statements),
	// or the webhook's address.
	URL string `json:"url"`
	// Key and Secret are the xAPI target's Basic credentials.
	Key string `json:"key,omitempty"`
	// Secret is the xAPI target's Basic secret, or the webhook's signing
	// secret (generated when the rule is created). Never shown again.
	Secret string `json:"secret,omitempty"`
	// Version is the X-Experience-API-Version sent to an xAPI target.
	Version string `json:"version,omitempty"`
}

// The target types.
const (
	TargetXAPI    = "xapi"
	TargetWebhook = "webhook"
)

// Spec is what an operator gives to create a rule.
type Spec struct {
	Name   string `json:"name"`
	Filter Filter `json:"filter"`
	Target Target `json:"target"`
	// Start is "now" (the default), "beginning" (of the topic's
	// retention) or an RFC 3339 time.
	Start string `json:"start,omitempty"`
}

// Rule is a stored rule as the forwarder and operators see it.
type Rule struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Filter Filter `json:"filter"`
	Target Target `json:"target"`
	// StartAt is where the rule reads from where it has no position yet:
	// its creation, the time given, or the last rewind; absent for the
	// beginning of retention.
	StartAt    *time.Time `json:"startAt,omitempty"`
	Generation int64      `json:"generation"`
	Paused     bool       `json:"paused"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// validate checks the spec and resolves its start at now.
func (s *Spec) validate(now time.Time) (time.Time, error) {
	if !ruleName.MatchString(s.Name) {
		return time.Time{}, invalid("rule name %q: want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", s.Name)
	}
	if err := s.Filter.validate(); err != nil {
		return time.Time{}, err
	}
	if err := s.Target.validate(); err != nil {
		return time.Time{}, err
	}
	return ParseStart(s.Start, now)
}

// ParseStart reads a start position: "now" (or empty) is now, "beginning"
// the zero time, else an RFC 3339 time.
func ParseStart(s string, now time.Time) (time.Time, error) {
	switch s {
	case "", "now":
		return now.UTC(), nil
	case "beginning":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid("start %q: want now, beginning or an RFC 3339 time such as 2026-12-01T00:00:00Z", s)
	}
	return t.UTC(), nil
}

func (f Filter) validate() error {
	for name, v := range map[string]string{"verb": f.Verb, "activity": f.Activity, "activityType": f.ActivityType} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || u.Scheme == "" {
			return invalid("filter %s %q: want an IRI", name, v)
		}
	}
	if f.Registration != "" && !uuidRE.MatchString(f.Registration) {
		return invalid("filter registration %q: want a UUID", f.Registration)
	}
	for name, raw := range map[string]json.RawMessage{"actor": f.Actor, "authority": f.Authority} {
		if len(raw) == 0 {
			continue
		}
		var a agent
		if err := json.Unmarshal(raw, &a); err != nil {
			return invalid("filter %s: %v", name, err)
		}
		if a.ifi() == "" {
			return invalid("filter %s: want an Agent with mbox, mbox_sha1sum, openid or account", name)
		}
	}
	return nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (t *Target) validate() error {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("target url %q: want an http:// or https:// URL", t.URL)
	}
	switch t.Type {
	case TargetXAPI:
		if t.Key == "" || t.Secret == "" {
			return invalid("an xapi target needs the key and secret of a credential of that LRS")
		}
		if t.Version == "" {
			t.Version = "1.0.3"
		}
		if t.Version != "1.0.3" && t.Version != "2.0.0" {
			return invalid("target version %q: want 1.0.3 or 2.0.0", t.Version)
		}
		t.URL = strings.TrimRight(t.URL, "/")
	case TargetWebhook:
		if t.Key != "" || t.Version != "" {
			return invalid("a webhook target takes no key or version")
		}
		if t.Secret != "" {
			return invalid("a webhook target's secret is generated; give none")
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("webhook secret: %w", err)
		}
		t.Secret = hex.EncodeToString(b)
	default:
		return invalid("target type %q: want xapi or webhook", t.Type)
	}
	return nil
}

// fromStore reads a stored rule.
func fromStore(r store.ForwardingRule) (Rule, error) {
	out := Rule{Tenant: r.Tenant, Name: r.Name, Generation: r.Generation, Paused: r.Paused, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if !r.StartAt.IsZero() {
		at := r.StartAt
		out.StartAt = &at
	}
	if err := json.Unmarshal(r.Filter, &out.Filter); err != nil {
		return Rule{}, fmt.Errorf("rule %s/%s: stored filter: %w", r.Tenant, r.Name, err)
	}
	if err := json.Unmarshal(r.Target, &out.Target); err != nil {
		return Rule{}, fmt.Errorf("rule %s/%s: stored target: %w", r.Tenant, r.Name, err)
	}
	return out, nil
}

// shown is the rule without its target's secret.
func (r Rule) shown() Rule {
	r.Target.Secret = ""
	return r
}

func (r Rule) id() string { return r.Tenant + "/" + r.Name }
