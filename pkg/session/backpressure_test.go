package session

import (
	"fmt"
	"testing"
)

// TestDispatchRepliesPauseInputInsteadOfClosing: replies queued while the
// session's own input is dispatched never meet the slow-consumer policy,
// however many there are and whether or not the socket takes them; past the
// high-water mark the poller is told to pause input, and the session asks
// it to resume once the queue drained below the low-water mark. Frames
// from elsewhere still meet the policy when the socket refuses them.
func TestDispatchRepliesPauseInputInsteadOfClosing(t *testing.T) {
	const limit = 64
	const highWater = limit / 8 // Backlogged: an eighth of the limits
	h := NewHub(Options{QueueMaxMessages: limit}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(0) // the socket takes nothing for now
	s.BeginDispatch()
	for i := range 3 * limit {
		if err := s.Send(Text, fmt.Appendf(nil, "r%d", i)); err != nil {
			t.Fatalf("reply %d during dispatch: %v", i, err)
		}
		if got, want := s.Backlogged(), i+1 >= highWater; got != want {
			t.Fatalf("after %d replies: backlogged %v, want %v", i+1, got, want)
		}
	}
	if !s.PauseInput() {
		t.Fatal("PauseInput: the socket refused everything, want a pause")
	}
	s.EndDispatch()
	if tr.resumeCount() != 0 {
		t.Fatal("resumed before the queue drained")
	}
	// A message from elsewhere while the socket refuses: the policy acts.
	if err := s.Send(Text, []byte("push")); err != ErrSlowConsumer {
		t.Fatalf("push to a full queue whose socket refuses: %v, want ErrSlowConsumer", err)
	}

	// Same again, but the client reads: input resumes exactly once.
	s, tr = newTestSession(h)
	tr.setRoom(0)
	s.BeginDispatch()
	for i := range 2 * limit {
		s.Send(Text, fmt.Appendf(nil, "r%d", i))
	}
	if !s.PauseInput() {
		t.Fatal("PauseInput: want a pause")
	}
	s.EndDispatch()
	tr.setRoom(-1)
	waitFor(t, "input resumed", func() bool { return tr.resumeCount() == 1 })
	waitFor(t, "replies written", func() bool { return len(tr.frames(t)) == 2*limit })
	if s.Backlogged() || !s.Open() || tr.resumeCount() != 1 {
		t.Fatalf("backlogged %v, open %v, resumes %d", s.Backlogged(), s.Open(), tr.resumeCount())
	}
}

// TestPauseInputGoesOnWhenTheSocketTakesTheReplies: a backlog that the
// socket takes at once is no reason to pause.
func TestPauseInputGoesOnWhenTheSocketTakesTheReplies(t *testing.T) {
	const limit = 4
	h := NewHub(Options{QueueMaxMessages: limit}, &recorder{})
	s, tr := newTestSession(h)
	s.BeginDispatch()
	for i := range limit {
		s.Send(Text, fmt.Appendf(nil, "r%d", i))
	}
	if !s.Backlogged() || s.PauseInput() {
		t.Fatal("want a backlog that PauseInput writes out without pausing")
	}
	s.Send(Text, []byte("more"))
	if tr.writes != 1 {
		t.Fatalf("%d writes, want 1 (the dispatch goes on batching)", tr.writes)
	}
	s.EndDispatch()
	if got := len(tr.frames(t)); got != limit+1 {
		t.Fatalf("%d frames, want %d", got, limit+1)
	}
}

// TestPingFloodKeepsFewPongsPending: RFC 6455 section 5.5.3 lets an
// endpoint answer only the most recent of several pings. A session keeps at
// most maxPendingPongs pongs queued; past that, each newer ping replaces the
// last one's payload. A short burst gets a pong per ping.
func TestPingFloodKeepsFewPongsPending(t *testing.T) {
	h := NewHub(Options{QueueMaxMessages: 4}, &recorder{})
	s, tr := newTestSession(h)
	s.BeginDispatch()
	for i := range 2000 {
		s.ReceivePing(fmt.Appendf(nil, "p%d", i))
	}
	s.Send(Text, []byte("after"))
	s.mu.Lock()
	msgs := s.pendingMsgs
	s.mu.Unlock()
	if msgs != maxPendingPongs+1 {
		t.Fatalf("queued %d frames; want %d pongs and the echo", msgs, maxPendingPongs)
	}
	s.EndDispatch()
	f := tr.frames(t)
	if len(f) != maxPendingPongs+1 {
		t.Fatalf("%d frames written, want %d", len(f), maxPendingPongs+1)
	}
	for i := range maxPendingPongs - 1 {
		if want := fmt.Sprintf("p%d", i); f[i].payload != want {
			t.Fatalf("pong %d: %q, want %q", i, f[i].payload, want)
		}
	}
	if f[maxPendingPongs-1].payload != "p1999" || f[maxPendingPongs].payload != "after" {
		t.Fatalf("last frames %v, want the pong for p1999 and the echo", f[maxPendingPongs-1:])
	}
	// Once the pongs are written, the next ping gets a pong of its own.
	s.ReceivePing([]byte("next"))
	if f := tr.frames(t); len(f) != maxPendingPongs+2 || f[maxPendingPongs+1].payload != "next" {
		t.Fatalf("want a pong for next after %d frames, got %d frames", maxPendingPongs+1, len(f))
	}
	if !s.Open() {
		t.Fatal("ping flood closed the session")
	}
}
