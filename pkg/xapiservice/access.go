package xapiservice

import (
	"net/http"
	"strings"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// RequireScope answers 403 unless p holds one of scopes.
func RequireScope(p auth.Principal, scopes ...string) error {
	for _, sc := range scopes {
		if p.Allows(sc) {
			return nil
		}
	}
	return NewError(http.StatusForbidden, "credential "+p.Key+" lacks scope "+strings.Join(scopes, " or "))
}

// mayRead reports whether p may see st, fetched by statementId or
// voidedStatementId: a statements/read/mine caller sees only its own, and
// should be told that another's does not exist (404), as for any tenant's.
func mayRead(p auth.Principal, st store.Statement) bool {
	return !p.ReadsOnlyOwn() || store.HasAuthority(st.JSON, p.Authority)
}

// restrictToOwn limits a statement listing to what p may read: with only
// statements/read/mine, the statements whose authority is its own. The
// store then also refuses a `more` cursor that lacks that limit.
func restrictToOwn(p auth.Principal, q *store.Query) {
	if p.ReadsOnlyOwn() {
		q.Authority = string(p.Authority)
	}
}
