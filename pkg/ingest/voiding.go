package ingest

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

// VoidingPolicy says which credentials of a tenant may void a statement.
// xAPI leaves it to the LRS; one LMS of a tenant voiding another's records
// is rarely intended, so the default is the statement's own authority.
type VoidingPolicy string

const (
	// VoidByAuthority lets a credential void the statements stored under
	// its own authority; a credential with scope "all" may void any
	// statement of its tenant (an operator correcting records).
	VoidByAuthority VoidingPolicy = "authority"
	// VoidByTenant lets any credential with statements/write void any
	// statement of its tenant (the behaviour before the policy existed).
	VoidByTenant VoidingPolicy = "tenant"
)

func (p VoidingPolicy) validate() error {
	switch p {
	case VoidByAuthority, VoidByTenant:
		return nil
	}
	return fmt.Errorf("voiding policy %q: want %s or %s", p, VoidByAuthority, VoidByTenant)
}

// mayVoid applies the voiding policy to the voiding statements of a
// request: 403 when one targets a stored statement of another authority.
// A target the store does not hold (yet) is let through, as xAPI asks
// (an LRS should not reject a voiding statement for a missing target).
func (s *Server) mayVoid(c *fiber.Ctx, p auth.Principal, prepared []xapi.Prepared) error {
	if s.cfg.VoidingPolicy == VoidByTenant || p.Allows(auth.ScopeAll) {
		return nil
	}
	for i, st := range prepared {
		if st.VoidedID == "" {
			continue
		}
		target, err := s.deps.Store.GetStatement(c.UserContext(), p.Tenant, st.VoidedID, false)
		if errors.Is(err, store.ErrNotFound) {
			// Voided already, or not there: either way nothing to protect
			// (voiding a voided statement changes nothing).
			continue
		}
		if err != nil {
			return fmt.Errorf("voiding check for %s: %w", st.VoidedID, err)
		}
		if !store.HasAuthority(target.JSON, p.Authority) {
			return newError(fiber.StatusForbidden, fmt.Sprintf(
				"statement %d voids %s, which was stored under another authority; only that authority or a credential with scope all may void it", i, st.VoidedID))
		}
	}
	return nil
}
