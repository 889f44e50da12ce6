// Package admin is the gateway's operations listener: health and readiness
// for load balancers and systemd, Prometheus metrics, the push API that lets
// backends send to connected clients, and, when enabled, pprof. It listens
// on its own address (127.0.0.1:9090 by default), never on the WebSocket
// port.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/poller"
)

// Options configure the admin handler.
type Options struct {
	// Token protects the push API (Authorization: Bearer <token>). Empty
	// disables the push API: its endpoints answer 403 and say so.
	Token string
	// Pprof serves /debug/pprof/. Off by default: profiles expose internals.
	Pprof bool
	// MaxMessageSize bounds request bodies of the push API.
	MaxMessageSize int64
	// Version is reported by /api/v1/stats and the build_info metric.
	Version string
	Logger  *zap.Logger
	// Collectors are further metrics served on /metrics (the channel
	// protocol's).
	Collectors []prometheus.Collector
}

// Handler serves the admin endpoints for one gateway server.
type Handler struct {
	opts    Options
	srv     *poller.Server
	mux     *http.ServeMux
	started time.Time
	log     *zap.Logger
}

// New returns the admin handler for srv.
func New(srv *poller.Server, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 1 << 20
	}
	h := &Handler{opts: opts, srv: srv, mux: http.NewServeMux(), started: time.Now(), log: opts.Logger}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(srv, opts.Version),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(opts.Collectors...)
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(h.log)}))

	h.mux.HandleFunc("POST /api/v1/broadcast", h.auth(h.broadcast))
	h.mux.HandleFunc("POST /api/v1/sessions/{id}/send", h.auth(h.send))
	h.mux.HandleFunc("DELETE /api/v1/sessions/{id}", h.auth(h.kick))
	h.mux.HandleFunc("GET /api/v1/sessions", h.auth(h.list))
	h.mux.HandleFunc("GET /api/v1/sessions/{id}", h.auth(h.get))
	h.mux.HandleFunc("GET /api/v1/stats", h.auth(h.stats))
	h.mux.HandleFunc("/api/", h.auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))

	if opts.Pprof {
		h.mux.HandleFunc("/debug/pprof/", pprof.Index)
		h.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		h.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		h.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		h.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// healthz answers 200 while the process runs: systemd or an orchestrator
// restarts it when this stops answering.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// readyz answers 200 only while the gateway accepts connections: not
// before it listens, and not while it drains for a shutdown, so that a load
// balancer sends new clients elsewhere.
func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if !h.srv.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "detail": "not listening yet, or draining for shutdown"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "sessions": h.srv.Hub().Count()})
}

// auth guards the push API with the bearer token.
func (h *Handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.Token == "" {
			writeError(w, http.StatusForbidden, "the push API is disabled: set admin.token (GATEWAY_ADMIN_TOKEN) to enable it")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gateway"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
