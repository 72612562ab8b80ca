package xapiservice

import (
	"context"
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
