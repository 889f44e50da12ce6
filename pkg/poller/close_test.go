package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/session"
)

// TestProtocolErrorsCloseWithTheRightCode sends malformed frames over a raw
// socket and checks the close code, that the server ends the connection, and
// that other sessions are unharmed.
func TestProtocolErrorsCloseWithTheRightCode(t *testing.T) {
	srv, addr := startServer(t, Options{MaxMessageSize: 4096}, handler.Echo{})
	bystander := dialRaw(t, addr)
	bystander.upgrade("/ws")
	masked := func(fin bool, op byte, p string) []byte {
		return maskedFrame(fin, op, []byte(p))
	}
	huge := []byte{0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4} // announces 2^62 bytes
	cases := []struct {
		name  string
		bytes []byte
		code  int
	}{
		{name: "unmasked frame", bytes: []byte{0x81, 2, 'h', 'i'}, code: 1002},
		{name: "reserved opcode", bytes: masked(true, 5, ""), code: 1002},
		{name: "rsv bits", bytes: append([]byte{0xC1}, masked(true, opText, "x")[1:]...), code: 1002},
		{name: "fragmented ping", bytes: masked(false, opPing, ""), code: 1002},
		{name: "long ping", bytes: masked(true, opPing, strings.Repeat("p", 126)), code: 1002},
		{name: "continuation without start", bytes: masked(true, opContinuation, "x"), code: 1002},
		{name: "close with 1 byte", bytes: masked(true, opClose, "\x03"), code: 1002},
		{name: "close with code 1005", bytes: masked(true, opClose, "\x03\xed"), code: 1002},
		{name: "invalid utf-8", bytes: masked(true, opText, "\xed\xa0\x80"), code: 1007},
		{name: "invalid utf-8 in close reason", bytes: masked(true, opClose, "\x03\xe8\xff"), code: 1007},
		{name: "invalid utf-8 in a first fragment", bytes: masked(false, opText, "ok\xf4\x90"), code: 1007},
		{name: "message over the limit", bytes: masked(true, opBinary, strings.Repeat("b", 4097)), code: 1009},
		{name: "fragments over the limit", bytes: append(masked(false, opBinary, strings.Repeat("b", 4000)), masked(true, opContinuation, strings.Repeat("b", 97))...), code: 1009},
		{name: "announced one byte over the limit", bytes: masked(true, opBinary, strings.Repeat("b", 4097))[:20], code: 1009},
		{name: "2^62 bytes announced", bytes: huge, code: 1009},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.upgrade("/ws")
			c.send(string(tc.bytes))
			c.expectClose(tc.code)
		})
	}
	// Exactly at the limit is allowed, whole and in fragments.
	t.Run("message at the limit", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		p := bytes.Repeat([]byte("L"), 4096)
		c.writeFrame(true, opBinary, p)
		if f, err := c.readFrame(5 * time.Second); err != nil || f.op != opBinary || !bytes.Equal(f.payload, p) {
			t.Fatalf(
				"op %d, %s, %v",
				f.op, diff(f.payload, p), err,
			)
		}
		c.writeFrame(false, opBinary, p[:4000])
		c.writeFrame(false, opContinuation, p[4000:4095])
		c.writeFrame(true, opContinuation, p[4095:])
		if f, err := c.readFrame(5 * time.Second); err != nil || f.op != opBinary || !bytes.Equal(f.payload, p) {
			t.Fatalf(
				"in fragments: op %d, %s, %v",
				f.op, diff(f.payload, p), err,
			)
		}
	})
	bystander.writeFrame(true, opText, []byte("still here"))
	if f, err := bystander.readFrame(5 * time.Second); err != nil || string(f.payload) != "still here" {
		t.Fatalf(
			"bystander: %q %v",
			f.payload, err,
		)
	}
	waitUntil(t, "failed sessions cleaned up", func() bool { return srv.Hub().Count() == 1 })
}

// TestCloseHandshake checks both directions of the closing handshake.
func TestCloseHandshake(t *testing.T) {
	srv, addr := startServer(t, Options{}, handler.Echo{})
	t.Run("client starts", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		c.writeFrame(true, opClose, closePayload(4001, "bye"))
		c.expectClose(4001)
	})
	t.Run("client starts without a code", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		c.writeFrame(true, opClose, nil)
		f, err := c.readFrame(5 * time.Second)
		if err != nil || f.op != opClose || len(f.payload) != 0 {
			t.Fatalf(
				"answer %v %q %v, want an empty close",
				f.op, f.payload, err,
			)
		}
		c.expectEOF()
	})
	t.Run("server starts", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		s := firstSession(t, srv)
		s.Close(4002, "kicked")
		f, err := c.readFrame(5 * time.Second)
		if err != nil || f.op != opClose || f.closeCode() != 4002 {
			t.Fatalf(
				"got %v %q %v",
				f.op, f.payload, err,
			)
		}
		c.writeFrame(true, opClose, f.payload)
		c.expectEOF()
	})
	waitUntil(t, "sessions cleaned up", func() bool { return srv.Hub().Count() == 0 })
}

// TestPingIsAnsweredWithPong checks the pong echoes the ping's payload.
func TestPingIsAnsweredWithPong(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := dialRaw(t, addr)
	c.upgrade("/ws")
	c.writeFrame(true, opPing, []byte("are you there"))
	f, err := c.readFrame(5 * time.Second)
	if err != nil || f.op != opPong || string(f.payload) != "are you there" {
		t.Fatalf(
			"got %v %q %v",
			f.op, f.payload, err,
		)
	}
}

// TestHeartbeatAndIdleTimeout: a silent client is pinged, and closed with
// 1001 when it stays silent; a client that answers pings stays.
func TestHeartbeatAndIdleTimeout(t *testing.T) {
	srv, addr := startServer(t, Options{Session: session.Options{
		PingInterval: 100 * time.Millisecond,
		IdleTimeout:  400 * time.Millisecond,
	}}, handler.Echo{})
	silent := dialRaw(t, addr)
	silent.upgrade("/ws")
	upgraded := time.Now()
	// The silent client reads (it only never answers), so that the close
	// frame's arrival is seen when it comes.
	silentClose := make(chan time.Duration, 1)
	go func() {
		for {
			f, err := silent.readFrame(5 * time.Second)
			if err != nil {
				silentClose <- -1
				return
			}
			if f.op == opClose && f.closeCode() == 1001 {
				silentClose <- time.Since(upgraded)
				return
			}
		}
	}()
	lively := dialRaw(t, addr)
	lively.upgrade("/ws")
	deadline := time.Now().Add(900 * time.Millisecond)
	pings := 0
	for time.Now().Before(deadline) {
		f, err := lively.readFrame(time.Until(deadline))
		if err != nil {
			break
		}
		if f.op == opPing {
			pings++
			lively.writeFrame(true, opPong, f.payload)
		}
	}
	if pings < 2 {
		t.Fatalf(
			"lively client got %d pings in 900ms, want several",
			pings,
		)
	}
	// Closed for silence at the idle timeout (400ms), give or take the
	// hub's clock, which moves by ticks (under 100ms here).
	switch d := <-silentClose; {
	case d < 0:
		t.Fatal("silent client: no close 1001")
	case d < 300*time.Millisecond || d > 800*time.Millisecond:
		t.Fatalf(
			"silent client closed %v after the upgrade, want 300ms to 800ms",
			d,
		)
	}
	silent.expectEOF()
	if srv.Hub().Stats().IdleTimeouts.Load() != 1 || srv.Hub().Count() != 1 {
		t.Fatalf(
			"idle timeouts %d, sessions %d; want 1 and 1",
			srv.Hub().Stats().IdleTimeouts.Load(), srv.Hub().Count(),
		)
	}
}

// TestHandlerPanicClosesOnlyThatSession: a panicking handler's connection
// gets close 1011 and the end of the TCP connection within panicBound, far
// under the close timeout (the server fails the connection rather than
// waiting for an answer), and the process and other sessions carry on.
func TestHandlerPanicClosesOnlyThatSession(t *testing.T) {
	const closeTimeout = 5 * time.Second
	const panicBound = time.Second
	h := session.HandlerFuncs{Message: func(s *session.Session, m session.Message) {
		if string(m.Data) == "panic" {
			panic("handler bug")
		}
		s.Send(m.Type, m.Data)
	}}
	srv, addr := startServer(t, Options{Session: session.Options{CloseTimeout: closeTimeout}}, h)
	victim := dialRaw(t, addr)
	victim.upgrade("/ws")
	other := dialRaw(t, addr)
	other.upgrade("/ws")
	echo := func(what string) {
		t.Helper()
		p := []byte(strings.Repeat(what, 30))
		other.writeFrame(true, opText, p)
		if f, err := other.readFrame(5 * time.Second); err != nil || !bytes.Equal(f.payload, p) {
			t.Fatalf(
				"other session: %s %v",
				diff(f.payload, p), err,
			)
		}
	}
	echo("before ")
	start := time.Now()
	victim.writeFrame(true, opText, []byte("panic"))
	f, err := victim.readFrame(panicBound)
	if err != nil || f.op != opClose || f.closeCode() != 1011 {
		t.Fatalf(
			"victim: op %d %q %v, want close 1011 within %v",
			f.op, f.payload, err, panicBound,
		)
	}
	// The client does not answer: the server must not wait for it.
	victim.conn.SetReadDeadline(start.Add(panicBound))
	if n, err := victim.br.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf(
			"victim: read %d bytes, %v; want the connection closed within %v of the panic (close timeout %v)",
			n, err, panicBound, closeTimeout,
		)
	}
	victim.conn.Close() // the server's FIN came; hanging up ends the session
	echo("after ")
	if srv.Stats().Panics.Load() != 1 {
		t.Fatalf(
			"panics counted %d",
			srv.Stats().Panics.Load(),
		)
	}
	waitUntil(t, "victim's session gone", func() bool { return srv.Hub().Count() == 1 })
	other.conn.Close() // so that the server's shutdown need not wait for it
	waitUntil(t, "other session gone", func() bool { return srv.Hub().Count() == 0 })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestGracefulShutdown checks the order of a graceful shutdown and its
// timing: every client gets close 1001 at once; the server keeps each
// connection open until that client answers (each waits replyDelay); it
// ends the connection promptly after the answer; Shutdown returns nil only
// after the last answer, and promptly; new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	const clients = 8
	const replyDelay = 300 * time.Millisecond
	const prompt = time.Second // bound on each reaction of the server
	srv := New(Options{Session: session.Options{CloseTimeout: time.Minute}}, handler.Echo{})
	ln := listenLoopback(t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	waitUntil(t, "ready", srv.Ready)
	addr := ln.Addr().String()
	type timeline struct {
		closeAt, replyAt, eofAt time.Time
		err                     error
	}
	results := make(chan timeline, clients)
	var conns []*rawClient
	for range clients {
		c := dialRaw(t, addr)
		c.upgrade("/ws")
		conns = append(conns, c)
	}
	waitUntil(t, "sessions open", func() bool { return srv.Hub().Count() == clients })
	for _, c := range conns {
		go func() {
			var tl timeline
			defer func() { results <- tl }()
			f, err := c.readFrame(5 * time.Second)
			tl.closeAt = time.Now()
			if err != nil || f.op != opClose || f.closeCode() != 1001 {
				tl.err = fmt.Errorf("got op %d %q %v, want close 1001", f.op, f.payload, err)
				return
			}
			// The server must wait for the answer: nothing more arrives, and
			// the connection stays open, while the client takes its time.
			c.conn.SetReadDeadline(time.Now().Add(replyDelay))
			if n, err := c.br.Read(make([]byte, 1)); !isTimeout(err) {
				tl.err = fmt.Errorf("before the answer: read %d bytes, %v; want the connection open and silent", n, err)
				return
			}
			tl.replyAt = time.Now()
			c.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.conn.Write(maskedFrame(true, opClose, f.payload)); err != nil {
				tl.err = fmt.Errorf("answer: %w", err)
				return
			}
			c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.br.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				tl.err = fmt.Errorf("after the answer: read %d bytes, %v; want the end of the connection", n, err)
				return
			}
			tl.eofAt = time.Now()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf(
			"Shutdown: %v",
			err,
		)
	}
	done := time.Now()
	var lastReply time.Time
	for range clients {
		tl := <-results
		if tl.err != nil {
			t.Fatal(tl.err)
		}
		if d := tl.closeAt.Sub(start); d > prompt {
			t.Errorf(
				"close frame %v after Shutdown began, want under %v",
				d, prompt,
			)
		}
		if d := tl.eofAt.Sub(tl.replyAt); d > prompt {
			t.Errorf(
				"connection ended %v after the answer, want under %v",
				d, prompt,
			)
		}
		if tl.replyAt.After(lastReply) {
			lastReply = tl.replyAt
		}
	}
	if !done.After(lastReply) {
		t.Fatalf(
			"Shutdown returned %v before the last client answered",
			lastReply.Sub(done),
		)
	}
	if d := done.Sub(lastReply); d > prompt {
		t.Fatalf(
			"Shutdown returned %v after the last answer, want under %v",
			d, prompt,
		)
	}
	select {
	case err := <-served:
		if err != ErrServerClosed {
			t.Fatalf(
				"Serve returned %v",
				err,
			)
		}
	case <-time.After(prompt):
		t.Fatal("Serve did not return after Shutdown")
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil); err == nil {
		t.Fatal("connection accepted after shutdown")
	}
}

// TestShutdownTimeoutClosesUnresponsiveClients: clients that never answer
// the close frame are cut off when the shutdown context ends.
func TestShutdownTimeoutClosesUnresponsiveClients(t *testing.T) {
	srv := New(Options{Session: session.Options{CloseTimeout: time.Minute}}, handler.Echo{})
	ln := listenLoopback(t)
	go srv.Serve(ln)
	waitUntil(t, "ready", srv.Ready)
	c := dialRaw(t, ln.Addr().String())
	c.upgrade("/ws") // and never reads or answers
	waitUntil(t, "session open", func() bool { return srv.Hub().Count() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown reported a clean shutdown")
	}
	// It waits for the context, and not much longer.
	if took := time.Since(start); took < 300*time.Millisecond || took > 1300*time.Millisecond {
		t.Fatalf(
			"Shutdown took %v, want the context's 300ms (within 1s)",
			took,
		)
	}
	f, _ := c.readFrame(time.Second)
	if f.op != opClose || f.closeCode() != 1001 {
		t.Fatalf(
			"got %v %q, want close 1001 before the cut",
			f.op, f.payload,
		)
	}
	c.expectEOF()
	if srv.Hub().Count() != 0 {
		t.Fatal("session left after shutdown")
	}
}

// TestSlowConsumerDoesNotHurtOthers: a client that never reads while the
// server pushes to it (frames from elsewhere, not replies to its own input)
// fills its queue and is closed (close policy) or has messages dropped
// (drop policy), while a normal client keeps echoing and memory stays
// bounded.
func TestSlowConsumerDoesNotHurtOthers(t *testing.T) {
	for _, policy := range []session.Policy{session.PolicyClose, session.PolicyDrop} {
		t.Run(policy.String(), func(t *testing.T) {
			srv, addr := startServer(t, Options{Session: session.Options{
				QueueMaxBytes: 256 << 10,
				SlowConsumer:  policy,
				WriteTimeout:  30 * time.Second, // the policy, not the deadline, must act
			}}, handler.Echo{})
			slow := dialRaw(t, addr)
			slow.upgrade("/ws")
			slowSession := firstSession(t, srv)
			normal, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer normal.Close()
			stop := make(chan struct{})
			sent := make(chan int, 1)
			go func() { // the server pushes 64 KiB messages, 64 MB/s, to a client that never reads
				msg := make([]byte, 64<<10)
				n := 0
				defer func() { sent <- n }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := slowSession.Send(session.Binary, msg); err != nil && err != session.ErrQueueFull {
						return
					}
					n++
					time.Sleep(time.Millisecond)
				}
			}()
			msg := bytes.Repeat([]byte("n"), 100)
			for i := range 200 {
				normal.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if err := normal.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					t.Fatal(err)
				}
				normal.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, got, err := normal.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf(
						"normal client, message %d: %v",
						i, err,
					)
				}
			}
			st := srv.Hub().Stats()
			switch policy {
			case session.PolicyClose:
				waitUntil(t, "slow consumer closed", func() bool { return st.SlowConsumerCloses.Load() == 1 })
				close(stop)
				<-sent
				// Reading now drains the messages the kernel buffered, then
				// the close frame the policy queued.
				slow.expectClose(1008)
				slow.conn.Close() // the server sent FIN after the close frame; hanging up ends it
				waitUntil(t, "slow session gone", func() bool { return srv.Hub().Count() == 1 })
			case session.PolicyDrop:
				waitUntil(t, "messages dropped", func() bool { return st.Dropped.Load() > 0 })
				close(stop)
				<-sent
				if srv.Hub().Count() != 2 {
					t.Fatal("drop policy closed a session")
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > 256<<20 {
				t.Fatalf(
					"heap in use %d MiB after a slow consumer: not bounded",
					ms.HeapInuse>>20,
				)
			}
		})
	}
}

// liveHeap is the heap that survives two collections (the second empties
// the sync.Pools' victim caches).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestFloodAfterCloseIsCutOff: a client that keeps sending after the server
// closed its session (it is not reading, or does not care) is disconnected
// once it sent more than a budget (4 MiB), instead of being read until the
// close timeout.
func TestFloodAfterCloseIsCutOff(t *testing.T) {
	srv, addr := startServer(t, Options{Session: session.Options{CloseTimeout: time.Minute}}, handler.Echo{})
	c := dialRaw(t, addr)
	c.upgrade("/ws")
	s := firstSession(t, srv)
	s.Close(4000, "go away")
	frame := maskedFrame(true, opBinary, make([]byte, 16<<10))
	start := time.Now()
	for {
		c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.conn.Write(frame); err != nil {
			break // cut off
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the flood was read for 10 seconds after the close")
		}
	}
	waitUntil(t, "session gone", func() bool { return srv.Hub().Count() == 0 })
}

// firstSession waits for a session to be registered and returns it.
func firstSession(t *testing.T, srv *Server) *session.Session {
	t.Helper()
	var s *session.Session
	waitUntil(t, "session registered", func() bool {
		srv.Hub().Registry().Range(func(x *session.Session) bool { s = x; return false })
		return s != nil
	})
	return s
}
