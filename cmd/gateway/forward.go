package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/session"
)

// forwarded is a raw push API request (/api/v1/sessions/{id}/send or
// DELETE /api/v1/sessions/{id}) for a session of another node, carried to
// that node on the control plane.
type forwarded struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	RawQuery    string `json:"query,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// withSessionForwarding sends push API calls for sessions of other nodes
// (a session ID's top 16 bits are its node_id, pkg/session/id.go) to that
// node, which applies them to its own admin handler; the caller gets 202
// with the node, since the control plane carries no answer back. Calls for
// this node's sessions, or with a wrong token (next answers them), go to
// next. A node without heartbeats is answered 404.
func withSessionForwarding(next, local http.Handler, e *engine, cfg *Config, log *zap.Logger) http.Handler {
	if e == nil || e.cl == nil || cfg.Admin.Token == "" {
		return next
	}
	self := uint16(cfg.NodeID)
	token := cfg.Admin.Token
	e.cl.OnForward(func(p []byte) {
		var f forwarded
		if json.Unmarshal(p, &f) != nil || !strings.HasPrefix(f.Path, "/api/v1/sessions/") {
			return
		}
		go func() {
			r, err := http.NewRequest(f.Method, f.Path+"?"+f.RawQuery, bytes.NewReader(f.Body))
			if err != nil {
				return
			}
			r.Header.Set("Authorization", "Bearer "+token)
			if f.ContentType != "" {
				r.Header.Set("Content-Type", f.ContentType)
			}
			w := &discard{h: http.Header{}}
			local.ServeHTTP(w, r)
			log.Info("push API call forwarded from another node", zap.String("method", f.Method), zap.String("path", f.Path), zap.Int("status", w.code))
		}()
	})
	maxBody := int64(cfg.Limits.MaxMessageSize) + 4096
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/sessions/")
		idText, send := strings.CutSuffix(rest, "/send")
		if !ok || strings.Contains(idText, "/") || !(send && r.Method == http.MethodPost || !send && r.Method == http.MethodDelete) {
			next.ServeHTTP(w, r)
			return
		}
		id, err := session.ParseID(idText)
		got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err != nil || id.Node() == self || !bearer || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			next.ServeHTTP(w, r)
			return
		}
		node := fmt.Sprint(id.Node())
		reply := func(code int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(v)
		}
		if !e.cl.Live(node) {
			reply(http.StatusNotFound, map[string]string{"error": "no session " + idText + ": its node " + node + " is not live"})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || int64(len(body)) > maxBody {
			reply(http.StatusRequestEntityTooLarge, map[string]string{"error": "body larger than limits.max_message_size"})
			return
		}
		p, _ := json.Marshal(forwarded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"), Body: body})
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := e.cl.Forward(ctx, node, p); err != nil {
			reply(http.StatusServiceUnavailable, map[string]string{"error": "cannot reach node " + node + ": " + err.Error()})
			return
		}
		reply(http.StatusAccepted, map[string]any{"forwarded": true, "session": idText, "node": id.Node()})
	})
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	return len(p), nil
}
func (d *discard) WriteHeader(code int) { d.code = code }
