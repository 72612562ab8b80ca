package admin

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/forwarding"
)

// registerForwarding adds the forwarding rules' routes:
//
//	GET    /tenants/:id/forwarding                          the tenant's rules with their lag and counts
//	POST   /tenants/:id/forwarding                          create {"name","filter","target","start"}: a webhook's answer holds its secret
//	GET    /tenants/:id/forwarding/:rule                    one rule with its lag and counts
//	DELETE /tenants/:id/forwarding/:rule                    delete, with its positions and dead letters
//	POST   /tenants/:id/forwarding/:rule/pause              stop delivering
//	POST   /tenants/:id/forwarding/:rule/resume             go on where it stood
//	POST   /tenants/:id/forwarding/:rule/rewind             deliver again from {"to":"<RFC 3339>"|"beginning"}
//	GET    /tenants/:id/forwarding/:rule/dead-letters       [?after=ID&limit=N] what the target refused, oldest first
//	POST   /tenants/:id/forwarding/:rule/dead-letters/resend {"ids":[...]} (none: every one) to be sent again
func (a *API) registerForwarding(g fiber.Router) {
	g.Get("/tenants/:id/forwarding", a.listRules)
	g.Post("/tenants/:id/forwarding", a.createRule)
	g.Get("/tenants/:id/forwarding/:rule", a.getRule)
	g.Delete("/tenants/:id/forwarding/:rule", a.deleteRule)
	g.Post("/tenants/:id/forwarding/:rule/pause", a.pauseRule(true))
	g.Post("/tenants/:id/forwarding/:rule/resume", a.pauseRule(false))
	g.Post("/tenants/:id/forwarding/:rule/rewind", a.rewindRule)
	g.Get("/tenants/:id/forwarding/:rule/dead-letters", a.listDeadLetters)
	g.Post("/tenants/:id/forwarding/:rule/dead-letters/resend", a.resendDeadLetters)
}

func (a *API) listRules(c *fiber.Ctx) error {
	rs, err := a.svc.Forwarding.List(c.UserContext(), c.Params("id"))
	return a.answer(c, http.StatusOK, fiber.Map{"rules": rs}, err)
}

func (a *API) createRule(c *fiber.Ctx) error {
	var spec forwarding.Spec
	if err := decode(c, &spec); err != nil {
		return a.answer(c, 0, nil, err)
	}
	r, err := a.svc.Forwarding.Create(c.UserContext(), c.Params("id"), spec)
	if err == nil {
		a.log.Info("forwarding rule created", zap.String("tenant", r.Tenant), zap.String("rule", r.Name), zap.String("target", r.Target.Type))
	}
	return a.answer(c, http.StatusCreated, r, err)
}

func (a *API) getRule(c *fiber.Ctx) error {
	r, err := a.svc.Forwarding.Get(c.UserContext(), c.Params("id"), c.Params("rule"))
	return a.answer(c, http.StatusOK, r, err)
}

func (a *API) deleteRule(c *fiber.Ctx) error {
	err := a.svc.Forwarding.Delete(c.UserContext(), c.Params("id"), c.Params("rule"))
	if err == nil {
		a.log.Info("forwarding rule deleted", zap.String("tenant", c.Params("id")), zap.String("rule", c.Params("rule")))
	}
	return a.answer(c, http.StatusOK, fiber.Map{"deleted": c.Params("rule")}, err)
}

func (a *API) pauseRule(paused bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := a.svc.Forwarding.SetPaused(c.UserContext(), c.Params("id"), c.Params("rule"), paused)
		if err == nil {
			a.log.Info("forwarding rule changed", zap.String("tenant", r.Tenant), zap.String("rule", r.Name), zap.Bool("paused", paused))
		}
		return a.answer(c, http.StatusOK, r, err)
	}
}

func (a *API) rewindRule(c *fiber.Ctx) error {
	var req struct {
		To string `json:"to"`
	}
	if err := decode(c, &req); err != nil {
		return a.answer(c, 0, nil, err)
	}
	r, err := a.svc.Forwarding.Rewind(c.UserContext(), c.Params("id"), c.Params("rule"), req.To)
	if err == nil {
		a.log.Info("forwarding rule rewound", zap.String("tenant", r.Tenant), zap.String("rule", r.Name), zap.String("to", req.To))
	}
	return a.answer(c, http.StatusOK, r, err)
}

func (a *API) listDeadLetters(c *fiber.Ctx) error {
	ds, err := a.svc.Forwarding.DeadLetters(c.UserContext(), c.Params("id"), c.Params("rule"), int64(c.QueryInt("after", 0)), c.QueryInt("limit", 100))
	return a.answer(c, http.StatusOK, fiber.Map{"deadLetters": ds}, err)
}

func (a *API) resendDeadLetters(c *fiber.Ctx) error {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return a.answer(c, 0, nil, err)
		}
	}
	n, err := a.svc.Forwarding.Resend(c.UserContext(), c.Params("id"), c.Params("rule"), req.IDs)
	return a.answer(c, http.StatusOK, fiber.Map{"marked": n}, err)
}
