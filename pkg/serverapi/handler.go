package serverapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/internal/httpbody"
)

// Options configure the API handler.
type Options struct {
	// Key is the API key (Centrifugo http_api.key). Empty refuses every
	// request with 401 unless Insecure is set.
	Key string
	// Insecure serves without checking a key (http_api.insecure).
	Insecure bool
	// ErrorMode "transport" answers errors with the error object as body
	// and an HTTP status (http_api.error_mode); "" answers them with 200
	// and {"error":{...}}, as Centrifugo does by default.
	ErrorMode string
	// Prefix is the path the methods hang under (http_api.handler_prefix);
	// default "/api". POST <Prefix> takes the legacy {"method","params"}
	// form.
	Prefix string
	// MaxBodySize bounds a request body in bytes; larger bodies are
	// answered 413. Default 10 MiB.
	MaxBodySize int64
	Logger      *zap.Logger
	// Observe, when set, is called once per API method call (each command
	// of a batch, each command of a legacy request) with the method name,
	// the error code (0 for success) and the time it took.
	Observe func(method string, code uint32, elapsed time.Duration)
}

// TransportErrorMode is the ErrorMode that maps errors to HTTP statuses.
const TransportErrorMode = "transport"

// DefaultMaxBodySize is MaxBodySize's default.
const DefaultMaxBodySize = 10 << 20

// Check reports an option that NewHandler cannot serve.
func (o Options) Check() error {
	if o.ErrorMode != "" && o.ErrorMode != TransportErrorMode {
		return fmt.Errorf("error mode %q: want \"\" or %q", o.ErrorMode, TransportErrorMode)
	}
	if o.Prefix != "" && !strings.HasPrefix(o.Prefix, "/") {
		return fmt.Errorf("prefix %q: must start with /", o.Prefix)
	}
	return nil
}

// handler serves the API; see NewHandler.
type handler struct {
	opts    Options
	x       executor
	methods map[string]method
	log     *zap.Logger
}

// method runs one API method on a JSON request body: a body that does not
// decode is err (HTTP 400, or 107 in the legacy form); otherwise res is the
// result (never nil) or e the API error.
type method func(h *handler, ctx context.Context, body []byte) (res any, e *Error, err error)

func run[Req, Res any](f func(*executor, context.Context, *Req) (*Res, *Error)) method {
	return func(h *handler, ctx context.Context, body []byte) (any, *Error, error) {
		var req Req
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, nil, err
		}
		res, e := f(&h.x, ctx, &req)
		if e != nil {
			return nil, e, nil
		}
		return res, nil, nil
	}
}

var methods = map[string]method{
	"publish":        run((*executor).publish),
	"broadcast":      run((*executor).broadcast),
	"subscribe":      run((*executor).subscribe),
	"unsubscribe":    run((*executor).unsubscribe),
	"disconnect":     run((*executor).disconnect),
	"refresh":        run((*executor).refresh),
	"presence":       run((*executor).presence),
	"presence_stats": run((*executor).presenceStats),
	"history":        run((*executor).history),
	"history_remove": run((*executor).historyRemove),
	"channels":       run((*executor).channels),
	"info":           run((*executor).info),
	"rpc":            run((*executor).rpc),
}

// NewHandler returns the server API over node (Centrifugo's HTTP API,
// internal/api/handler.go and internal/app/mux.go):
//
//   - POST <Prefix>/<method> with one JSON request object; the reply is
//     {"result":{...}} or {"error":{"code","message"}} with HTTP 200
//     (transport error mode: the error object with status 400/404/416/409/500).
//     POST <Prefix>/batch takes {"commands":[{"<method>":{...}}],"parallel"}
//     and answers {"replies":[{"<method>":{...}} or {"error":{...}}]}.
//   - POST <Prefix> takes the legacy form: newline-delimited
//     {"id","method","params"} commands, answered by newline-delimited
//     {"id","result"} or {"id","error"} replies.
//   - Any other path under the prefix: 404 (before the key is checked, as
//     in Centrifugo, whose mux has no such route). A method other than POST:
//     405. A missing or wrong key: 401 with an empty body. A body that is
//     not the method's JSON: 400 "Bad Request". A body over MaxBodySize: 413.
func NewHandler(node Node, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Prefix == "" {
		opts.Prefix = "/api"
	}
	opts.Prefix = strings.TrimRight(opts.Prefix, "/")
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	return &handler{opts: opts, x: executor{node: node}, methods: methods, log: opts.Logger}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	legacy := path == h.opts.Prefix || path == "/" && h.opts.Prefix == ""
	var name string
	if !legacy {
		rest, ok := strings.CutPrefix(path, h.opts.Prefix+"/")
		if _, known := h.methods[rest]; !ok || !known && rest != "batch" {
			http.NotFound(w, r)
			return
		}
		name = rest
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		// The key itself is never logged.
		h.log.Info("API request refused: missing or wrong key", zap.String("path", path), zap.String("remote", r.RemoteAddr))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := httpbody.Read(w, r, h.opts.MaxBodySize)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.log.Warn("API request body too large", zap.String("path", path), zap.Int64("limit", tooBig.Limit))
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		h.log.Warn("cannot read API request body", zap.String("path", path), zap.Error(err))
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	switch {
	case legacy:
		h.serveLegacy(w, r, body)
	case name == "batch":
		h.serveBatch(w, r, body)
	default:
		h.serveMethod(w, r, name, body)
	}
}

// authorized checks the key as Centrifugo's APIKeyAuth does: X-API-Key if
// that header is present, else "Authorization: apikey <key>" (scheme in any
// case); then, if neither matched, the api_key query parameter.
func (h *handler) authorized(r *http.Request) bool {
	if h.opts.Insecure {
		return true
	}
	if h.opts.Key == "" {
		h.log.Error("API request refused: no API key is configured (api.key)")
		return false
	}
	ok := false
	if v := r.Header.Get("X-API-Key"); v != "" {
		ok = equal(v, h.opts.Key)
	} else if v := r.Header.Get("Authorization"); v != "" {
		parts := strings.Fields(v)
		ok = len(parts) == 2 && strings.EqualFold(parts[0], "apikey") && equal(parts[1], h.opts.Key)
	}
	if !ok && r.URL.RawQuery != "" {
		ok = equal(r.URL.Query().Get("api_key"), h.opts.Key)
	}
	return ok
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (h *handler) serveMethod(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	started := time.Now()
	res, e, err := h.methods[name](h, r.Context(), body)
	if err != nil {
		h.badRequest(w, r, err)
		return
	}
	h.observe(name, e, started)
	if e != nil {
		if h.opts.ErrorMode == TransportErrorMode || r.Header.Get("X-Centrifugo-Error-Mode") == TransportErrorMode {
			h.writeJSON(w, httpStatus(e), e)
			return
		}
		h.writeJSON(w, http.StatusOK, struct {
			Error *Error `json:"error"`
		}{e})
		return
	}
	h.writeJSON(w, http.StatusOK, struct {
		Result any `json:"result"`
	}{res})
}

// serveBatch answers a batch; its errors are always inside the replies,
// whatever the error mode (Centrifugo handleBatch).
func (h *handler) serveBatch(w http.ResponseWriter, r *http.Request, body []byte) {
	var req batchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		h.badRequest(w, r, err)
		return
	}
	started := time.Now()
	resp := h.x.batch(r.Context(), &req)
	if h.opts.Observe != nil {
		for _, rep := range resp.Replies {
			h.observe("batch", rep.Error, started)
		}
	}
	h.writeJSON(w, http.StatusOK, resp)
}

func (h *handler) observe(name string, e *Error, started time.Time) {
	if h.opts.Observe == nil {
		return
	}
	var code uint32
	if e != nil {
		code = e.Code
	}
	h.opts.Observe(name, code, time.Since(started))
}

func (h *handler) badRequest(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Info("undecodable API request", zap.String("path", r.URL.Path), zap.Error(err))
	http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
}

func (h *handler) writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.Error("cannot encode API reply", zap.Error(err))
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}
