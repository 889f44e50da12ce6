package session

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

func TestSendWritesFrames(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	s, tr := newTestSession(h)
	if err := s.Send(Text, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Binary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	got := tr.frames(t)
	want := []sentFrame{{op: codec.OpText, payload: "hello"}, {op: codec.OpBinary, payload: "\x00\x01\x02"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf(
			"got %v, want %v",
			got, want,
		)
	}
	if _, out, _, msgs := s.Traffic(); out != 8 || msgs != 2 {
		t.Fatalf(
			"traffic out=%d msgs=%d, want 8 and 2",
			out, msgs,
		)
	}
}

func TestDispatchBatchesIntoOneWrite(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	s, tr := newTestSession(h)
	s.BeginDispatch()
	for i := range 3 {
		s.Send(Text, []byte(fmt.Sprint(i)))
	}
	if tr.writes != 0 {
		t.Fatal("frames were written during dispatch")
	}
	s.EndDispatch()
	if tr.writes != 1 || len(tr.frames(t)) != 3 {
		t.Fatalf(
			"%d writes for %d frames, want 1 write of 3",
			tr.writes, len(tr.frames(t)),
		)
	}
}

// TestSlowConsumerDropPolicy fills the queue of a client that does not read
// and checks that the newest messages are dropped and counted, and that what
// was queued is delivered once the client reads again.
func TestSlowConsumerDropPolicy(t *testing.T) {
	h := NewHub(Options{QueueMaxMessages: 4, SlowConsumer: PolicyDrop}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(0) // the socket is full
	var dropped int
	for i := range 10 {
		switch err := s.Send(Text, []byte(fmt.Sprint(i))); err {
		case nil:
		case ErrQueueFull:
			dropped++
		default:
			t.Fatal(err)
		}
	}
	if dropped != 6 || h.Stats().Dropped.Load() != 6 {
		t.Fatalf(
			"dropped %d (counted %d), want 6",
			dropped, h.Stats().Dropped.Load(),
		)
	}
	tr.setRoom(-1)
	waitFor(t, "queued frames delivered", func() bool { return len(tr.frames(t)) == 4 })
	if !s.Open() {
		t.Fatal("drop policy closed the session")
	}
	if err := s.Send(Text, []byte("after")); err != nil {
		t.Fatalf(
			"send after recovery: %v",
			err,
		)
	}
}

func TestSlowConsumerClosePolicy(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{QueueMaxBytes: 64, CloseTimeout: time.Hour}, rec)
	s, tr := newTestSession(h)
	tr.setRoom(10) // part of the first frame fits, then the socket is full
	payload := strings.Repeat("x", 30)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = s.Send(Text, []byte(payload))
	}
	if err != ErrSlowConsumer {
		t.Fatalf(
			"got %v, want ErrSlowConsumer",
			err,
		)
	}
	if s.Open() || h.Stats().SlowConsumerCloses.Load() != 1 {
		t.Fatal("session not closing after overflow")
	}
	if err := s.Send(Text, []byte("late")); err != ErrClosed {
		t.Fatalf(
			"send after close: %v",
			err,
		)
	}
	tr.setRoom(-1) // the client reads again: it gets the close frame, then FIN
	waitFor(t, "FIN sent", func() bool { _, fin := tr.isClosed(); return fin })
	h.Tick(time.Now().Add(2 * time.Hour)) // the client never hangs up: the close timeout ends it
	waitFor(t, "transport closed", func() bool { c, _ := tr.isClosed(); return c })
	frames := tr.frames(t)
	last := frames[len(frames)-1]
	if last.op != codec.OpClose || !strings.HasPrefix(last.payload, "\x03\xf0") {
		t.Fatalf(
			"last frame %v, want close 1008",
			last,
		)
	}
	if infos := rec.closeInfos(); len(infos) != 1 || infos[0].Code != codec.StatusPolicyViolation {
		t.Fatalf(
			"OnClose got %v",
			infos,
		)
	}
}

func TestWriteTimeoutClosesTransport(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{WriteTimeout: time.Second}, rec)
	s, tr := newTestSession(h)
	tr.setRoom(0)
	s.Send(Binary, make([]byte, 100))
	waitFor(t, "writer waiting", func() bool { return s.slowSince.Load() != 0 })
	h.Tick(time.Now().Add(500 * time.Millisecond))
	if c, _ := tr.isClosed(); c {
		t.Fatal("closed before the write deadline")
	}
	h.Tick(time.Now().Add(2 * time.Second))
	waitFor(t, "transport closed", func() bool { c, _ := tr.isClosed(); return c })
	if h.Stats().WriteTimeouts.Load() != 1 || len(rec.closeInfos()) != 1 || h.Count() != 0 {
		t.Fatalf(
			"write timeouts %d, closes %v, open %d",
			h.Stats().WriteTimeouts.Load(), rec.closeInfos(), h.Count(),
		)
	}
}

func TestHeartbeatPingsThenClosesIdleSessions(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{PingInterval: time.Second, IdleTimeout: 3 * time.Second}, rec)
	s, tr := newTestSession(h)
	start := time.Now()
	h.Tick(start.Add(500 * time.Millisecond))
	if n := len(tr.frames(t)); n != 0 {
		t.Fatalf(
			"%d frames before the ping interval",
			n,
		)
	}
	h.Tick(start.Add(1100 * time.Millisecond))
	h.Tick(start.Add(1200 * time.Millisecond)) // no second ping within the interval
	waitFor(t, "ping written by a flusher", func() bool { return len(tr.frames(t)) > 0 })
	h.waitFlushed()
	if f := tr.frames(t); len(f) != 1 || f[0].op != codec.OpPing {
		t.Fatalf(
			"got %v, want one ping",
			f,
		)
	}
	// Inbound bytes reset the idle clock.
	s.BeginDispatch()
	s.EndDispatch()
	h.Tick(start.Add(2500 * time.Millisecond))
	if !s.Open() {
		t.Fatal("closed although the client spoke")
	}
	h.Tick(start.Add(6 * time.Second))
	waitFor(t, "idle session closed", func() bool { c, _ := tr.isClosed(); return c })
	f := tr.frames(t)
	if last := f[len(f)-1]; last.op != codec.OpClose || !strings.HasPrefix(last.payload, "\x03\xe9") {
		t.Fatalf(
			"last frame %v, want close 1001",
			last,
		)
	}
	if h.Stats().IdleTimeouts.Load() != 1 || h.Stats().PingsSent.Load() < 1 {
		t.Fatal("idle timeout or ping not counted")
	}
}

func TestPeerCloseIsAnsweredWithTheSameCode(t *testing.T) {
	cases := []struct {
		name    string
		code    codec.StatusCode
		payload string
	}{
		{name: "normal", code: 1000, payload: "\x03\xe8"},
		{name: "private", code: 4321, payload: "\x10\xe1"},
		{name: "no status", code: codec.StatusNoStatusReceived, payload: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := NewHub(Options{}, rec)
			s, tr := newTestSession(h)
			s.ReceiveClose(tc.code, []byte("bye"))
			if c, _ := tr.isClosed(); !c {
				t.Fatal("connection not closed after the answer")
			}
			f := tr.frames(t)
			if len(f) != 1 || f[0].op != codec.OpClose || f[0].payload != tc.payload {
				t.Fatalf(
					"answer %v, want close %q",
					f, tc.payload,
				)
			}
			info := rec.closeInfos()
			if len(info) != 1 || info[0].Code != tc.code || !info[0].ByPeer || info[0].Reason != "bye" {
				t.Fatalf(
					"OnClose got %+v",
					info,
				)
			}
		})
	}
}

func TestServerCloseWaitsForTheAnswer(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{CloseTimeout: time.Second}, rec)
	s, tr := newTestSession(h)
	s.Close(codec.StatusGoingAway, "going away")
	if c, _ := tr.isClosed(); c {
		t.Fatal("closed before the client answered")
	}
	s.ReceiveClose(codec.StatusGoingAway, nil)
	if c, _ := tr.isClosed(); !c {
		t.Fatal("not closed after the client answered")
	}

	// A client that never answers is cut off at the close deadline.
	s2, tr2 := newTestSession(h)
	s2.Close(codec.StatusNormalClosure, "")
	h.Tick(time.Now().Add(500 * time.Millisecond))
	if c, _ := tr2.isClosed(); c {
		t.Fatal("closed before the close timeout")
	}
	h.Tick(time.Now().Add(2 * time.Second))
	if c, _ := tr2.isClosed(); !c {
		t.Fatal("not closed after the close timeout")
	}
}

func TestFailSendsCodeAndShutsDownWriting(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	s, tr := newTestSession(h)
	s.Fail(codec.ErrInvalidUTF8)
	f := tr.frames(t)
	if len(f) != 1 || f[0].op != codec.OpClose || !strings.HasPrefix(f[0].payload, "\x03\xef") {
		t.Fatalf(
			"got %v, want close 1007",
			f,
		)
	}
	if closed, fin := tr.isClosed(); closed || !fin {
		t.Fatalf(
			"closed=%v fin=%v; want FIN sent and the connection left to the peer",
			closed, fin,
		)
	}
}

func TestCleanupRunsExactlyOnce(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{}, rec)
	s, tr := newTestSession(h)
	s.Send(Text, []byte("queued"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tr.Close()
			s.TransportClosed("again")
			s.Close(codec.StatusNormalClosure, "")
		})
	}
	wg.Wait()
	if n := len(rec.closeInfos()); n != 1 {
		t.Fatalf(
			"OnClose called %d times",
			n,
		)
	}
	if h.Count() != 0 || h.Stats().Active.Load() != 0 || h.Stats().Closed.Load() != 1 {
		t.Fatalf(
			"registry %d, active %d, closed %d",
			h.Count(), h.Stats().Active.Load(), h.Stats().Closed.Load(),
		)
	}
	if err := s.Send(Text, nil); err != ErrClosed {
		t.Fatalf(
			"send after cleanup: %v",
			err,
		)
	}
}

// TestConcurrentSendersKeepPerSenderOrder runs many senders against one
// session under the race detector: every frame arrives whole, once, and in
// each sender's order.
func TestConcurrentSendersKeepPerSenderOrder(t *testing.T) {
	h := NewHub(Options{QueueMaxMessages: 100000, QueueMaxBytes: 1 << 30}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(1000)
	const senders, each = 8, 500
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := s.Send(Text, fmt.Appendf(nil, "%d:%d", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() {
		for range 50 {
			tr.setRoom(1000)
			time.Sleep(time.Millisecond)
		}
		tr.setRoom(-1)
	}()
	wg.Wait()
	waitFor(t, "all frames written", func() bool { return len(tr.frames(t)) == senders*each })
	next := make([]int, senders)
	for _, f := range tr.frames(t) {
		var g, i int
		fmt.Sscanf(f.payload, "%d:%d", &g, &i)
		if i != next[g] {
			t.Fatalf(
				"sender %d: got %d, want %d",
				g, i, next[g],
			)
		}
		next[g]++
	}
}

func TestBroadcastSharesOneEncoding(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	var transports []*memTransport
	for range 600 {
		_, tr := newTestSession(h)
		transports = append(transports, tr)
	}
	if n := h.Broadcast(Text, []byte("to all")); n != len(transports) {
		t.Fatalf(
			"delivered to %d of %d",
			n, len(transports),
		)
	}
	for _, tr := range transports { // the hub's flushers write after Broadcast returns
		waitFor(t, "broadcast written", func() bool { return len(tr.frames(t)) == 1 })
	}
	first := &transports[0].vectors[0][0]
	for i, tr := range transports {
		if f := tr.frames(t); len(f) != 1 || f[0].payload != "to all" {
			t.Fatalf(
				"session %d got %v",
				i, f,
			)
		}
		if &tr.vectors[0][0] != first {
			t.Fatalf(
				"session %d was written a different copy of the frame",
				i,
			)
		}
	}
}

func TestSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	h := NewHub(Options{}, &recorder{})
	s, tr := newTestSession(h)
	tr.out.Grow(1 << 20)
	payload := make([]byte, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		s.BeginDispatch()
		s.Send(Binary, payload)
		s.EndDispatch()
		tr.out.Reset()
		tr.vectors = tr.vectors[:0]
	})
	if allocs != 0 {
		t.Fatalf(
			"echo path allocates %.1f times per message, want 0",
			allocs,
		)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(
				"timed out waiting for %s",
				what,
			)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPreambleGoesOutFirst: the handshake response is written before
// anything sent to the session, even a broadcast that raced with Open.
func TestPreambleGoesOutFirst(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	tr := newMemTransport()
	tr.setRoom(0) // the response cannot be written yet
	s := h.Open(tr, Info{}, []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
	h.Broadcast(Text, []byte("early news"))
	tr.setRoom(-1)
	waitFor(t, "response and message written", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return strings.HasSuffix(tr.out.String(), "early news")
	})
	tr.mu.Lock()
	out := tr.out.String()
	tr.mu.Unlock()
	if !strings.HasPrefix(out, "HTTP/1.1 101") {
		t.Fatalf(
			"wire starts with %q, want the handshake response",
			out[:min(20, len(out))],
		)
	}
	if _, _, _, msgs := s.Traffic(); msgs != 1 {
		t.Fatalf(
			"the response was counted as a message: %d",
			msgs,
		)
	}
}

func TestOnCloseOnlyAfterOnOpen(t *testing.T) {
	rec := &recorder{}
	h := NewHub(Options{}, rec)
	tr := newMemTransport()
	s := h.Open(tr, Info{}, nil)
	tr.session = s
	tr.Close() // the handshake response could not be written: never started
	if len(rec.closeInfos()) != 0 || h.Count() != 0 {
		t.Fatal("OnClose called for a session the handler never saw")
	}
}

// TestCompressionSharesOneDeflatedFrame: a broadcast to sessions that
// negotiated compression is compressed once; others get the plain frame;
// small messages are not compressed.
func TestCompressionSharesOneDeflatedFrame(t *testing.T) {
	h := NewHub(Options{Compressor: codec.NewCompressor(1), CompressMin: 64}, &recorder{})
	var zipped, plain []*memTransport
	for i := range 6 {
		tr := newMemTransport()
		s := h.Open(tr, Info{Compression: i%2 == 0}, nil)
		tr.session = s
		if i%2 == 0 {
			zipped = append(zipped, tr)
		} else {
			plain = append(plain, tr)
		}
	}
	big := []byte(strings.Repeat("compress me ", 50))
	h.Broadcast(Text, big)
	h.Broadcast(Text, []byte("tiny"))
	for _, tr := range append(zipped, plain...) {
		waitFor(t, "broadcasts written", func() bool { return len(tr.frames(t)) == 2 })
	}
	first := &zipped[0].vectors[0][0]
	for _, tr := range zipped {
		if &tr.vectors[0][0] != first {
			t.Fatal("the compressed frame was built more than once")
		}
		tr.mu.Lock()
		raw := tr.out.Bytes()
		b0, second := raw[0], raw[len(tr.vectors[0])]
		tr.mu.Unlock()
		if b0&0x40 == 0 || len(tr.vectors[0]) >= len(big) {
			t.Fatalf(
				"big message not compressed: first byte %#x, %d bytes",
				b0, len(tr.vectors[0]),
			)
		}
		if second&0x40 != 0 {
			t.Fatal("a message under the threshold was compressed")
		}
	}
	for _, tr := range plain {
		if f := tr.frames(t); len(f) != 2 || f[0].payload != string(big) {
			t.Fatal("a session without compression got a compressed frame")
		}
	}
}
