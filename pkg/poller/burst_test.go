package poller

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/session"
)

// readUntil reads what the server sends until done says the expected
// replies are there, failing on a close frame, an error or the timeout.
// The client reads all along, as a browser does.
func (c *wsConn) readUntil(timeout time.Duration, done func(m wsMessage) bool) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.conn.SetReadDeadline(time.Time{})
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("reading replies: %v", err)
		}
		if m.op == opClose {
			c.t.Fatalf("server closed the connection: %q", m.payload)
		}
		if done(m) {
			return
		}
	}
}

// writeAll writes b in one write call from its own goroutine, so that the
// test reads while it writes, and returns a channel with the result.
func (c *wsConn) writeAll(b []byte) <-chan error {
	errc := make(chan error, 1)
	go func() {
		c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.conn.Write(b)
		errc <- err
	}()
	return errc
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// TestPipelinedFramesAreAllEchoed is issue #8's first input: 2,000 text
// frames in one TCP write, from a client that reads. Before the fix, the
// replies queued during the one dispatch hit the 1,024-message queue limit
// and the client was closed as a slow consumer.
func TestPipelinedFramesAreAllEchoed(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := wsDial(t, addr, false)
	const n = 2000
	var batch []byte
	for i := range n {
		batch = wsFrame(batch, true, false, opText, testKey, fmt.Appendf(nil, "m%d", i))
	}
	errc := c.writeAll(batch)
	i := 0
	c.readUntil(10*time.Second, func(m wsMessage) bool {
		if want := fmt.Sprintf("m%d", i); m.op != opText || string(m.payload) != want {
			t.Fatalf("reply %d: op %d %q, want text %q", i, m.op, m.payload, want)
		}
		i++
		return i == n
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestMaxSizeMessageThenPing is issue #8's second input: a binary message of
// exactly the message size limit (1 MiB) and a ping in one write. Both the
// echo and the pong must come back.
func TestMaxSizeMessageThenPing(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := wsDial(t, addr, false)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	b := wsFrame(nil, true, false, opBinary, testKey, payload)
	b = wsFrame(b, true, false, opPing, testKey, []byte("after"))
	errc := c.writeAll(b)
	gotEcho := false
	c.readUntil(10*time.Second, func(m wsMessage) bool {
		switch {
		case m.op == opBinary && bytes.Equal(m.payload, payload) && !gotEcho:
			gotEcho = true
			return false
		case m.op == opPong && string(m.payload) == "after" && gotEcho:
			return true
		}
		t.Fatalf("unexpected reply: op %d, %d bytes (echo seen: %v)", m.op, len(m.payload), gotEcho)
		return true
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestPingFlood is issue #8's ping flood: 2,000 pings and a text frame in
// one write. The session answers (at least the last ping: RFC 6455 section
// 5.5.3 allows answering only the most recent one), echoes the text and
// stays open.
func TestPingFlood(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := wsDial(t, addr, false)
	const n = 2000
	var b []byte
	for i := range n {
		b = wsFrame(b, true, false, opPing, testKey, fmt.Appendf(nil, "p%d", i))
	}
	b = wsFrame(b, true, false, opText, testKey, []byte("after the pings"))
	errc := c.writeAll(b)
	last, pongs, echoed := -1, 0, false
	c.readUntil(10*time.Second, func(m wsMessage) bool {
		switch m.op {
		case opPong:
			var k int
			if _, err := fmt.Sscanf(string(m.payload), "p%d", &k); err != nil || k <= last || k >= n {
				t.Fatalf("pong %q after pong p%d", m.payload, last)
			}
			last = k
			pongs++
		case opText:
			if string(m.payload) != "after the pings" {
				t.Fatalf("echo %q", m.payload)
			}
			echoed = true
		default:
			t.Fatalf("unexpected op %d", m.op)
		}
		return echoed && last == n-1
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pongs for %d pings", pongs, n)
	// The session is still open and answers.
	if _, err := c.conn.Write(wsFrame(nil, true, false, opPing, testKey, []byte("still there"))); err != nil {
		t.Fatal(err)
	}
	c.readUntil(5*time.Second, func(m wsMessage) bool {
		return m.op == opPong && string(m.payload) == "still there"
	})
}

// TestNonReadingSenderIsHeldByTCP: a client that sends and never reads its
// echoes is not closed as a slow consumer: its replies outrun its socket,
// so the gateway stops reading it, and TCP flow control stops the client.
// What the gateway holds stays bounded, and the write timeout ends it.
func TestNonReadingSenderIsHeldByTCP(t *testing.T) {
	srv, addr := startServer(t, Options{Session: session.Options{
		QueueMaxBytes: 256 << 10,
		WriteTimeout:  2 * time.Second,
	}}, handler.Echo{})
	c := wsDial(t, addr, false)
	frame := wsFrame(nil, true, false, opBinary, testKey, make([]byte, 64<<10))
	sent, stalled := 0, time.Time{}
	for stalled.IsZero() || time.Since(stalled) < time.Second {
		c.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.conn.Write(frame)
		sent += n
		switch {
		case err == nil:
			stalled = time.Time{}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if n > 0 || stalled.IsZero() {
				stalled = time.Now()
			}
		default:
			t.Fatalf("closed after %d MiB: %v", sent>>20, err)
		}
		if sent > 512<<20 {
			t.Fatal("512 MiB sent: the gateway does not stop reading")
		}
	}
	hs := srv.Hub().Stats()
	t.Logf("the client stalled after %.1f MiB; %d read pauses", float64(sent)/(1<<20), srv.Stats().ReadPauses.Load())
	if srv.Stats().ReadPauses.Load() == 0 {
		t.Fatal("reading was never paused")
	}
	if n := hs.SlowConsumerCloses.Load(); n != 0 {
		t.Fatalf("%d slow-consumer closes for a client held by TCP", n)
	}
	waitUntil(t, "write timeout", func() bool { return hs.WriteTimeouts.Load() == 1 && srv.Hub().Count() == 0 })
}
