package session

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestReclaimOncePerSpike: the hub returns memory once after a spike is
// over (backlogged queues drained, or many sessions gone), after
// reclaimQuiet, and never for churn at a steady session count.
func TestReclaimOncePerSpike(t *testing.T) {
	h := NewHub(Options{QueueMaxMessages: 2, QueueMaxBytes: 1 << 20}, &recorder{})
	var frees atomic.Int32
	h.freeOSMemory = func() { frees.Add(1) }
	now := time.Now()
	tick := func(d time.Duration) { now = now.Add(d); h.Tick(now) }

	// Churn: sessions come and go, a few at a time.
	for range 500 {
		_, tr := newTestSession(h)
		tick(10 * time.Millisecond)
		tr.Close()
	}
	tick(5 * time.Second)
	if n := frees.Load(); n != 0 {
		t.Fatalf("%d reclaims for churn", n)
	}

	// 150 sessions open (the peak is sampled by the tick), then all go.
	var trs []*memTransport
	for range 150 {
		_, tr := newTestSession(h)
		trs = append(trs, tr)
	}
	tick(time.Second)
	for _, tr := range trs[:60] {
		tr.Close()
	}
	tick(5 * time.Second) // 60 gone, 90 left: not a spike's end
	if n := frees.Load(); n != 0 {
		t.Fatalf("%d reclaims with 90 of 150 sessions left", n)
	}
	for _, tr := range trs[60:] {
		tr.Close()
	}
	tick(100 * time.Millisecond) // over, but not yet for reclaimQuiet
	if n := frees.Load(); n != 0 {
		t.Fatal("reclaimed before the spike was over for reclaimQuiet")
	}
	tick(reclaimQuiet)
	waitFor(t, "one reclaim", func() bool { return frees.Load() == 1 })
	// Then the bounded follow-ups, and nothing more.
	tick(reclaimFollowUps[0] - time.Millisecond)
	if n := frees.Load(); n != 1 {
		t.Fatalf("%d collections before the first follow-up is due", n)
	}
	tick(time.Millisecond)
	waitFor(t, "the first follow-up", func() bool { return frees.Load() == 2 })
	tick(reclaimFollowUps[1] - reclaimFollowUps[0])
	waitFor(t, "the second follow-up", func() bool { return frees.Load() == 3 })
	for range 10 {
		tick(10 * time.Second)
	}
	if n := frees.Load(); n != 3 {
		t.Fatalf("%d collections for one spike, want 3", n)
	}
	if h.Stats().Reclaims.Load() != 1 {
		t.Fatalf("Reclaims counter %d, want 1 (one spike)", h.Stats().Reclaims.Load())
	}

	// A backlog spike: 40 sessions with 1 MiB limits past their high-water
	// mark (40 MiB of queues), then drained, without any session closing.
	trs = trs[:0]
	for range 40 {
		s, tr := newTestSession(h)
		tr.setRoom(0)
		s.Send(Text, []byte("a"))
		s.Send(Text, []byte("b"))
		if !s.Backlogged() {
			t.Fatal("not backlogged")
		}
		trs = append(trs, tr)
	}
	tick(time.Second)
	if h.Backlogged() != 40 {
		t.Fatalf("%d backlogged, want 40", h.Backlogged())
	}
	for _, tr := range trs {
		tr.setRoom(-1)
	}
	waitFor(t, "queues drained", func() bool { return h.Backlogged() == 0 })
	tick(time.Second)
	tick(reclaimQuiet)
	waitFor(t, "a reclaim for the backlog", func() bool { return frees.Load() == 4 })
	if h.Stats().Reclaims.Load() != 2 {
		t.Fatalf("Reclaims counter %d, want 2", h.Stats().Reclaims.Load())
	}
}

// TestReclaimAfterConnectionSurge: a surge of sessions (a reconnect storm)
// is reclaimed once the count has stayed put for reclaimQuiet; a steady
// count with churn, or a small rise, is not.
func TestReclaimAfterConnectionSurge(t *testing.T) {
	h := NewHub(Options{}, &recorder{})
	var frees atomic.Int32
	h.freeOSMemory = func() { frees.Add(1) }
	now := time.Now()
	tick := func(d time.Duration) { now = now.Add(d); h.Tick(now) }
	open := func(n int) {
		for range n {
			newTestSession(h)
		}
	}
	open(99) // one short of reclaimMinSessions
	for range 5 {
		tick(time.Second)
	}
	if n := frees.Load(); n != 0 {
		t.Fatalf("%d collections after a rise of 99", n)
	}
	open(150)                    // 249 from a low of 0
	tick(100 * time.Millisecond) // rising: not settled
	tick(100 * time.Millisecond) // settled from here
	if n := frees.Load(); n != 0 {
		t.Fatal("collected before the count stayed put for reclaimQuiet")
	}
	tick(reclaimQuiet)
	waitFor(t, "a collection after the surge", func() bool { return frees.Load() == 1 })
	// From the new low of 249, another 150 is not twice as many.
	open(150)
	for range 30 {
		tick(time.Second)
	}
	// The surge's two follow-ups, nothing for the rise; collections run on
	// goroutines of their own, so wait for them, then make sure no fourth
	// comes.
	waitFor(t, "the two follow-ups", func() bool { return frees.Load() >= 3 })
	time.Sleep(50 * time.Millisecond)
	if n := frees.Load(); n != 3 {
		t.Fatalf("%d collections, want 3", n)
	}
}
