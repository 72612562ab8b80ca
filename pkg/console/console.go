// Package console is the operator's web console, served under /console by
// the API beside the admin API: tenants and credentials (through
// pkg/admin's Service, the admin API's own logic), a statement browser
// (through the store's statement reader), pipeline health (consumer lag,
// the service's own request and statement rates, dead letters) and a view
// per LMS. Pages are rendered on the server with html/template; the few
// assets are embedded, htmx among them, and nothing is built at run time.
//
// The operator logs in with the admin token. The session is a signed,
// Secure, HttpOnly, SameSite=Strict cookie, and every change is a POST that
// carries a CSRF token bound to the session.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/store"
)

// Prefix is where the console lives.
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// StatementReader is what the browser reads of the store: the statement
// reader's role and the attachment bodies.
type StatementReader interface {
	GetStatement(ctx context.Context, tenant, id string, voided bool) (store.Statement, error)
	QueryStatements(ctx context.Context, q store.Query) (store.Page, error)
	GetAttachments(ctx context.Context, tenant string, sha2s []string) ([]store.Attachment, error)
}

// Deps are the parts the console shows.
type Deps struct {
	Admin      *admin.Service
	Statements StatementReader
	// Voider voids statements for the operator; nil: the console offers
	// no voiding.
	Voider Voider
	Kafka  Kafka
	// Gatherer is the service's own registry, sampled for the rates.
	Gatherer prometheus.Gatherer
	// Answers counts the API's answers per credential; nil when the API
	// does not report them.
	Answers *Answers
	Log     *zap.Logger
}

// Console serves the pages.
type Console struct {
	cfg     Config
	d       Deps
	sess    *sessions
	pages   map[string]*template.Template
	samples *sampler
	log     *zap.Logger
}

// New builds the console, logging in with token (the admin token).
func New(cfg Config, token string, d Deps) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(token) < admin.MinTokenLength {
		return nil, errNoToken
	}
	if d.Admin == nil || d.Statements == nil || d.Kafka.Client == nil || d.Kafka.Dial == nil || d.Kafka.Applied == nil || d.Gatherer == nil || d.Log == nil {
		return nil, errors.New("console: every dependency is required")
	}
	pages := map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		pages[base] = t
	}
	return &Console{cfg: cfg, d: d, sess: newSessions(token, cfg.SessionTTL), pages: pages,
		samples: newSampler(d.Gatherer, 30*time.Second, time.Hour), log: d.Log}, nil
}

// Run samples the service's metrics until ctx ends.
func (c *Console) Run(ctx context.Context) { c.samples.run(ctx) }

const cookieName = "lrs_console"

type localKey int

const localSession localKey = iota

// Register adds the console's routes to r (the app the admin API is on).
func (c *Console) Register(r fiber.Router) {
	g := r.Group(Prefix, c.headers)
	assets, _ := fs.Sub(assetFS, "assets")
	g.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(assets), MaxAge: 3600}))
	g.Get("/login", c.loginPage)
	g.Post("/login", c.sameOrigin, c.login)
	g.Use(c.requireSession)
	g.Post("/logout", c.logout)
	g.Get("/", c.tenants)
	g.Post("/tenants", c.createTenant)
	g.Get("/t/:tenant", c.tenant)
	g.Post("/t/:tenant/credentials", c.createCredential)
	g.Post("/credentials/:key/disable", c.setDisabled(true))
	g.Post("/credentials/:key/enable", c.setDisabled(false))
	g.Post("/credentials/:key/rotate", c.rotate)
	g.Get("/t/:tenant/statements", c.statements)
	g.Get("/t/:tenant/statements/:id", c.statement)
	g.Post("/t/:tenant/statements/:id/void", c.void)
	g.Get("/t/:tenant/attachments/:sha2", c.attachment)
	g.Get("/t/:tenant/lms", c.lms)
	g.Get("/health", c.health)
	g.Get("/health/panel", c.healthPanel)
	g.Post("/health/resend", c.resend)
	g.Use(func(ctx *fiber.Ctx) error { return c.fail(ctx, http.StatusNotFound, "no console page at "+ctx.Path()) })
}

// headers replace the xAPI's sandboxing policy (no scripts, no forms) with
// one that allows this origin's own scripts, styles and forms, and nothing
// inline or from elsewhere.
func (c *Console) headers(ctx *fiber.Ctx) error {
	ctx.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	ctx.Set(fiber.HeaderXFrameOptions, "DENY")
	ctx.Set(fiber.HeaderReferrerPolicy, "same-origin")
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	return ctx.Next()
}

// sameOrigin refuses a change a page of another origin sent: browsers say
// where a POST comes from. The CSRF token is the main defence; this one
// also covers the login form, which has no session to bind a token to.
func (c *Console) sameOrigin(ctx *fiber.Ctx) error {
	if site := ctx.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return c.fail(ctx, http.StatusForbidden, "a page of another site sent this form")
	}
	if o := ctx.Get(fiber.HeaderOrigin); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != ctx.Hostname() {
			return c.fail(ctx, http.StatusForbidden, "a page of another origin ("+o+") sent this form")
		}
	}
	return ctx.Next()
}

func (c *Console) requireSession(ctx *fiber.Ctx) error {
	id, err := c.sess.check(ctx.Cookies(cookieName))
	if err != nil {
		if ctx.Method() == fiber.MethodGet {
			if ctx.Get("HX-Request") != "" {
				ctx.Set("HX-Redirect", Prefix+"/login")
				return ctx.SendStatus(http.StatusUnauthorized)
			}
			return ctx.Redirect(Prefix+"/login?next="+url.QueryEscape(ctx.OriginalURL()), http.StatusSeeOther)
		}
		return c.fail(ctx, http.StatusUnauthorized, "your session has ended: log in again")
	}
	ctx.Locals(localSession, id)
	if ctx.Method() != fiber.MethodGet && ctx.Method() != fiber.MethodHead {
		if !c.sess.checkCSRF(id, ctx.FormValue("_csrf")) {
			return c.fail(ctx, http.StatusForbidden, "the form's CSRF token is missing or stale: reload the page and try again")
		}
		return c.sameOrigin(ctx)
	}
	return ctx.Next()
}

// page is what every template gets.
type page struct {
	Title  string
	CSRF   string
	Nav    string // the current section, for aria-current
	Tenant string
	Error  string
	Notice string
	Data   any
}

func (c *Console) render(ctx *fiber.Ctx, status int, name string, p page) error {
	return c.execute(ctx, status, name, "layout", p)
}

// execute runs one template of page name's set: "layout" for a whole page,
// a partial for the part htmx swaps in.
func (c *Console) execute(ctx *fiber.Ctx, status int, name, tmpl string, p page) error {
	if id, ok := ctx.Locals(localSession).(string); ok {
		p.CSRF = c.sess.csrf(id)
	}
	t := c.pages[name]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		c.log.Error("console page failed", zap.String("page", name), zap.Error(err))
		return ctx.Status(http.StatusInternalServerError).SendString("console page failed; see the server log")
	}
	ctx.Type("html", "utf-8")
	return ctx.Status(status).Send(buf.Bytes())
}

func (c *Console) fail(ctx *fiber.Ctx, status int, msg string) error {
	return c.render(ctx, status, "error", page{Title: http.StatusText(status), Error: msg})
}

// failErr maps a service error to its status, as the admin API does.
func (c *Console) failErr(ctx *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, admin.ErrInvalid), errors.Is(err, store.ErrInvalidQuery):
		return c.fail(ctx, http.StatusBadRequest, err.Error())
	case errors.Is(err, admin.ErrNotFound), errors.Is(err, errNotFound):
		return c.fail(ctx, http.StatusNotFound, err.Error())
	case errors.Is(err, admin.ErrExists), errors.Is(err, errNotResendable):
		return c.fail(ctx, http.StatusConflict, err.Error())
	}
	c.log.Error("console request failed", zap.String("method", ctx.Method()), zap.String("path", ctx.Path()), zap.Error(err))
	return c.fail(ctx, http.StatusInternalServerError, "internal error; see the server log")
}

func (c *Console) loginPage(ctx *fiber.Ctx) error {
	return c.render(ctx, http.StatusOK, "login", page{Title: "Log in", Data: safeNext(ctx.Query("next"))})
}

// safeNext keeps the page to return to after login inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix + "/"
	}
	return next
}

func (c *Console) login(ctx *fiber.Ctx) error {
	next := safeNext(ctx.FormValue("next"))
	if !c.sess.login(ctx.FormValue("token")) {
		c.log.Warn("console login refused", zap.String("ip", ctx.IP()))
		return c.render(ctx, http.StatusUnauthorized, "login", page{Title: "Log in", Error: "That is not the admin token.", Data: next})
	}
	v, exp, err := c.sess.issue()
	if err != nil {
		return c.failErr(ctx, err)
	}
	ctx.Cookie(&fiber.Cookie{Name: cookieName, Value: v, Path: Prefix, Expires: exp, Secure: !c.cfg.InsecureCookie, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
	c.log.Info("console login", zap.String("ip", ctx.IP()))
	return ctx.Redirect(next, http.StatusSeeOther)
}

func (c *Console) logout(ctx *fiber.Ctx) error {
	ctx.Cookie(&fiber.Cookie{Name: cookieName, Value: "", Path: Prefix, Expires: time.Unix(0, 0), MaxAge: -1, Secure: !c.cfg.InsecureCookie, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
	return ctx.Redirect(Prefix+"/login", http.StatusSeeOther)
}
