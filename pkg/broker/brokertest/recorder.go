package brokertest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// Event kinds recorded by Recorder.
const (
	KindPublication = "publication"
	KindJoin        = "join"
	KindLeave       = "leave"
)

// Event is one call a Recorder received for a channel.
type Event struct {
	Kind string
	Pub  *broker.Publication   // KindPublication
	SP   broker.StreamPosition // KindPublication
	Info *broker.ClientInfo    // KindJoin, KindLeave
}

// Recorder is a broker.EventHandler that keeps every call, per channel in
// arrival order, and counts calls for one channel that overlapped (the
// EventHandler contract forbids them).
type Recorder struct {
	mu          sync.Mutex
	events      map[string][]Event
	control     [][]byte
	busy        map[string]bool
	overlapping int
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{events: map[string][]Event{}, busy: map[string]bool{}}
}

func (r *Recorder) record(channel string, e Event) {
	r.mu.Lock()
	if r.busy[channel] {
		r.overlapping++
	}
	r.busy[channel] = true
	r.mu.Unlock()
	// Widen the window in which an overlapping call would be seen.
	runtime.Gosched()
	r.mu.Lock()
	r.events[channel] = append(r.events[channel], e)
	r.busy[channel] = false
	r.mu.Unlock()
}

// HandlePublication implements broker.EventHandler.
func (r *Recorder) HandlePublication(channel string, pub *broker.Publication, sp broker.StreamPosition) {
	r.record(channel, Event{Kind: KindPublication, Pub: pub, SP: sp})
}

// HandleJoin implements broker.EventHandler.
func (r *Recorder) HandleJoin(channel string, info *broker.ClientInfo) {
	r.record(channel, Event{Kind: KindJoin, Info: info})
}

// HandleLeave implements broker.EventHandler.
func (r *Recorder) HandleLeave(channel string, info *broker.ClientInfo) {
	r.record(channel, Event{Kind: KindLeave, Info: info})
}

// HandleControl implements broker.EventHandler.
func (r *Recorder) HandleControl(data []byte) {
	r.mu.Lock()
	r.control = append(r.control, data)
	r.mu.Unlock()
}

// Events returns a copy of channel's events so far.
func (r *Recorder) Events(channel string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events[channel]...)
}

// Control returns a copy of the control messages so far.
func (r *Recorder) Control() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.control...)
}

// Overlapping is the number of calls for a channel that arrived while
// another call for it was in progress.
func (r *Recorder) Overlapping() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlapping
}

// WaitEvents waits up to timeout for channel to have at least n events and
// returns them all; it fails t when they do not come.
func (r *Recorder) WaitEvents(t testing.TB, channel string, n int, timeout time.Duration) []Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev := r.Events(channel)
		if len(ev) >= n {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %q: %d events after %v, want %d", channel, len(ev), timeout, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitControl waits like WaitEvents for n control messages.
func (r *Recorder) WaitControl(t testing.TB, n int, timeout time.Duration) [][]byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := r.Control()
		if len(c) >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d control messages after %v, want %d", len(c), timeout, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
