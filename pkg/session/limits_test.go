package session

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The queue limits, exactly: with the socket full, a session accepts frames
// while queued bytes stay within QueueMaxBytes and queued frames within
// QueueMaxMessages, and not one more. Each frame here is a 30-byte text
// message: 2 header bytes + 30 = 32 bytes on the wire.
const limitFrame = 32

// fill sends until the first error and returns how many sends succeeded and
// the error.
func fill(t *testing.T, s *Session, max int) (int, error) {
	t.Helper()
	payload := []byte(strings.Repeat("x", limitFrame-2))
	for i := range max {
		if err := s.Send(Text, payload); err != nil {
			return i, err
		}
	}
	return max, nil
}

func TestQueueByteLimitIsExact(t *testing.T) {
	for _, policy := range []Policy{PolicyDrop, PolicyClose} {
		for _, frames := range []int{1, 2, 7, 10} {
			t.Run(fmt.Sprintf("%v/%d frames", policy, frames), func(t *testing.T) {
				h := NewHub(Options{QueueMaxBytes: frames * limitFrame, QueueMaxMessages: 1000, SlowConsumer: policy, CloseTimeout: time.Hour}, &recorder{})
				s, tr := newTestSession(h)
				tr.setRoom(0) // the socket is full
				n, err := fill(t, s, 100)
				want := map[Policy]error{PolicyDrop: ErrQueueFull, PolicyClose: ErrSlowConsumer}[policy]
				if n != frames || err != want {
					t.Fatalf(
						"%d frames of %d bytes accepted with QueueMaxBytes %d, then %v; want %d, then %v",
						n, limitFrame, frames*limitFrame, err, frames, want,
					)
				}
			})
		}
	}
}

// A byte limit one byte short of n frames holds n-1 of them.
func TestQueueByteLimitOneShort(t *testing.T) {
	h := NewHub(Options{QueueMaxBytes: 4*limitFrame - 1, QueueMaxMessages: 1000, SlowConsumer: PolicyDrop}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(0)
	if n, err := fill(t, s, 100); n != 3 || err != ErrQueueFull {
		t.Fatalf(
			"%d frames accepted, then %v; want 3, then ErrQueueFull",
			n, err,
		)
	}
}

func TestQueueMessageLimitIsExact(t *testing.T) {
	for _, policy := range []Policy{PolicyDrop, PolicyClose} {
		for _, limit := range []int{1, 2, 5, 16} {
			t.Run(fmt.Sprintf("%v/%d messages", policy, limit), func(t *testing.T) {
				h := NewHub(Options{QueueMaxBytes: 1 << 20, QueueMaxMessages: limit, SlowConsumer: policy, CloseTimeout: time.Hour}, &recorder{})
				s, tr := newTestSession(h)
				tr.setRoom(0)
				n, err := fill(t, s, 100)
				want := map[Policy]error{PolicyDrop: ErrQueueFull, PolicyClose: ErrSlowConsumer}[policy]
				if n != limit || err != want {
					t.Fatalf(
						"%d frames accepted with QueueMaxMessages %d, then %v; want %d, then %v",
						n, limit, err, limit, want,
					)
				}
			})
		}
	}
}

// An empty queue takes a frame larger than the byte limit (else it could
// never be sent), and nothing after it.
func TestQueueTakesOneOversizedFrame(t *testing.T) {
	h := NewHub(Options{QueueMaxBytes: 16, SlowConsumer: PolicyDrop}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(0)
	if n, err := fill(t, s, 10); n != 1 || err != ErrQueueFull {
		t.Fatalf(
			"%d frames of %d bytes accepted with QueueMaxBytes 16, then %v; want 1",
			n, limitFrame, err,
		)
	}
	tr.setRoom(-1)
	waitFor(t, "the frame delivered", func() bool { return len(tr.frames(t)) == 1 })
	if n, err := fill(t, s, 1); n != 1 || err != nil {
		t.Fatalf(
			"after the queue emptied: %d accepted, %v",
			n, err,
		)
	}
}

// Freed room is counted: once the client has read everything, the full
// limit fits again.
func TestQueueLimitCountsWhatWasWritten(t *testing.T) {
	h := NewHub(Options{QueueMaxBytes: 4 * limitFrame, QueueMaxMessages: 1000, SlowConsumer: PolicyDrop}, &recorder{})
	s, tr := newTestSession(h)
	tr.setRoom(0)
	if n, _ := fill(t, s, 100); n != 4 {
		t.Fatalf(
			"%d accepted, want 4",
			n,
		)
	}
	tr.setRoom(-1) // the client reads
	waitFor(t, "four frames written", func() bool { return len(tr.frames(t)) == 4 })
	waitFor(t, "room accounted", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pendingBytes == 0 && s.pendingMsgs == 0
	})
	tr.setRoom(0)
	if n, err := fill(t, s, 100); n != 4 || err != ErrQueueFull {
		t.Fatalf(
			"after the queue was read: %d accepted, then %v; want 4",
			n, err,
		)
	}
}
