package admin

import (
	"container/heap"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/internal/httpbody"
	"github.com/xh-control/gateway/internal/metric"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/session"
)

// readMessage reads a push request's body as a message: text unless the
// query says binary=1, bounded by the message size limit.
func (h *Handler) readMessage(w http.ResponseWriter, r *http.Request) (session.MessageType, []byte, bool) {
	typ := session.Text
	if b := r.URL.Query().Get("binary"); b == "1" || b == "true" {
		typ = session.Binary
	}
	body, err := httpbody.Read(w, r, h.opts.MaxMessageSize)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "message larger than limits.max_message_size ("+strconv.FormatInt(h.opts.MaxMessageSize, 10)+" bytes)")
		return 0, nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return 0, nil, false
	case typ == session.Text && !utf8.Valid(body):
		writeError(w, http.StatusBadRequest, "a text message must be valid UTF-8; send bytes with ?binary=1")
		return 0, nil, false
	}
	return typ, body, true
}

// broadcast sends the body to every session: POST /api/v1/broadcast.
func (h *Handler) broadcast(w http.ResponseWriter, r *http.Request) {
	typ, body, ok := h.readMessage(w, r)
	if !ok {
		return
	}
	n := h.srv.Hub().Broadcast(typ, body)
	writeJSON(w, http.StatusOK, map[string]any{"delivered": n, "bytes": len(body), "type": typ.String()})
}

// session finds the session named in the path, or answers 400/404.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	id, err := session.ParseID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "session id "+strconv.Quote(r.PathValue("id"))+": "+err.Error())
		return nil, false
	}
	s, ok := h.srv.Hub().Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no open session "+id.String()+" on this node")
		return nil, false
	}
	return s, true
}

// send queues the body for one session: POST /api/v1/sessions/{id}/send.
func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(w, r)
	if !ok {
		return
	}
	typ, body, ok := h.readMessage(w, r)
	if !ok {
		return
	}
	switch err := s.Send(typ, body); {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"sent": true, "session": s.ID().String(), "bytes": len(body)})
	case errors.Is(err, session.ErrClosed):
		writeError(w, http.StatusGone, "session "+s.ID().String()+" is closing")
	default: // queue full: dropped, or the session is being closed as a slow consumer
		writeError(w, http.StatusTooManyRequests, err.Error())
	}
}

// kick closes one session: DELETE /api/v1/sessions/{id}?code=&reason=.
func (h *Handler) kick(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(w, r)
	if !ok {
		return
	}
	code := codec.StatusNormalClosure
	if c := r.URL.Query().Get("code"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || !codec.StatusCode(n).ValidOnWire() {
			writeError(w, http.StatusBadRequest, "code "+strconv.Quote(c)+": want 1000-1003, 1007-1014 or 3000-4999")
			return
		}
		code = codec.StatusCode(n)
	}
	reason := r.URL.Query().Get("reason")
	if len(reason) > 123 || !utf8.ValidString(reason) {
		writeError(w, http.StatusBadRequest, "reason: at most 123 bytes of UTF-8")
		return
	}
	if err := s.Close(code, reason); err != nil {
		writeError(w, http.StatusGone, "session "+s.ID().String()+" is already closing")
		return
	}
	h.log.Info("session kicked through the admin API", zap.Stringer("session", s.ID()),
		zap.Stringer("ip", s.ClientIP()), zap.Int("code", int(code)), zap.String("reason", reason))
	writeJSON(w, http.StatusOK, map[string]any{"closing": true, "session": s.ID().String(), "code": int(code)})
}

type sessionJSON struct {
	ID          string    `json:"id"`
	IP          string    `json:"ip"`
	Remote      string    `json:"remote"`
	ConnectedAt time.Time `json:"connected_at"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	Compression bool      `json:"compression"`
}

func describe(s *session.Session) sessionJSON {
	in, out, min, mout := s.Traffic()
	info := s.Info()
	return sessionJSON{
		ID: s.ID().String(), IP: info.ClientIP.String(), Remote: info.Remote.String(),
		ConnectedAt: s.ConnectedAt().UTC(), BytesIn: in, BytesOut: out, MessagesIn: min, MessagesOut: mout,
		Compression: info.Compression,
	}
}

// get describes one session: GET /api/v1/sessions/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	if s, ok := h.session(w, r); ok {
		writeJSON(w, http.StatusOK, describe(s))
	}
}

const (
	defaultPage = 100
	maxPage     = 1000
)

// list pages through the sessions in ID order: GET
// /api/v1/sessions?limit=&cursor=. The cursor is the last ID of the previous
// page; sessions opened meanwhile with a larger ID appear on later pages.
// A page costs one pass over the registry and keeps only limit sessions.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	limit := defaultPage
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPage {
			writeError(w, http.StatusBadRequest, "limit "+strconv.Quote(l)+": want 1 to "+strconv.Itoa(maxPage))
			return
		}
		limit = n
	}
	var after session.ID
	if c := r.URL.Query().Get("cursor"); c != "" {
		id, err := session.ParseID(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, "cursor "+strconv.Quote(c)+": "+err.Error())
			return
		}
		after = id
	}
	// Keep the limit+1 smallest IDs above the cursor in a max-heap; the
	// extra one tells whether there is a next page.
	page := &idHeap{}
	h.srv.Hub().Registry().Range(func(s *session.Session) bool {
		if s.ID() <= after {
			return true
		}
		if page.Len() <= limit {
			heap.Push(page, s)
		} else if s.ID() < (*page)[0].ID() {
			(*page)[0] = s
			heap.Fix(page, 0)
		}
		return true
	})
	sorted := make([]*session.Session, page.Len())
	for i := len(sorted) - 1; i >= 0; i-- {
		sorted[i] = heap.Pop(page).(*session.Session)
	}
	next := ""
	if len(sorted) > limit {
		sorted = sorted[:limit]
		next = sorted[limit-1].ID().String()
	}
	out := make([]sessionJSON, len(sorted))
	for i, s := range sorted {
		out[i] = describe(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out, "next_cursor": next, "total": h.srv.Hub().Count()})
}

// idHeap is a max-heap of sessions by ID.
type idHeap []*session.Session

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i].ID() > h[j].ID() }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(*session.Session)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// stats summarises the node: GET /api/v1/stats.
func (h *Handler) stats(w http.ResponseWriter, _ *http.Request) {
	hs := h.srv.Hub().Stats()
	ps := h.srv.Stats()
	busy, queued := h.srv.PoolStats()
	rejections := map[string]uint64{}
	ps.EachRejection(func(reason string, n uint64) { rejections[reason] = n })
	writeJSON(w, http.StatusOK, map[string]any{
		"version":              h.opts.Version,
		"uptime_seconds":       int64(time.Since(h.started).Seconds()),
		"ready":                h.srv.Ready(),
		"sessions":             h.srv.Hub().Count(),
		"sessions_opened":      hs.Opened.Load(),
		"sessions_closed":      hs.Closed.Load(),
		"handshakes_pending":   h.srv.HandshakesInProgress(),
		"tcp_accepted":         ps.Accepted.Load(),
		"handshake_rejections": rejections,
		"messages_in":          total(&hs.MessagesIn),
		"messages_out":         total(&hs.MessagesOut),
		"bytes_in":             total(&hs.BytesIn),
		"bytes_out":            total(&hs.BytesOut),
		"dropped":              hs.Dropped.Load(),
		"slow_consumer_closes": hs.SlowConsumerCloses.Load(),
		"write_timeouts":       hs.WriteTimeouts.Load(),
		"idle_timeouts":        hs.IdleTimeouts.Load(),
		"workers_busy":         busy,
		"worker_queue":         queued,
		"goroutines":           runtime.NumGoroutine(),
	})
}

// total sums a per-opcode counter over all opcodes.
func total(c *[16]metric.StripedCounter) (n uint64) {
	for i := range c {
		n += c[i].Load()
	}
	return n
}
