package session

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/internal/iovec"
	"github.com/xh-control/gateway/pkg/codec"
)

// queue holds frames waiting for the writer, and the vector the writer
// hands to writev. Queues are pooled: an idle session holds none.
type queue struct {
	frames []*Frame
	bufs   [][]byte
	bytes  int
}

var queuePool = sync.Pool{New: func() any { return &queue{frames: make([]*Frame, 0, 16), bufs: make([][]byte, 0, 16)} }}

func (q *queue) recycle() {
	clear(q.frames)
	clear(q.bufs)
	q.frames, q.bufs, q.bytes = q.frames[:0], q.bufs[:0], 0
	queuePool.Put(q)
}

// releaseFrames drops the queue's references. recycle is false when the
// kernel may still read the frames' bytes.
func (q *queue) releaseFrames(recycle bool) {
	for _, f := range q.frames {
		f.release(recycle)
	}
}

// pushMode says what push does when a frame does not fit in the queue.
type pushMode uint8

const (
	applyPolicy pushMode = iota // the slow-consumer policy decides
	skipIfFull                  // drop it quietly (heartbeat pings)
)

// push queues f, taking over the caller's reference, and starts draining the
// queue unless someone already is.
func (s *Session) push(f *Frame, mode pushMode) error {
	_, err := s.enqueue(f, mode, true)
	return err
}

// enqueue queues f, taking over the caller's reference. When the queue
// needs a writer, it drains it at once (drainNow), or reports start = true
// so that the caller arranges for a drain.
func (s *Session) enqueue(f *Frame, mode pushMode, drainNow bool) (start bool, err error) {
	s.mu.Lock()
	if sessionState(s.state.Load()) != stateOpen {
		s.mu.Unlock()
		f.release(true)
		return false, ErrClosed
	}
	if s.overLimitLocked(len(f.buf)) {
		if mode == skipIfFull {
			s.mu.Unlock()
			f.release(true)
			return false, ErrQueueFull
		}
		return false, s.overflow(f) // unlocks
	}
	s.appendLocked(f)
	start = s.startLocked()
	s.mu.Unlock()
	if start && drainNow {
		s.drain()
		return false, nil
	}
	return start, nil
}

// overLimitLocked reports whether n more bytes break the queue limits in a
// way that calls for the slow-consumer policy. The policy judges a client by
// what its socket refuses:
//
//   - While the poller dispatches the session's own input, everything is
//     accepted: those are the session's replies (echoes, pongs), and the
//     poller bounds them by pausing input at the high-water mark (see
//     PauseInput), which is TCP's back-pressure, not a reason to close.
//   - Otherwise a full queue is over its limit only while a write waits for
//     a socket that refused bytes (the client is not reading), or when it
//     holds twice the limits, which bounds memory even before the writer
//     has reached the socket.
//
// A message is always accepted into an empty queue, so that a message
// larger than the byte limit (but within the message size limit) can be
// sent at all.
func (s *Session) overLimitLocked(n int) bool {
	if s.pendingMsgs == 0 || s.dispatching {
		return false
	}
	o := &s.hub.opts
	msgs, bytes := s.pendingMsgs, s.pendingBytes+n
	if msgs < o.QueueMaxMessages && bytes <= o.QueueMaxBytes {
		return false
	}
	return s.slowSince.Load() != 0 || msgs >= 2*o.QueueMaxMessages || bytes > 2*o.QueueMaxBytes
}

func (s *Session) appendLocked(f *Frame) {
	if s.q == nil {
		s.q = queuePool.Get().(*queue)
	}
	s.q.frames = append(s.q.frames, f)
	s.q.bytes += len(f.buf)
	s.pendingBytes += len(f.buf)
	s.pendingMsgs++
	if h := s.hub; (s.pendingBytes >= h.highWaterBytes || s.pendingMsgs >= h.highWaterMsgs) && !s.backlog.Load() {
		s.backlog.Store(true)
		s.hub.backlogStarted()
	}
}

// drainedLocked clears the backlog once the queue is below its low-water
// mark, half the high-water mark, and reports whether the poller's paused
// input must be resumed.
func (s *Session) drainedLocked() (resume bool) {
	h := s.hub
	if !s.backlog.Load() || s.pendingBytes > h.highWaterBytes/2 || s.pendingMsgs > h.highWaterMsgs/2 {
		return false
	}
	s.backlog.Store(false)
	s.hub.backlogEnded()
	resume, s.inputPaused = s.inputPaused, false
	return resume
}

// takeLocked hands the queue to the writer; the pongs in it are no longer
// pending.
func (s *Session) takeLocked() *queue {
	q := s.q
	s.q, s.pong, s.pongs = nil, nil, 0
	return q
}

// startLocked reports whether the caller must drain the queue: nobody is
// writing and the poller is not about to drain it after its dispatch.
func (s *Session) startLocked() bool {
	if s.writing || s.dispatching || s.q == nil {
		return false
	}
	s.writing = true
	return true
}

// overflow applies the slow-consumer policy to f, which did not fit. It is
// called with s.mu held and releases it.
func (s *Session) overflow(f *Frame) error {
	h := s.hub
	if h.opts.SlowConsumer == PolicyDrop {
		s.mu.Unlock()
		f.release(true)
		h.stats.Dropped.Inc()
		return ErrQueueFull
	}
	// Close policy: what is queued will not reach a client that does not
	// read; drop it so that the close frame goes out first.
	pending, pendingMsgs := s.pendingBytes, s.pendingMsgs
	discarded := s.takeLocked()
	if discarded != nil {
		s.pendingBytes -= discarded.bytes
		s.pendingMsgs -= len(discarded.frames)
	}
	s.mu.Unlock()
	f.release(true)
	if discarded != nil {
		discarded.releaseFrames(true)
		discarded.recycle()
	}
	h.stats.SlowConsumerCloses.Inc()
	h.log.Warn("closing slow consumer",
		zap.Stringer("session", s.id),
		zap.Stringer("ip", s.info.ClientIP),
		zap.Int("pending_bytes", pending),
		zap.Int("pending_messages", pendingMsgs),
		zap.Int("queue_max_bytes", h.opts.QueueMaxBytes),
		zap.Int("queue_max_messages", h.opts.QueueMaxMessages))
	// FIN after the close frame, not a reset: this client is probably still
	// sending, and closing a socket with unread input resets it, which
	// makes the client's kernel discard what it has not read yet, the
	// close frame included.
	s.close(codec.StatusPolicyViolation, "slow consumer", afterShutdown, false)
	return ErrSlowConsumer
}

// drain writes queued frames until the queue is empty. The caller must have
// set s.writing. It never blocks: when the socket is full, a goroutine
// takes over the rest and drain returns.
func (s *Session) drain() { s.drainAfter(sent{}) }

// sent is what a write delivered, accounted for under the next lock that
// drain takes anyway rather than under one of its own.
type sent struct {
	queued  int // queue bytes and frames, for the limits
	frames  int
	payload int // payload bytes and data or control frames, for Traffic
	counted int
}

func (s *Session) drainAfter(done sent) {
	for {
		s.mu.Lock()
		s.pendingBytes -= done.queued
		s.pendingMsgs -= done.frames
		s.bytesOut += uint64(done.payload)
		s.msgsOut += uint64(done.counted)
		resume := s.drainedLocked()
		q := s.takeLocked()
		if q == nil {
			s.writing = false
			after := s.finishedLocked()
			s.mu.Unlock()
			s.resumeInput(resume)
			s.runAfter(after)
			return
		}
		s.mu.Unlock()
		s.resumeInput(resume)
		var ok bool
		if done, ok = s.write(q); !ok {
			return
		}
	}
}

// finishedLocked returns what to do now that the queue is empty. Once the
// session left the open state its close frame is queued and nothing else
// is, so an empty queue means the close frame was written.
func (s *Session) finishedLocked() afterClose {
	if s.Open() {
		return afterNothing
	}
	after := s.after
	s.after = afterNothing
	return after
}

func (s *Session) runAfter(after afterClose) {
	switch after {
	case afterShutdown:
		s.transport.CloseWrite()
	case afterCloseTCP:
		s.transport.Close()
	}
}

// flushSampleRate: one in this many writes that do not wait is timed.
const flushSampleRate = 16

// write hands q to the transport. It reports what was written and whether
// the caller may go on draining; false means a waiting goroutine took over
// or the write failed.
func (s *Session) write(q *queue) (sent, bool) {
	var start time.Time
	if s.flushes++; s.flushes%flushSampleRate == 0 {
		start = time.Now()
	}
	for _, f := range q.frames {
		q.bufs = append(q.bufs, f.buf)
	}
	n, err := s.transport.Write(q.bufs)
	switch {
	case err != nil:
		s.writeFailed(q)
		return sent{}, false
	case n < q.bytes:
		// The socket refused bytes: from now until the wait ends, a full
		// queue is the client's doing (overLimitLocked).
		s.slowSince.Store(s.hub.now())
		go s.writeWait(q, n, start)
		return sent{}, false
	}
	return s.written(q, start), true
}

// writeWait finishes a write that found the socket full, waiting for the
// client to read, and then goes on draining. The hub's tick closes the
// transport when the write deadline passes, which ends the wait.
func (s *Session) writeWait(q *queue, done int, start time.Time) {
	s.hub.stats.WriteWaits.Inc()
	if start.IsZero() {
		start = time.Now() // every wait is timed; it started about now
	}
	err := s.transport.WriteWait(iovec.Advance(q.bufs, done))
	s.slowSince.Store(0)
	if err != nil {
		s.writeFailed(q)
		return
	}
	s.drainAfter(s.written(q, start))
}

// written counts and releases a queue the transport took whole.
func (s *Session) written(q *queue, start time.Time) sent {
	st := s.hub.stats
	if !start.IsZero() {
		st.FlushLatency.ObserveDuration(time.Since(start))
	}
	done := sent{queued: q.bytes, frames: len(q.frames)}
	for _, f := range q.frames {
		if f.raw {
			continue
		}
		st.MessagesOut[f.op].Add(uint64(s.id), 1)
		st.BytesOut[f.op].Add(uint64(s.id), uint64(f.payload))
		done.payload += int(f.payload)
		done.counted++
	}
	q.releaseFrames(true)
	q.recycle()
	return done
}

// writeFailed gives up on the connection. The writing flag stays set, so
// nobody writes to it again; TransportClosed releases what is still queued.
func (s *Session) writeFailed(q *queue) {
	s.transport.Close()
	q.releaseFrames(false) // the kernel may still be reading them
	q.recycle()
}
