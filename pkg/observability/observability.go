// Package observability sets up what every service exposes the same way:
// zap logs, a Prometheus registry, and the /metrics, /healthz and /readyz
// endpoints (readiness asks each dependency, so a load balancer or
// Kubernetes stops sending work while Kafka or a database is away).
package observability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger builds a zap logger; format is "json" (production) or "console".
func NewLogger(format, level string) (*zap.Logger, error) {
	var cfg zap.Config
	switch format {
	case "json", "":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	case "console":
		cfg = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	if level != "" {
		lvl, err := zapcore.ParseLevel(level)
		if err != nil {
			return nil, fmt.Errorf("log level %q: %w", level, err)
		}
		cfg.Level = zap.NewAtomicLevelAt(lvl)
	}
	// One write(2) per log line costs more than the request it describes
	// at thousands of requests per second: buffer, and flush every second
	// (and on Sync at shutdown). Errors still flush at once.
	out := &zapcore.BufferedWriteSyncer{WS: zapcore.Lock(os.Stderr), Size: 256 << 10, FlushInterval: time.Second}
	core := zapcore.NewCore(encoder(format, cfg.EncoderConfig), out, cfg.Level)
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel), zap.Hooks(func(e zapcore.Entry) error {
		if e.Level >= zapcore.ErrorLevel {
			return out.Sync()
		}
		return nil
	})), nil
}

func encoder(format string, ec zapcore.EncoderConfig) zapcore.Encoder {
	if format == "console" {
		return zapcore.NewConsoleEncoder(ec)
	}
	return zapcore.NewJSONEncoder(ec)
}

// NewRegistry returns a Prometheus registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Check reports whether one dependency answers.
type Check func(ctx context.Context) error

// Health holds the named readiness checks of a service.
type Health struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// NewHealth returns an empty set of checks: a service with none is ready.
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// Add registers a readiness check under name.
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// Ready runs every check (in parallel, bounded by ctx) and returns each
// failure by name; an empty map means ready.
func (h *Health) Ready(ctx context.Context) map[string]string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		fail = map[string]string{}
	)
	for name, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c(ctx); err != nil {
				mu.Lock()
				fail[name] = err.Error()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return fail
}

// ReadyReport is the JSON body of /readyz.
type ReadyReport struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// Report runs the checks with a short timeout and returns the body and status
// code for /readyz.
func (h *Health) Report(ctx context.Context) (ReadyReport, int) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	fail := h.Ready(ctx)
	rep := ReadyReport{Ready: len(fail) == 0, Checks: map[string]string{}}
	h.mu.RLock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	h.mu.RUnlock()
	sort.Strings(names)
	for _, n := range names {
		if msg, bad := fail[n]; bad {
			rep.Checks[n] = msg
		} else {
			rep.Checks[n] = "ok"
		}
	}
	if !rep.Ready {
		return rep, http.StatusServiceUnavailable
	}
	return rep, http.StatusOK
}

// Handler serves /metrics, /healthz and /readyz for services without an HTTP
// API of their own (the consumers).
func Handler(reg *prometheus.Registry, h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"alive":true}`))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		rep, code := h.Report(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
	})
	return mux
}

// Profiles serves the Go runtime profiles under /debug/pprof/.
func Profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Server is the admin HTTP listener of a consumer service.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr now, so that a port clash fails the start instead of
// surfacing later in a goroutine.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, ln: ln}, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve blocks until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the listener, letting in-flight scrapes finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close stops the listener and closes every connection at once.
func (s *Server) Close() error { return s.srv.Close() }
