package poller

import (
	"bufio"
	"github.com/xh-control/gateway/internal/wstest"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
)

// TestIdleConnectionsHoldNoGoroutines is the proof that the gateway does
// not run a goroutine per connection: 5,000 upgraded, idle connections leave
// the process's goroutine count within a small constant of what it was
// before they connected.
func TestIdleConnectionsHoldNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 sockets")
	}
	const conns = 5000
	srv, addr := startServer(t, Options{WorkerIdleTime: 20 * time.Millisecond, TickInterval: 10 * time.Millisecond}, handler.Echo{})
	before := settledGoroutines()

	clients := wstest.DialAll(t, conns, func(i int) (net.Conn, error) { return upgradeRaw(addr) })
	waitUntil(t, "all sessions registered", func() bool { return srv.Hub().Count() == conns })
	waitUntil(t, "idle workers trimmed", func() bool { busy, _ := srv.PoolStats(); return busy == 0 })

	after := settledGoroutines()
	t.Logf("goroutines: %d before, %d with %d idle connections", before, after, conns)
	if after > before+10 {
		t.Fatalf(
			"%d goroutines with %d idle connections, %d before: a goroutine per connection?",
			after, conns, before,
		)
	}
	// The idle connections still work. (On a slow machine the heartbeat may
	// have pinged them meanwhile: pings are skipped.)
	for _, c := range clients[:10] {
		c.Write(maskedFrame(true, opText, []byte("ping?")))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for {
			h, p, err := readServerFrame(br)
			if err == nil && h.Op == opPing {
				continue
			}
			if err != nil || h.Op != opText || !h.Fin || string(p) != "ping?" {
				t.Fatalf(
					"echo after idling: %+v %q %v",
					h, p, err,
				)
			}
			break
		}
	}
}

// upgradeRaw opens a WebSocket connection without any goroutine of its own.
func upgradeRaw(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(handshakeRequest("/ws"))); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || br.Buffered() > 0 {
		c.Close()
		if err == nil {
			err = &net.OpError{Op: "upgrade", Err: net.UnknownNetworkError(resp.Status)}
		}
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// settledGoroutines counts goroutines once short-lived ones have exited.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return m
		}
		n = m
	}
	return n
}
