package session

import (
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/codec"
)

// This file is the poller's side of a session: what happens when bytes
// arrive or the connection ends. Handlers do not call these methods.

// BeginDispatch marks the start of a batch of input. Messages the handler
// sends while the batch is dispatched are queued and written together by
// EndDispatch, in one writev.
func (s *Session) BeginDispatch() {
	s.lastRead.Store(s.hub.now())
	s.mu.Lock()
	s.dispatching = true
	s.mu.Unlock()
}

// EndDispatch ends a batch of input and writes what it queued.
func (s *Session) EndDispatch() {
	s.mu.Lock()
	s.dispatching = false
	start := s.startLocked()
	s.mu.Unlock()
	if start {
		s.drain()
	}
}

// CountIn adds a frame of n bytes (header included) with opcode op to the
// session's inbound traffic.
func (s *Session) CountIn(op codec.OpCode, n int) {
	st := s.hub.stats
	st.MessagesIn[op&0xF].Add(uint64(s.id), 1)
	st.BytesIn[op&0xF].Add(uint64(s.id), uint64(n))
	s.bytesIn.Add(uint64(n))
	s.msgsIn.Add(1)
}

// Receive delivers a complete data message to the handler.
func (s *Session) Receive(m Message) {
	if s.Open() {
		s.hub.handler.OnMessage(s, m)
	}
}

// maxPendingPongs is how many pongs a session keeps queued at most. RFC
// 6455 section 5.5.3 allows answering only the most recent of several
// pings; conformance suites (Autobahn 2.10) still expect a pong for each of
// a few pings in a row, so a short burst gets all its pongs, and only a
// flood is coalesced.
const maxPendingPongs = 16

// ReceivePing answers a ping with a pong carrying the same payload (RFC
// 6455 section 5.5.3). A session keeps at most maxPendingPongs pongs queued
// (not yet taken by the writer); past that, a newer ping replaces the
// payload of the last one. So a flood of pings costs a few queued frames,
// never a slow-consumer close, and the last ping is always answered.
func (s *Session) ReceivePing(payload []byte) {
	s.mu.Lock()
	if !s.Open() {
		s.mu.Unlock()
		return
	}
	if f := s.pong; f != nil && s.pongs >= maxPendingPongs {
		// Not yet taken by the writer, so nobody else reads it: rewrite
		// it in place (a pong fits the smallest frame class).
		before := len(f.buf)
		f.buf = codec.AppendFrame(f.buf[:0], codec.OpPong, payload)
		f.payload = int32(len(payload))
		s.q.bytes += len(f.buf) - before
		s.pendingBytes += len(f.buf) - before
		s.mu.Unlock()
		return
	}
	f := newFrame(codec.OpPong, payload)
	s.appendLocked(f)
	s.pong = f
	s.pongs++
	start := s.startLocked()
	s.mu.Unlock()
	if start {
		s.drain()
	}
}

// InputResumer is implemented by transports that can stop reading a
// connection (the poller's). The session calls ResumeInput, from whichever
// goroutine drained the queue, once after each PauseInput that returned
// true, when the queue has drained below its low-water mark.
type InputResumer interface {
	ResumeInput()
}

// Backlogged reports that the write queue reached its high-water mark (an
// eighth of the queue limits, QueueMaxBytes or QueueMaxMessages: 128 KiB or
// 128 frames by default) and has not yet drained below the low-water mark
// (half of that). It is one atomic load: the poller checks it after every
// message it dispatches, and then writes what is queued (PauseInput); only
// when the socket does not take it does reading stop. So a client that
// does not read holds at most about the high-water mark of replies, not
// the queue limits (the slow-consumer scenario: 200 such clients cost
// about 200 MiB of queued echoes with the mark at the limits).
func (s *Session) Backlogged() bool { return s.backlog.Load() }

// PauseInput is called by the poller during a dispatch when Backlogged
// reports true: the session's own replies outran its socket. It writes what
// is queued, as far as the socket takes it, and reports whether the queue
// is still backlogged. If so, the poller must stop reading and dispatching
// this connection (keeping the unparsed input it holds) until the session
// calls ResumeInput on its transport; the dispatch is then over (call
// EndDispatch). If not, the dispatch goes on.
func (s *Session) PauseInput() bool {
	s.mu.Lock()
	s.dispatching = false
	start := s.startLocked()
	s.mu.Unlock()
	if start {
		s.drain()
	}
	s.mu.Lock()
	paused := s.backlog.Load()
	if paused {
		s.inputPaused = true
	} else {
		s.dispatching = true
	}
	s.mu.Unlock()
	return paused
}

func (s *Session) resumeInput(resume bool) {
	if !resume {
		return
	}
	if r, ok := s.transport.(InputResumer); ok {
		r.ResumeInput()
	}
}

// ReceiveClose handles the client's close frame, whose payload ParseClose
// accepted. When the client starts the closing handshake, the session answers
// with the same code and closes the connection once the answer is written;
// when the client answers the session's close, the connection closes now.
func (s *Session) ReceiveClose(code codec.StatusCode, reason []byte) {
	s.hub.stats.ClosesReceived.Inc(code)
	if s.close(code, string(reason), afterCloseTCP, true) == nil {
		return
	}
	// Already closing: this is the answer to our close frame.
	s.mu.Lock()
	closeNow := !s.writing && s.q == nil
	if !closeNow {
		s.after = afterCloseTCP // close once our close frame is out
	}
	s.mu.Unlock()
	if closeNow {
		s.transport.Close()
	}
}

// Fail closes the session because the client broke the protocol: it sends a
// close frame with the error's code, shuts down the sending side once that is
// written, and closes the connection when the client hangs up or the close
// timeout passes.
func (s *Session) Fail(err *codec.ProtocolError) {
	s.hub.log.Info("protocol error",
		zap.Stringer("session", s.id),
		zap.Stringer("ip", s.info.ClientIP),
		zap.Uint16("code", uint16(err.Code)),
		zap.String("reason", err.Reason))
	if s.close(err.Code, err.Reason, afterShutdown, false) != nil {
		s.transport.Close() // already closing: no reason to wait any longer
	}
}

// TransportClosed is called by the poller, exactly once, when the
// connection is gone. It removes the session from the registry, releases
// what is still queued, and calls the handler's OnClose. Further calls do
// nothing.
func (s *Session) TransportClosed(cause string) {
	if !s.cleaned.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	s.setState(stateClosed)
	q := s.takeLocked()
	if s.backlog.Load() {
		s.backlog.Store(false)
		s.hub.backlogEnded()
	}
	info := CloseInfo{Code: codec.StatusAbnormalClosure, Reason: cause}
	if s.closeInfo != nil {
		info = *s.closeInfo
	}
	s.mu.Unlock()
	if q != nil {
		q.releaseFrames(true) // never handed to the kernel
		q.recycle()
	}
	h := s.hub
	h.registry.remove(s)
	h.stats.Closed.Inc()
	h.stats.Active.Add(-1)
	if s.started.Load() {
		h.handler.OnClose(s, info) // only sessions the handler was told about
	}
	if ce := h.log.Check(zap.DebugLevel, "session closed"); ce != nil {
		in, out, _, _ := s.Traffic()
		ce.Write(
			zap.Stringer("session", s.id),
			zap.Stringer("ip", s.info.ClientIP),
			zap.Uint16("code", uint16(info.Code)),
			zap.String("reason", info.Reason),
			zap.Bool("by_peer", info.ByPeer),
			zap.Duration("duration", time.Since(s.ConnectedAt())),
			zap.Uint64("bytes_in", in),
			zap.Uint64("bytes_out", out))
	}
}
