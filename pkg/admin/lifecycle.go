package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

// registerLifecycle adds the data lifecycle's routes (pkg/lifecycle):
//
//	POST /tenants/:id/erasures  {"agent":{...},"requestedBy","dryRun"} erase a learner (202), or count (dryRun, 200)
//	GET  /tenants/:id/erasures  [?limit=N] the erasures the store applied, newest first
//	PUT  /tenants/:id/retention {"retention":"8760h","dryRun"} keep statements that long ("0s": for ever)
func (a *API) registerLifecycle(g fiber.Router) {
	g.Post("/tenants/:id/erasures", a.lifecycle(a.erase))
	g.Get("/tenants/:id/erasures", a.lifecycle(a.listErasures))
	g.Put("/tenants/:id/retention", a.lifecycle(a.setRetention))
}

// lifecycle answers 503 where the service has no lifecycle (no Kafka
// producer to publish with).
func (a *API) lifecycle(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if a.svc.Lifecycle == nil {
			return a.fail(c, http.StatusServiceUnavailable, "erasure and retention are not available on this instance")
		}
		return h(c)
	}
}

func (a *API) erase(c *fiber.Ctx) error {
	var req struct {
		Agent       json.RawMessage `json:"agent"`
		RequestedBy string          `json:"requestedBy"`
		DryRun      bool            `json:"dryRun"`
	}
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	e, err := a.svc.Lifecycle.Erase(c.UserContext(), c.Params("id"), req.Agent, req.RequestedBy, req.DryRun)
	status := http.StatusAccepted
	if req.DryRun {
		status = http.StatusOK
	}
	return a.answer(c, status, e, err)
}

func (a *API) listErasures(c *fiber.Ctx) error {
	es, err := a.svc.Lifecycle.Erasures(c.UserContext(), c.Params("id"), c.QueryInt("limit", 100))
	return a.answer(c, http.StatusOK, fiber.Map{"erasures": es}, err)
}

func (a *API) setRetention(c *fiber.Ctx) error {
	var req struct {
		Retention string `json:"retention"`
		DryRun    bool   `json:"dryRun"`
	}
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	d, err := time.ParseDuration(req.Retention)
	if err != nil {
		return a.answer(c, 0, nil, invalid("retention %q: want a Go duration such as 8760h, or 0s to keep statements for ever", req.Retention))
	}
	r, err := a.svc.Lifecycle.SetRetention(c.UserContext(), c.Params("id"), d, req.DryRun)
	if err == nil && !req.DryRun {
		a.log.Info("retention set", zap.String("tenant", r.Tenant), zap.String("retention", r.Retention))
	}
	return a.answer(c, http.StatusOK, r, err)
}
