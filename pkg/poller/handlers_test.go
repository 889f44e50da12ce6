package poller

import (
	"net"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
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

func TestBroadcastHandlerReachesEveryone(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Broadcast{})
	var clients []*rawClient
	for range 5 {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		clients = append(clients, c)
	}
	clients[2].writeFrame(true, opText, []byte("hello room"))
	for i, c := range clients {
		f, err := c.readFrame(5 * time.Second)
		if err != nil || f.op != opText || string(f.payload) != "hello room" {
			t.Fatalf(
				"client %d got %v %q %v",
				i, f.op, f.payload, err,
			)
		}
	}
}
