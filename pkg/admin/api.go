package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/forwarding"
	"github.com/streamlrs/streamlrs/pkg/lifecycle"
)

// MinTokenLength keeps a guessable admin token from guarding the API.
const MinTokenLength = 16

// API is the admin HTTP API. Every route needs `Authorization: Bearer
// <token>`. Its answers are JSON; errors are {"error":{"status","message"}}
// like the xAPI API's.
type API struct {
	svc   *Service
	token [32]byte // SHA-256 of the token: compared in constant time, whatever the lengths
	log   *zap.Logger
}

// NewAPI serves svc behind token.
func NewAPI(svc *Service, token string, log *zap.Logger) (*API, error) {
	if svc == nil || log == nil {
		return nil, errors.New("admin API needs a service and a logger")
	}
	if len(token) < MinTokenLength {
		return nil, fmt.Errorf("admin token: want at least %d characters", MinTokenLength)
	}
	return &API{svc: svc, token: sha256.Sum256([]byte(token)), log: log}, nil
}

// Register adds the routes under prefix (e.g. "/admin") to r.
//
//	GET  /tenants                         list tenants
//	POST /tenants                         create {"id","name"}
//	GET  /tenants/:id/conflicts[?limit=N] the newest conflicts the store-writer found (default 100)
//	GET  /credentials[?tenant=ID]         list credentials
//	POST /credentials                     create {"tenant","label","scopes","authority","rateLimit","key"}: the answer holds the secret
//	GET  /credentials/:key                one credential
//	POST /credentials/:key/disable        disable
//	POST /credentials/:key/enable         enable again
//	POST /credentials/:key/rotate         new secret {"grace":"24h"}: the answer holds the secret
//	GET|PUT|DELETE /tenants/:id/pulls...  the other LRSs the tenant pulls from (registerPulls)
//	/tenants/:id/erasures, /retention     erasing learners and retention (registerLifecycle)
//
// and the forwarding rules of a tenant (see registerForwarding).
func (a *API) Register(r fiber.Router, prefix string) {
	g := r.Group(prefix, a.guard)
	g.Get("/tenants", a.listTenants)
	g.Post("/tenants", a.createTenant)
	g.Patch("/tenants/:id", a.updateTenant)
	g.Get("/tenants/:id/conflicts", a.listConflicts)
	g.Get("/credentials", a.listCredentials)
	g.Post("/credentials", a.createCredential)
	g.Get("/credentials/:key", a.getCredential)
	g.Post("/credentials/:key/disable", a.setDisabled(true))
	g.Post("/credentials/:key/enable", a.setDisabled(false))
	g.Post("/credentials/:key/rotate", a.rotate)
	a.registerForwarding(g)
	a.registerPulls(g)
	a.registerLifecycle(g)
	g.Use(func(c *fiber.Ctx) error {
		return a.fail(c, http.StatusNotFound, "no admin resource "+c.Method()+" "+c.Path())
	})
}

func (a *API) guard(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return a.unauthorized(c, "missing Authorization: Bearer <admin token>")
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
	if subtle.ConstantTimeCompare(got[:], a.token[:]) != 1 {
		return a.unauthorized(c, "wrong admin token")
	}
	return c.Next()
}

func (a *API) unauthorized(c *fiber.Ctx, msg string) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="lrs-admin"`)
	return a.fail(c, http.StatusUnauthorized, msg)
}

// fail answers an error itself, so that the host app's error handler (the
// xAPI one, which asks for Basic credentials on a 401) stays out of it.
func (a *API) fail(c *fiber.Ctx, status int, msg string) error {
	return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"status": status, "message": msg}})
}

// answer maps a service error to its status, or sends v with status ok.
func (a *API) answer(c *fiber.Ctx, ok int, v any, err error) error {
	switch {
	case err == nil:
		return c.Status(ok).JSON(v)
	case errors.Is(err, ErrInvalid), errors.Is(err, forwarding.ErrInvalid), errors.Is(err, lifecycle.ErrInvalid):
		return a.fail(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		return a.fail(c, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrExists):
		return a.fail(c, http.StatusConflict, err.Error())
	}
	a.log.Error("admin request failed", zap.String("method", c.Method()), zap.String("path", c.Path()), zap.Error(err))
	return a.fail(c, http.StatusInternalServerError, "internal error; see the server log")
}

// decode reads a JSON body strictly: an unknown field is a typo to report,
// not to ignore (e.g. "scope" for "scopes").
func decode(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %v", err)
	}
	return nil
}

func (a *API) listTenants(c *fiber.Ctx) error {
	ts, err := a.svc.ListTenants(c.UserContext())
	if ts == nil {
		ts = []Tenant{}
	}
	return a.answer(c, http.StatusOK, ts, err)
}

func (a *API) createTenant(c *fiber.Ctx) error {
	var req struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		VoidingPolicy string `json:"voidingPolicy"`
	}
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	t, err := a.svc.CreateTenant(c.UserContext(), req.ID, req.Name, req.VoidingPolicy)
	return a.answer(c, http.StatusCreated, t, err)
}

func (a *API) updateTenant(c *fiber.Ctx) error {
	var req struct {
		VoidingPolicy *string `json:"voidingPolicy"`
	}
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	if req.VoidingPolicy == nil {
		return a.answer(c, 0, nil, invalid("nothing to change: the body names no voidingPolicy"))
	}
	t, err := a.svc.SetVoidingPolicy(c.UserContext(), c.Params("id"), *req.VoidingPolicy)
	if err == nil {
		a.log.Info("tenant changed", zap.String("tenant", t.ID), zap.String("voiding_policy", t.VoidingPolicy))
	}
	return a.answer(c, http.StatusOK, t, err)
}

func (a *API) listConflicts(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	cs, err := a.svc.RecentConflicts(c.UserContext(), c.Params("id"), limit)
	return a.answer(c, http.StatusOK, fiber.Map{"conflicts": cs}, err)
}

func (a *API) listCredentials(c *fiber.Ctx) error {
	cs, err := a.svc.ListCredentials(c.UserContext(), c.Query("tenant"))
	return a.answer(c, http.StatusOK, cs, err)
}

func (a *API) createCredential(c *fiber.Ctx) error {
	var req NewCredential
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	cred, err := a.svc.CreateCredential(c.UserContext(), req)
	if err == nil {
		a.log.Info("credential created", zap.String("key", cred.Key), zap.String("tenant", cred.Tenant), zap.String("label", cred.Label))
	}
	return a.answer(c, http.StatusCreated, cred, err)
}

func (a *API) getCredential(c *fiber.Ctx) error {
	cred, err := a.svc.GetCredential(c.UserContext(), c.Params("key"))
	return a.answer(c, http.StatusOK, cred, err)
}

func (a *API) setDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cred, err := a.svc.SetDisabled(c.UserContext(), c.Params("key"), disabled)
		if err == nil {
			a.log.Info("credential changed", zap.String("key", cred.Key), zap.Bool("disabled", disabled))
		}
		return a.answer(c, http.StatusOK, cred, err)
	}
}

func (a *API) rotate(c *fiber.Ctx) error {
	var req struct {
		Grace string `json:"grace"`
	}
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return a.answer(c, 0, nil, err)
		}
	}
	var grace time.Duration
	if req.Grace != "" {
		var err error
		if grace, err = time.ParseDuration(req.Grace); err != nil {
			return a.answer(c, 0, nil, invalid("grace %q: want a duration like 24h", req.Grace))
		}
	}
	cred, err := a.svc.Rotate(c.UserContext(), c.Params("key"), grace)
	if err == nil {
		a.log.Info("credential rotated", zap.String("key", cred.Key), zap.Duration("grace", grace))
	}
	return a.answer(c, http.StatusOK, cred, err)
}
