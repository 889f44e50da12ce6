package poller

import (
	"net"
	"testing"

	"github.com/xh-control/gateway/pkg/session"
)

// recordingHandler reports each session's client IP when it opens.
func recordingHandler(report func(ip string)) session.Handler {
	return session.HandlerFuncs{Open: func(s *session.Session) { report(s.ClientIP().String()) }}
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
