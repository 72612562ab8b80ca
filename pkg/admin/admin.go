// Package admin manages tenants and their credentials: the operations
// behind the `lrs tenants` and `lrs credentials` commands and the admin HTTP
// API (guarded by its own token, LRS_ADMIN_TOKEN). Secrets are shown once,
// when a credential is created or rotated, and never stored in clear.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// Store is the part of the statement store that holds tenants and credentials.
type Store interface {
	auth.Admin
	SetTenantVoidingPolicy(ctx context.Context, id, policy string) (store.Tenant, error)
	ListCredentials(ctx context.Context, tenant string) ([]store.Credential, error)
	RecentConflicts(ctx context.Context, tenant string, limit int) ([]store.ConflictRecord, error)
	forwarding.RulesStore
	PullStore
}

var (
	// ErrInvalid wraps a request that cannot be carried out as given (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound and ErrExists are the store's, for callers of this package.
	ErrNotFound = store.ErrNotFound
	ErrExists   = store.ErrExists
)

// Service carries out admin operations on a store.
type Service struct {
	st Store
	// Forwarding manages the tenants' forwarding rules.
	Forwarding *forwarding.Rules
	// Lifecycle erases learners and sets retention; nil where this
	// process cannot publish to the statements topic.
	Lifecycle *lifecycle.Service
	// changed is told the key of every credential that changed, so that
	// the instance serving the change can forget its cached verifications
	// at once; the other instances notice within their cache ttl.
	changed func(key string)
}

// NewService manages st. changed may be nil.
func NewService(st Store, changed func(key string)) (*Service, error) {
	if st == nil {
		return nil, errors.New("admin service needs a store")
	}
	if changed == nil {
		changed = func(string) {}
	}
	rules, err := forwarding.NewRules(st)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, changed: changed, Forwarding: rules}, nil
}

// Tenant is a tenant as shown to operators.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// VoidingPolicy overrides the deployment's LRS_VOIDING_POLICY in the
	// tenant: "authority" or "tenant"; absent when it does not.
	VoidingPolicy string `json:"voidingPolicy,omitempty"`
	// Retention is the longest the tenant keeps statements (a Go duration,
	// e.g. "8760h"); absent when it keeps them for ever.
	Retention string    `json:"retention,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func tenantView(t store.Tenant) Tenant {
	v := Tenant{ID: t.ID, Name: t.Name, VoidingPolicy: t.VoidingPolicy, CreatedAt: t.CreatedAt}
	if t.Retention > 0 {
		v.Retention = t.Retention.String()
	}
	return v
}

// Credential is a credential as shown to operators: never its hash; its
// secret only in the answer that created or rotated it.
type Credential struct {
	Key       string          `json:"key"`
	Secret    string          `json:"secret,omitempty"`
	Tenant    string          `json:"tenant"`
	Label     string          `json:"label"`
	Scopes    []string        `json:"scopes"`
	Authority json.RawMessage `json:"authority"`
	Disabled  bool            `json:"disabled"`
	RateLimit int             `json:"rateLimit"`
	// PreviousSecretUntil is when the secret replaced by a rotation stops
	// working; absent when there is none.
	PreviousSecretUntil *time.Time `json:"previousSecretUntil,omitempty"`
	CreatedAt           time.Time  `json:"createdAt"`
	UpdatedAt           time.Time  `json:"updatedAt"`
}

func view(c store.Credential, now time.Time) Credential {
	v := Credential{Key: c.Key, Tenant: c.Tenant, Label: c.Label, Scopes: c.Scopes, Authority: c.Authority,
		Disabled: c.Disabled, RateLimit: c.RateLimit, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.PreviousSecretHash != "" && now.Before(c.PreviousUntil) {
		until := c.PreviousUntil
		v.PreviousSecretUntil = &until
	}
	return v
}

// tenantID keeps tenant ids safe in URLs, logs, file names and ClickHouse
// partitions.
var tenantID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// credentialKey keeps keys printable and free of the ':' that would break
// HTTP Basic.
var credentialKey = regexp.MustCompile(`^[A-Za-z0-9._~-]{8,128}$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CreateTenant creates a tenant; ErrExists if the id is taken. policy is
// its voiding policy, "" for the deployment's.
func (s *Service) CreateTenant(ctx context.Context, id, name, policy string) (Tenant, error) {
	if !tenantID.MatchString(id) {
		return Tenant{}, invalid("tenant id %q: want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", id)
	}
	if err := validPolicy(policy); err != nil {
		return Tenant{}, err
	}
	if name == "" {
		name = id
	}
	t := store.Tenant{ID: id, Name: name, VoidingPolicy: policy, CreatedAt: time.Now().UTC()}
	if err := s.st.CreateTenant(ctx, t); err != nil {
		return Tenant{}, fmt.Errorf("create tenant %s: %w", id, err)
	}
	return tenantView(t), nil
}

// SetVoidingPolicy sets who may void statements in the tenant: policy is
// "authority", "tenant", or "" for the deployment's LRS_VOIDING_POLICY.
// Every instance applies it from the next voiding request.
func (s *Service) SetVoidingPolicy(ctx context.Context, id, policy string) (Tenant, error) {
	if err := validPolicy(policy); err != nil {
		return Tenant{}, err
	}
	t, err := s.st.SetTenantVoidingPolicy(ctx, id, policy)
	if err != nil {
		return Tenant{}, fmt.Errorf("set voiding policy of tenant %s: %w", id, err)
	}
	return tenantView(t), nil
}

func validPolicy(policy string) error {
	if policy == "" {
		return nil
	}
	if err := auth.VoidingPolicy(policy).Validate(); err != nil {
		return invalid("%v (or empty for the deployment's)", err)
	}
	return nil
}

// ListTenants lists every tenant by id.
func (s *Service) ListTenants(ctx context.Context) ([]Tenant, error) {
	ts, err := s.st.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Tenant, len(ts))
	for i, t := range ts {
		out[i] = tenantView(t)
	}
	return out, nil
}

// Conflict is a statement the store-writer refused (and dead-lettered)
// because its id was stored first with other content: a conflict ingest
// could not answer with 409 (see docs/architecture.md, "Conflicts").
type Conflict struct {
	StatementID       string    `json:"statementId"`
	Fingerprint       string    `json:"fingerprint"`       // of the statement refused
	StoredFingerprint string    `json:"storedFingerprint"` // of the statement kept
	Detected          time.Time `json:"detected"`
}

// RecentConflicts lists a tenant's newest conflicts, at most limit (1-1000).
func (s *Service) RecentConflicts(ctx context.Context, tenant string, limit int) ([]Conflict, error) {
	if limit < 1 || limit > 1000 {
		return nil, invalid("limit %d: want 1-1000", limit)
	}
	if err := s.tenantExists(ctx, tenant); err != nil {
		return nil, err
	}
	cs, err := s.st.RecentConflicts(ctx, tenant, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Conflict, len(cs))
	for i, c := range cs {
		out[i] = Conflict{StatementID: c.ID, Fingerprint: c.Fingerprint, StoredFingerprint: c.StoredFingerprint, Detected: c.Detected.UTC()}
	}
	return out, nil
}

// NewCredential is what an operator gives to create a credential.
type NewCredential struct {
	Tenant string   `json:"tenant"`
	Label  string   `json:"label"`
	Scopes []string `json:"scopes"`
	// Key is generated when empty.
	Key string `json:"key,omitempty"`
	// Authority is the Agent or Group set on the credential's statements;
	// when empty, an account Agent named after the key.
	Authority json.RawMessage `json:"authority,omitempty"`
	RateLimit int             `json:"rateLimit,omitempty"`
}

// CreateCredential creates a credential with a generated secret, returned
// once in the answer. A key that exists is ErrExists, never replaced.
func (s *Service) CreateCredential(ctx context.Context, n NewCredential) (Credential, error) {
	if n.Label == "" {
		return Credential{}, invalid("a credential needs a label naming its client, e.g. \"Moodle EU-West\"")
	}
	if n.Key != "" && !credentialKey.MatchString(n.Key) {
		return Credential{}, invalid("key %q: want 8-128 of A-Z, a-z, 0-9, '.', '_', '~', '-'", n.Key)
	}
	if err := auth.ValidateScopes(n.Scopes); err != nil {
		return Credential{}, invalid("%v", err)
	}
	if len(n.Authority) > 0 {
		if err := auth.ValidateAuthority(n.Authority); err != nil {
			return Credential{}, invalid("%v", err)
		}
	}
	if n.RateLimit < 0 {
		return Credential{}, invalid("rate limit %d: want 0 (none) or more requests per second", n.RateLimit)
	}
	if err := s.tenantExists(ctx, n.Tenant); err != nil {
		return Credential{}, err
	}
	if n.Key != "" {
		_, err := s.st.GetCredential(ctx, n.Key)
		if err == nil {
			return Credential{}, fmt.Errorf("credential %s: %w", n.Key, ErrExists)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return Credential{}, err
		}
	}
	nc, err := auth.CreateCredential(ctx, s.st, auth.CredentialSpec{Tenant: n.Tenant, Label: n.Label, Key: n.Key,
		Scopes: n.Scopes, Authority: n.Authority, RateLimit: n.RateLimit})
	if err != nil {
		return Credential{}, err
	}
	return s.withSecret(ctx, nc)
}

func (s *Service) tenantExists(ctx context.Context, id string) error {
	if id == "" {
		return invalid("no tenant given")
	}
	ts, err := s.st.ListTenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			return nil
		}
	}
	return fmt.Errorf("tenant %s: %w", id, ErrNotFound)
}

func (s *Service) withSecret(ctx context.Context, nc auth.NewCredential) (Credential, error) {
	c, err := s.st.GetCredential(ctx, nc.Key)
	if err != nil {
		return Credential{}, err
	}
	v := view(c, time.Now())
	v.Secret = nc.Secret
	return v, nil
}

// ListCredentials lists the credentials of tenant, or of every tenant when
// tenant is empty.
func (s *Service) ListCredentials(ctx context.Context, tenant string) ([]Credential, error) {
	tenants := []string{tenant}
	if tenant == "" {
		ts, err := s.st.ListTenants(ctx)
		if err != nil {
			return nil, err
		}
		tenants = tenants[:0]
		for _, t := range ts {
			tenants = append(tenants, t.ID)
		}
	} else if err := s.tenantExists(ctx, tenant); err != nil {
		return nil, err
	}
	now := time.Now()
	out := []Credential{}
	for _, t := range tenants {
		cs, err := s.st.ListCredentials(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, view(c, now))
		}
	}
	return out, nil
}

// GetCredential returns one credential.
func (s *Service) GetCredential(ctx context.Context, key string) (Credential, error) {
	c, err := s.st.GetCredential(ctx, key)
	if err != nil {
		return Credential{}, err
	}
	return view(c, time.Now()), nil
}

// SetDisabled disables or re-enables a credential.
func (s *Service) SetDisabled(ctx context.Context, key string, disabled bool) (Credential, error) {
	c, err := auth.SetDisabled(ctx, s.st, key, disabled)
	if err != nil {
		return Credential{}, err
	}
	s.changed(key)
	return view(c, time.Now()), nil
}

// Rotate gives a credential a new secret, returned once; the old one keeps
// working for grace (0: it stops now).
func (s *Service) Rotate(ctx context.Context, key string, grace time.Duration) (Credential, error) {
	if grace < 0 {
		return Credential{}, invalid("grace %v: want 0 or more", grace)
	}
	nc, err := auth.RotateCredential(ctx, s.st, key, grace)
	if err != nil {
		return Credential{}, err
	}
	s.changed(key)
	return s.withSecret(ctx, nc)
}
