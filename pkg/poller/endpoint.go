package poller

import (
	"net/http"
	"strings"

	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/session"
)

// Endpoint is a WebSocket endpoint: a path, the handler of the sessions
// opened on it, and the subprotocols it speaks. All endpoints of a server
// share one hub, so session IDs, the registry and the admin API see every
// session whatever its path.
type Endpoint struct {
	Path    string
	Handler session.Handler
	// Subprotocols the endpoint accepts, in no particular order. The first
	// one the client offers in Sec-WebSocket-Protocol (RFC 6455 section
	// 4.2.2) is chosen and echoed; a client that offers only others
	// connects with none. session.Info.Subprotocol is 1 + its index.
	Subprotocols []string
	// QuerySubprotocol, when set, chooses a subprotocol from the request's
	// query string (without the '?') for a client that negotiated none:
	// it returns 1 + an index into Subprotocols, or 0. Nothing is echoed
	// then (the client did not ask in the header).
	QuerySubprotocol func(query []byte) uint8
	// KeepHeaders names upgrade-request headers (case-insensitive) that
	// are passed to OnHeaders once the session is open, before its first
	// message; nothing is kept when empty. The channel protocol forwards
	// them to its backends (Cookie, Authorization, ...).
	KeepHeaders []string
	OnHeaders   func(s *session.Session, h http.Header)
}

// maxEndpoints bounds the endpoints of a server: session.Info.Endpoint is
// a byte.
const maxEndpoints = 256

// endpoint returns the endpoint serving path and its index, or nil.
func (s *Server) endpoint(path []byte) (int, *Endpoint) {
	for i := range s.endpoints {
		if string(path) == s.endpoints[i].Path {
			return i, &s.endpoints[i]
		}
	}
	return -1, nil
}

// paths lists the endpoints' paths, for error messages.
func (s *Server) paths() string {
	var b strings.Builder
	for i, e := range s.endpoints {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Path)
	}
	return b.String()
}

// selectSubprotocol returns a gobwas/ws Protocol callback choosing the first
// offered subprotocol that ep speaks; *chosen becomes 1 + its index.
func (ep *Endpoint) selectSubprotocol(chosen *uint8) func([]byte) bool {
	return func(offered []byte) bool {
		for i, p := range ep.Subprotocols {
			if string(offered) == p {
				*chosen = uint8(i + 1)
				return true
			}
		}
		return false
	}
}

// routeHandler dispatches each session's callbacks to the handler of the
// endpoint it connected to.
type routeHandler []session.Handler

func (r routeHandler) OnOpen(s *session.Session) { r[s.Info().Endpoint].OnOpen(s) }

func (r routeHandler) OnMessage(s *session.Session, m session.Message) {
	r[s.Info().Endpoint].OnMessage(s, m)
}

func (r routeHandler) OnClose(s *session.Session, info session.CloseInfo) {
	r[s.Info().Endpoint].OnClose(s, info)
}

// OnShutdown implements session.ShutdownHandler: each session is told of the
// shutdown the way its endpoint's handler wants, or with 1001.
func (r routeHandler) OnShutdown(s *session.Session) {
	if sh, ok := r[s.Info().Endpoint].(session.ShutdownHandler); ok {
		sh.OnShutdown(s)
		return
	}
	s.Close(codec.StatusGoingAway, "going away")
}
