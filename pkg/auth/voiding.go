package auth

import "fmt"

// VoidingPolicy says which credentials of a tenant may void a statement.
// xAPI leaves it to the LRS; one LMS of a tenant voiding another's records
// is rarely intended, so the default is the statement's own authority. A
// deployment sets one (LRS_VOIDING_POLICY) and a tenant may override it.
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

// Validate refuses anything but the two policies.
func (p VoidingPolicy) Validate() error {
	switch p {
	case VoidByAuthority, VoidByTenant:
		return nil
	}
	return fmt.Errorf("voiding policy %q: want %s or %s", p, VoidByAuthority, VoidByTenant)
}
