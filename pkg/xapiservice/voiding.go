package xapiservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// mayVoid applies the voiding policy (the tenant's, or the deployment's)
// to the voiding statements of a
// request: 403 when one targets a stored statement of another authority.
// A target the store does not hold (yet) is let through, as xAPI asks
// (an LRS should not reject a voiding statement for a missing target).
func (s *Statements) mayVoid(ctx context.Context, p auth.Principal, prepared []xapi.Prepared) error {
	if p.Allows(auth.ScopeAll) || !slices.ContainsFunc(prepared, func(st xapi.Prepared) bool { return st.VoidedID != "" }) {
		return nil
	}
	policy := s.cfg.VoidingPolicy
	t, err := s.store.GetTenant(ctx, p.Tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("voiding policy of tenant %s: %w", p.Tenant, err)
	}
	if t.VoidingPolicy != "" {
		policy = auth.VoidingPolicy(t.VoidingPolicy)
	}
	if policy == auth.VoidByTenant {
		return nil
	}
	for i, st := range prepared {
		if st.VoidedID == "" {
			continue
		}
		target, err := s.store.GetStatement(ctx, p.Tenant, st.VoidedID, false)
		if errors.Is(err, store.ErrNotFound) {
			// Voided already, or not there: either way nothing to protect
			// (voiding a voided statement changes nothing).
			continue
		}
		if err != nil {
			return fmt.Errorf("voiding check for %s: %w", st.VoidedID, err)
		}
		if !store.HasAuthority(target.JSON, p.Authority) {
			return NewError(http.StatusForbidden, fmt.Sprintf(
				"statement %d voids %s, which was stored under another authority; only that authority or a credential with scope all may void it", i, st.VoidedID))
		}
	}
	return nil
}

// Void voids the statement id for p: it accepts a voiding statement whose
// actor is p's authority (the operator's console, for one) and returns the
// voiding statement's id. The usual rules apply: p's scopes, the voiding
// policy, a target the store does not hold yet is let through.
func (s *Statements) Void(ctx context.Context, p auth.Principal, id string) (string, error) {
	if len(p.Authority) == 0 {
		return "", errors.New("void: the principal has no authority to act as")
	}
	body, err := json.Marshal(map[string]any{
		"actor":  p.Authority,
		"verb":   map[string]any{"id": store.VerbVoided, "display": map[string]string{"en-US": "voided"}},
		"object": map[string]string{"objectType": "StatementRef", "id": id},
	})
	if err != nil {
		return "", err
	}
	ids, err := s.Accept(ctx, StatementWrite{Principal: p, Version: xapi.V1_0_3, Statements: body})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}
