package poller

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
)

// TestChurnLeaksNothing opens and drops connections every way a client can:
// clean closes, TCP resets mid-session, resets mid-handshake, and plain
// disconnects. Afterwards no session, handshake, descriptor or goroutine may
// be left behind.
func TestChurnLeaksNothing(t *testing.T) {
	srv, addr := startServer(t, Options{WorkerIdleTime: 20 * time.Millisecond, TickInterval: 10 * time.Millisecond}, handler.Echo{})
	fdsBefore := openFDs(t)
	goroutinesBefore := settledGoroutines()
	const cycles = 2000
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < cycles; i += 4 {
				churnOnce(t, addr, i%4)
			}
		})
	}
	wg.Wait()
	waitUntil(t, "sessions and handshakes gone", func() bool {
		return srv.Hub().Count() == 0 && srv.HandshakesInProgress() == 0
	})
	waitUntil(t, "workers idle", func() bool { busy, _ := srv.PoolStats(); return busy == 0 })
	if fds := openFDs(t); fds > fdsBefore+5 {
		t.Fatalf(
			"%d descriptors open after churn, %d before: a leak",
			fds, fdsBefore,
		)
	}
	if g := settledGoroutines(); g > goroutinesBefore+5 {
		t.Fatalf(
			"%d goroutines after churn, %d before",
			g, goroutinesBefore,
		)
	}
	st := srv.Hub().Stats()
	if opened, closed := st.Opened.Load(), st.Closed.Load(); opened != closed || opened < cycles/2 {
		t.Fatalf(
			"sessions opened %d, closed %d",
			opened, closed,
		)
	}
}

func churnOnce(t *testing.T, addr string, how int) {
	switch how {
	case 0: // clean close handshake
		c, err := upgradeRaw(addr)
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(maskedFrame(true, opClose, closePayload(1000, "")))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	case 1: // reset in the middle of a session, with data in flight
		c, err := upgradeRaw(addr)
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(maskedFrame(true, opBinary, make([]byte, 3000)))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	case 2: // reset in the middle of the handshake
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n"))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	case 3: // vanish without a close frame
		c, err := upgradeRaw(addr)
		if err != nil {
			t.Error(err)
			return
		}
		c.Close()
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}
