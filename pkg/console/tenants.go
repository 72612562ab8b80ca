package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/store"
)

func (c *Console) tenants(ctx *fiber.Ctx) error {
	ts, err := c.d.Admin.ListTenants(ctx.UserContext())
	if err != nil {
		return c.failErr(ctx, err)
	}
	return c.render(ctx, http.StatusOK, "tenants", page{Title: "Tenants", Nav: "tenants", Data: ts})
}

func (c *Console) createTenant(ctx *fiber.Ctx) error {
	t, err := c.d.Admin.CreateTenant(ctx.UserContext(), strings.TrimSpace(ctx.FormValue("id")), strings.TrimSpace(ctx.FormValue("name")), ctx.FormValue("voidingPolicy"))
	if err != nil {
		return c.failErr(ctx, err)
	}
	c.log.Info("tenant created in the console", zap.String("tenant", t.ID))
	return ctx.Redirect(Prefix+"/t/"+t.ID, http.StatusSeeOther)
}

// credentialRow is a credential with when it last sent a statement.
type credentialRow struct {
	admin.Credential
	LastStatement time.Time
}

type tenantData struct {
	Tenant      admin.Tenant
	Credentials []credentialRow
	Scopes      []string
}

func (c *Console) findTenant(ctx *fiber.Ctx) (admin.Tenant, error) {
	ts, err := c.d.Admin.ListTenants(ctx.UserContext())
	if err != nil {
		return admin.Tenant{}, err
	}
	id := ctx.Params("tenant")
	for _, t := range ts {
		if t.ID == id {
			return t, nil
		}
	}
	return admin.Tenant{}, &notFound{"tenant " + id}
}

type notFound struct{ what string }

func (e *notFound) Error() string { return e.what + ": not found" }
func (e *notFound) Unwrap() error { return admin.ErrNotFound }

func (c *Console) tenant(ctx *fiber.Ctx) error {
	t, err := c.findTenant(ctx)
	if err != nil {
		return c.failErr(ctx, err)
	}
	creds, err := c.d.Admin.ListCredentials(ctx.UserContext(), t.ID)
	if err != nil {
		return c.failErr(ctx, err)
	}
	rows := make([]credentialRow, len(creds))
	for i, cr := range creds {
		rows[i] = credentialRow{Credential: cr}
		if rows[i].LastStatement, err = c.lastStatement(ctx, cr); err != nil {
			return c.failErr(ctx, err)
		}
	}
	return c.render(ctx, http.StatusOK, "tenant", page{Title: "Tenant " + t.ID, Nav: "tenants", Tenant: t.ID,
		Data: tenantData{Tenant: t, Credentials: rows, Scopes: auth.Scopes}})
}

// lastStatement is when the credential's newest statement was stored (the
// statements it sent carry its authority); zero when it sent none.
func (c *Console) lastStatement(ctx *fiber.Ctx, cr admin.Credential) (time.Time, error) {
	p, err := c.d.Statements.QueryStatements(ctx.UserContext(), store.Query{Tenant: cr.Tenant, Authority: string(cr.Authority), Limit: 1})
	if err != nil || len(p.Statements) == 0 {
		return time.Time{}, err
	}
	return p.Statements[0].Stored, nil
}

// secretData is the page that shows a secret, once.
type secretData struct {
	Credential admin.Credential
	Rotated    bool
}

func (c *Console) createCredential(ctx *fiber.Ctx) error {
	var scopes []string
	for _, s := range auth.Scopes {
		if ctx.FormValue("scope-"+s) != "" {
			scopes = append(scopes, s)
		}
	}
	rate := 0
	if v := strings.TrimSpace(ctx.FormValue("rateLimit")); v != "" {
		var err error
		if rate, err = strconv.Atoi(v); err != nil {
			return c.fail(ctx, http.StatusBadRequest, "rate limit "+strconv.Quote(v)+": want a whole number of requests per second (0: none)")
		}
	}
	n := admin.NewCredential{Tenant: ctx.Params("tenant"), Label: strings.TrimSpace(ctx.FormValue("label")), Scopes: scopes,
		Key: strings.TrimSpace(ctx.FormValue("key")), RateLimit: rate}
	cr, err := c.d.Admin.CreateCredential(ctx.UserContext(), n)
	if err != nil {
		return c.failErr(ctx, err)
	}
	c.log.Info("credential created in the console", zap.String("key", cr.Key), zap.String("tenant", cr.Tenant), zap.String("label", cr.Label))
	return c.render(ctx, http.StatusCreated, "secret", page{Title: "Credential created", Nav: "tenants", Tenant: cr.Tenant, Data: secretData{Credential: cr}})
}

func (c *Console) setDisabled(disabled bool) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		cr, err := c.d.Admin.SetDisabled(ctx.UserContext(), ctx.Params("key"), disabled)
		if err != nil {
			return c.failErr(ctx, err)
		}
		c.log.Info("credential changed in the console", zap.String("key", cr.Key), zap.Bool("disabled", disabled))
		return ctx.Redirect(Prefix+"/t/"+cr.Tenant, http.StatusSeeOther)
	}
}

func (c *Console) rotate(ctx *fiber.Ctx) error {
	g := strings.TrimSpace(ctx.FormValue("grace"))
	var grace time.Duration
	if g != "" {
		var err error
		if grace, err = time.ParseDuration(g); err != nil {
			return c.fail(ctx, http.StatusBadRequest, "grace "+strconv.Quote(g)+": want a duration like 24h or 30m (0: the old secret stops now)")
		}
	}
	cr, err := c.d.Admin.Rotate(ctx.UserContext(), ctx.Params("key"), grace)
	if err != nil {
		return c.failErr(ctx, err)
	}
	c.log.Info("credential rotated in the console", zap.String("key", cr.Key), zap.Duration("grace", grace))
	return c.render(ctx, http.StatusOK, "secret", page{Title: "Secret rotated", Nav: "tenants", Tenant: cr.Tenant, Data: secretData{Credential: cr, Rotated: true}})
}
