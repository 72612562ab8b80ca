// Package ingest is the xAPI HTTP API (Fiber). It authenticates clients,
// validates statements (pkg/xapi), assigns id, stored, authority and
// version, publishes each request's statements to Kafka as one record and
// answers only after the broker acknowledged. Reads are served from the
// statement store after waiting for it to catch up with the topic
// (Watermark), so a client always reads its own writes. It keeps no state
// of its own: run as many as the load needs.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/streamlrs/streamlrs/pkg/auth"
	"github.com/streamlrs/streamlrs/pkg/observability"
	"github.com/streamlrs/streamlrs/pkg/xapi"
	"github.com/streamlrs/streamlrs/pkg/xapiservice"
)

// Authenticator checks a Basic key/secret pair.
type Authenticator interface {
	Authenticate(ctx context.Context, key, secret string) (auth.Principal, error)
}

// Config holds the API's settings.
type Config struct {
	// Prefix is where the xAPI resources live, e.g. "/xapi".
	Prefix string
	// BodyLimit bounds a request body in bytes (413 past it).
	BodyLimit int
	// MaxBatchStatements bounds the statements of one POST (413 past it).
	MaxBatchStatements int
	// PublishTimeout bounds the wait for the broker's acknowledgement.
	PublishTimeout time.Duration
	// DefaultVersion is the version stated in responses to requests that
	// name none (errors, /about): deployments whose clients are all 1.0.3
	// may prefer 1.0.3.
	DefaultVersion xapi.Version
	// CORSOrigins are the browser origins allowed to call the xAPI
	// resources, comma-separated; "*" (the default) allows any.
	CORSOrigins string
	// SeparateOps serves /metrics and the admin API on their own app
	// (OpsApp, ListenOps) instead of beside the xAPI.
	SeparateOps bool
	// VoidingPolicy says who may void a statement (see voiding.go).
	VoidingPolicy auth.VoidingPolicy
	// MaxBacklogBytes bounds how far behind the statement store may fall,
	// in bytes of one partition, before writes answer 503 (0: no bound):
	// on a topic whose retention is bounded by bytes, records the
	// store-writer has not read are deleted past that retention.
	MaxBacklogBytes int64
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/")) {
		errs = append(errs, fmt.Errorf("prefix %q: want a path like /xapi", c.Prefix))
	}
	if c.BodyLimit < 1024 {
		errs = append(errs, fmt.Errorf("body limit %d: want at least 1024 bytes", c.BodyLimit))
	}
	if c.MaxBatchStatements < 1 {
		errs = append(errs, fmt.Errorf("max batch statements %d: want at least 1", c.MaxBatchStatements))
	}
	if c.DefaultVersion != xapi.V1_0_3 && c.DefaultVersion != xapi.V2_0_0 {
		errs = append(errs, fmt.Errorf("default version %q: want 1.0.3 or 2.0.0", c.DefaultVersion))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, fmt.Errorf("publish timeout %v: want > 0", c.PublishTimeout))
	}
	if err := validOrigins(c.CORSOrigins); err != nil {
		errs = append(errs, err)
	}
	if err := c.VoidingPolicy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBacklogBytes < 0 {
		errs = append(errs, fmt.Errorf("max backlog bytes %d: want 0 (no bound) or more", c.MaxBacklogBytes))
	}
	return errors.Join(errs...)
}

// Deps are the parts the API talks to.
type Deps struct {
	Auth      Authenticator
	Publisher xapiservice.Publisher
	// Store serves statement reads; a store that also keeps documents
	// (xapiservice.DocumentStore) serves the document resources.
	Store       xapiservice.StatementStore
	Attachments xapiservice.AttachmentStore
	Conflicts   xapiservice.ConflictChecker
	Backlog     xapiservice.Backlog // needed with Config.MaxBacklogBytes
	Watermark   *Watermark
	Health      *observability.Health
	Registry    *prometheus.Registry
	Log         *zap.Logger
	// Answered, when set, is told the status of every request a credential
	// made (the console counts them per credential); optional.
	Answered func(tenant, key string, status int)
}

// Server is the xAPI HTTP API.
type Server struct {
	cfg        Config
	deps       Deps
	statements *xapiservice.Statements
	app        *fiber.App
	ops        *fiber.App // == app unless cfg.SeparateOps
	log        *zap.Logger
	metrics    metrics
}

type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	statements *prometheus.CounterVec
}

// New builds the API.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if d.Auth == nil || d.Publisher == nil || d.Store == nil || d.Attachments == nil || d.Conflicts == nil || d.Watermark == nil || d.Health == nil || d.Registry == nil || d.Log == nil {
		return nil, errors.New("ingest: every dependency is required")
	}
	s := &Server{cfg: cfg, deps: d, log: d.Log}
	var err error
	s.metrics = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lrs_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lrs_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"method", "route"}),
		statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lrs_ingest_statements_total", Help: "Statements received, by result (accepted, duplicate, rejected, backlog: refused with 503 while the store was too far behind).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{s.metrics.requests, s.metrics.duration, s.metrics.statements} {
		if err = d.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register metric: %w", err)
		}
	}
	s.statements, err = xapiservice.NewStatements(xapiservice.StatementConfig{
		Prefix: cfg.Prefix, MaxBatchStatements: cfg.MaxBatchStatements, PublishTimeout: cfg.PublishTimeout,
		VoidingPolicy: cfg.VoidingPolicy, MaxBacklogBytes: cfg.MaxBacklogBytes,
	}, xapiservice.StatementDeps{Publisher: d.Publisher, Store: d.Store, Attachments: d.Attachments,
		Conflicts: d.Conflicts, Backlog: d.Backlog, Counted: s.metrics.statements})
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	newApp := func() *fiber.App {
		return fiber.New(fiber.Config{
			BodyLimit:             cfg.BodyLimit,
			ErrorHandler:          s.errorHandler,
			DisableStartupMessage: true,
			ReadTimeout:           60 * time.Second,
			IdleTimeout:           120 * time.Second,
		})
	}
	s.app = newApp()
	s.ops = s.app
	if cfg.SeparateOps {
		s.ops = newApp()
	}
	s.routes()
	return s, nil
}

// corsConfig: xAPI content often runs in a browser on another origin
// (SCORM/cmi5 players): allow the configured origins, and let scripts read
// the xAPI response headers.
func (s *Server) corsConfig() cors.Config {
	return cors.Config{
		AllowOrigins:  s.cfg.CORSOrigins,
		AllowMethods:  "GET,HEAD,PUT,POST,DELETE,OPTIONS",
		AllowHeaders:  "Authorization,Content-Type,X-Experience-API-Version,If-Match,If-None-Match,X-Request-ID,Accept-Language",
		ExposeHeaders: "ETag,Last-Modified,X-Experience-API-Consistent-Through,X-Experience-API-Version,X-Request-ID,Content-Length",
		MaxAge:        86400,
	}
}

func (s *Server) routes() {
	s.app.Use(s.observe, securityHeaders)
	if s.ops != s.app {
		s.ops.Use(s.observe, securityHeaders)
	}
	for _, a := range []*fiber.App{s.app, s.ops} {
		a.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"alive": true}) })
		a.Get("/readyz", func(c *fiber.Ctx) error {
			rep, code := s.deps.Health.Report(c.UserContext())
			return c.Status(code).JSON(rep)
		})
	}
	s.ops.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})))

	// CORS covers the xAPI resources only: a browser page on another
	// origin has no business reading /metrics or calling /admin.
	x := s.app.Group(s.cfg.Prefix, cors.New(s.corsConfig()))
	x.Get("/about", s.about)
	x.Use(s.alternateSyntax, s.requireVersion, s.authenticate)
	x.Post("/statements", s.postStatements)
	x.Put("/statements", s.putStatement)
	x.Get("/statements", s.getStatements)
	s.documentRoutes(x)
	x.Use(func(c *fiber.Ctx) error {
		return xapiservice.NewError(fiber.StatusNotFound, "no xAPI resource at "+c.Path())
	})
}

// Statements is the statement service the API drives (for the console's
// voiding).
func (s *Server) Statements() *xapiservice.Statements { return s.statements }

// OpsApp is where /metrics and the admin API are served: the xAPI's own app
// unless Config.SeparateOps.
func (s *Server) OpsApp() *fiber.App { return s.ops }

// ListenOps binds addr for OpsApp, like Listen; only with SeparateOps.
func (s *Server) ListenOps(addr string) (net.Addr, error) {
	if s.ops == s.app {
		return nil, errors.New("ingest: ListenOps needs Config.SeparateOps")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	go func() {
		if err := s.ops.Listener(ln); err != nil {
			s.log.Error("ops http server stopped", zap.Error(err))
		}
	}()
	return ln.Addr(), nil
}

// Listen binds addr now (so a port clash fails the start), then serves
// plain HTTP in the background; errors after the start go to the log.
func (s *Server) Listen(addr string) (net.Addr, error) { return s.listen(addr, nil) }

// listen serves HTTPS when tlsCfg is set (ListenTLS).
func (s *Server) listen(addr string, tlsCfg *tls.Config) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	go func() {
		if err := s.app.Listener(ln); err != nil {
			s.log.Error("http server stopped", zap.Error(err))
		}
	}()
	return ln.Addr(), nil
}

// Shutdown stops taking requests and waits for those in flight: a POST
// that is waiting for the broker still gets its answer.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ops != s.app {
		if err := s.ops.ShutdownWithContext(ctx); err != nil {
			return err
		}
	}
	return s.app.ShutdownWithContext(ctx)
}

// observe gives every request an id (X-Request-ID, kept when the client
// sent one), logs it, and counts it.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if id == "" || len(id) > 128 {
		id = uuid.NewString()
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	err := c.Next()
	if rerouted, _ := c.Locals(localRerouted).(bool); rerouted {
		// The rewritten request was observed on its own pass.
		return nil
	}
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	method := methodLabel(c.Method())
	s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	if p, ok := c.Locals(localPrincipal).(auth.Principal); ok && s.deps.Answered != nil {
		s.deps.Answered(p.Tenant, p.Key, status)
	}
	if route != "/metrics" && route != "/healthz" && route != "/readyz" {
		s.logAt(c, zapcore.InfoLevel, "request", zap.String("method", c.Method()), zap.String("path", c.Path()),
			zap.Int("status", status), zap.Duration("took", time.Since(start)))
	}
	return nil
}

// methodLabel is the metrics label of a request method: one of a fixed
// set of constants. c.Method() points into fasthttp's reused buffer, so a
// label made from it changes under the registry (a later request on the
// connection rewrites it) and any client could add series without bound.
func methodLabel(m string) string {
	if l, ok := methodLabels[m]; ok {
		return l
	}
	return "OTHER"
}

var methodLabels = map[string]string{
	fiber.MethodGet: fiber.MethodGet, fiber.MethodHead: fiber.MethodHead, fiber.MethodPost: fiber.MethodPost,
	fiber.MethodPut: fiber.MethodPut, fiber.MethodDelete: fiber.MethodDelete, fiber.MethodOptions: fiber.MethodOptions,
	fiber.MethodPatch: fiber.MethodPatch,
}

// securityHeaders keeps browsers from reading a response as anything but
// its declared type (a document stored as text/html is data, not a page of
// this origin): no MIME sniffing, and no scripts or embedding.
func securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'; sandbox")
	return c.Next()
}

type localKey int

const (
	localRequestID localKey = iota
	localPrincipal
	localVersion
	localRerouted
)

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// logAt logs msg with the request's id, tenant and credential. The level
// is checked first, so a disabled level costs no allocation on the hot path.
func (s *Server) logAt(c *fiber.Ctx, lvl zapcore.Level, msg string, fields ...zap.Field) {
	ce := s.log.Check(lvl, msg)
	if ce == nil {
		return
	}
	fields = append(fields, zap.String("request_id", requestID(c)))
	if p, ok := c.Locals(localPrincipal).(auth.Principal); ok {
		fields = append(fields, zap.String("tenant", p.Tenant), zap.String("credential", p.Key))
	}
	ce.Write(fields...)
}
