package service

import (
	"net/http"
	"testing"

	"github.com/streamlrs/streamlrs/pkg/admin"
)

// A credential disabled through the admin API stops working on that
// instance at once, however long the auth cache ttl.
func TestAdminDisableAppliesAtOnceOnItsInstance(t *testing.T) {
	addr, _ := startLRS(t, t.TempDir(), "-admin-token", testAdminToken, "-auth-cache-ttl", "1h")
	adm := adminClient{t: t, base: "http://" + addr + "/admin"}
	adm.do(http.MethodPost, "/tenants", map[string]string{"id": "acme", "name": "Acme"}, http.StatusCreated, nil)
	lms, cred := adm.credential(addr, admin.NewCredential{Tenant: "acme", Label: "LMS", Scopes: []string{"statements/write", "statements/read"}})
	if r := lms.get(""); r.status != http.StatusOK {
		t.Fatalf("before disabling: %d %s", r.status, r.body)
	}
	adm.do(http.MethodPost, "/credentials/"+cred.Key+"/disable", nil, http.StatusOK, nil)
	if r := lms.get(""); r.status != http.StatusUnauthorized {
		t.Fatalf("right after disabling through the admin API: %d, want 401", r.status)
	}
}
