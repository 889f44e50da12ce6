package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

// TestCloseAllSpreadTimesAndCancel: closes are spaced spread/n apart, each
// session closed once; when ctx ends, the rest are closed at once.
func TestCloseAllSpreadTimesAndCancel(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	const n = 10
	for i := 0; i < n; i++ {
		newTestSession(h)
	}
	var mu sync.Mutex
	seen := map[*Session]time.Duration{}
	start := time.Now()
	h.CloseAllSpread(context.Background(), 500*time.Millisecond, func(s *Session) {
		mu.Lock()
		seen[s] = time.Since(start)
		mu.Unlock()
		s.Close(codec.StatusGoingAway, "going away")
	})
	if len(seen) != n {
		t.Fatalf("%d sessions closed, want %d", len(seen), n)
	}
	var last time.Duration
	for _, d := range seen {
		last = max(last, d)
	}
	if want := 450 * time.Millisecond; last < want || last > want+200*time.Millisecond {
		t.Fatalf("last close after %v, want ~%v (9 of 10 steps of 50ms)", last, want)
	}

	// Cancelled: everything left is closed at once.
	h2 := NewHub(Options{}, &recorder{})
	for i := 0; i < n; i++ {
		newTestSession(h2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	closed := 0
	h2.CloseAllSpread(ctx, time.Hour, func(s *Session) { closed++; s.Close(codec.StatusGoingAway, "") })
	if took := time.Since(start); closed != n || took > time.Second {
		t.Fatalf("cancelled spread: %d closed in %v, want %d at once after 100ms", closed, took, n)
	}
	// A nil close falls back to 1001 "going away".
	h3 := NewHub(Options{}, &recorder{})
	s, tr := newTestSession(h3)
	h3.CloseAllSpread(context.Background(), 0, nil)
	if s.Open() {
		t.Fatal("session still open")
	}
	f := tr.frames(t)
	if len(f) != 1 || f[0].op != codec.OpClose || f[0].payload[:2] != "\x03\xe9" {
		t.Fatalf("frames %v, want close 1001", f)
	}
}
