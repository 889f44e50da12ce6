package session

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/xh-control/gateway/pkg/codec"
)

// Errors returned by Send, SendFrame and Close.
var (
	// ErrClosed: the session is closing or closed; the message was not
	// queued. Stop sending to it.
	ErrClosed = errors.New("session: closed")
	// ErrQueueFull: the write queue is at its limit and the drop policy
	// discarded the message. The client is reading slower than it is sent to.
	ErrQueueFull = errors.New("session: write queue full, message dropped")
	// ErrSlowConsumer: the write queue overflowed and the close policy is
	// closing the session with 1008.
	ErrSlowConsumer = errors.New("session: write queue full, closing slow consumer")
)

type sessionState uint32

const (
	stateOpen    sessionState = iota
	stateClosing              // close frame queued; waiting for it to be written or answered
	stateClosed               // transport closed, session cleaned up
)

// afterClose is what happens once the final close frame has been written.
type afterClose uint8

const (
	afterNothing  afterClose = iota
	afterWaitPeer            // wait for the peer's close frame or the close deadline
	afterShutdown            // send FIN, then wait for the peer's EOF or the close deadline
	afterCloseTCP            // close the connection at once (only when the peer sends no more)
)

// Info describes the connection under a session, as the poller saw it.
type Info struct {
	// Remote is the TCP peer: the client, or a proxy in front of it.
	Remote netip.AddrPort
	// ClientIP is the client's address: the TCP peer's, or the one a trusted
	// proxy forwarded.
	ClientIP netip.Addr
	// Compression reports that permessage-deflate was negotiated.
	Compression bool
	// DeflateWindowBits is the largest window (base-2 logarithm, 8 to 15)
	// the client accepts for what the server compresses; 0 means 15.
	DeflateWindowBits uint8
	// Endpoint is the index of the endpoint (path) the client connected
	// to, in the poller's order: 0 is the first.
	Endpoint uint8
	// Subprotocol is 1 + the index of the negotiated subprotocol in the
	// endpoint's list, or 0 when none was negotiated.
	Subprotocol uint8
}

// Session is one upgraded WebSocket connection. All its methods are safe for
// concurrent use.
type Session struct {
	// Fields are ordered by size to keep the struct in the 256-byte size
	// class: it is paid once per connection.
	id          ID
	hub         *Hub
	transport   Transport
	info        Info
	connectedAt int64 // unix ns

	lastRead      atomic.Int64  // coarse clock, unix ns
	slowSince     atomic.Int64  // when a WriteWait started, or 0
	closeDeadline atomic.Int64  // when to give up on the closing handshake
	lastPing      int64         // only used by the hub's tick
	bytesIn       atomic.Uint64 // updated by the reader, one at a time
	msgsIn        atomic.Uint64

	mu           sync.Mutex
	q            *queue // frames not yet taken by the writer; nil when empty
	pendingBytes int    // queued and in flight
	pendingMsgs  int
	bytesOut     uint64
	msgsOut      uint64
	closeInfo    *CloseInfo     // set when the close starts
	attrs        map[string]any // user attributes, allocated on first Set

	state       atomic.Uint32 // sessionState; written under mu
	flushes     uint32        // owned by whoever holds the writing flag
	started     atomic.Bool   // OnOpen was called
	cleaned     atomic.Bool
	writing     bool // a goroutine is draining the queue
	dispatching bool // the poller is delivering input; it drains afterwards
	inputPaused bool // the poller stopped reading until the queue drains (PauseInput)
	after       afterClose
	// backlog is set when the queue reaches its high-water mark (the queue
	// limits) and cleared when it drains below the low-water mark (half of
	// them); written under mu, read by the poller without it.
	backlog atomic.Bool
	pong    *Frame // the last queued pong not yet taken by the writer, or nil
	pongs   int    // queued pongs not yet taken by the writer
}

// ID returns the session's stable, unique ID.
func (s *Session) ID() ID { return s.id }

// Hub returns the hub the session belongs to.
func (s *Session) Hub() *Hub { return s.hub }

// Info returns the connection's addresses and negotiated options.
func (s *Session) Info() Info { return s.info }

// ClientIP returns the client's real IP address.
func (s *Session) ClientIP() netip.Addr { return s.info.ClientIP }

// ConnectedAt returns when the handshake completed.
func (s *Session) ConnectedAt() time.Time { return time.Unix(0, s.connectedAt) }

// Traffic returns the payload bytes and the frames received from and sent
// to the client so far, control frames included.
func (s *Session) Traffic() (bytesIn, bytesOut, msgsIn, msgsOut uint64) {
	s.mu.Lock()
	bytesOut, msgsOut = s.bytesOut, s.msgsOut
	s.mu.Unlock()
	return s.bytesIn.Load(), bytesOut, s.msgsIn.Load(), msgsOut
}

// Set stores an attribute on the session, such as the authenticated user.
func (s *Session) Set(key string, value any) {
	s.mu.Lock()
	if s.attrs == nil {
		s.attrs = make(map[string]any, 2)
	}
	s.attrs[key] = value
	s.mu.Unlock()
}

// Get returns an attribute stored with Set.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	v, ok := s.attrs[key]
	s.mu.Unlock()
	return v, ok
}

// Delete removes an attribute.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	delete(s.attrs, key)
	s.mu.Unlock()
}

// Open reports whether the session still accepts messages.
func (s *Session) Open() bool { return sessionState(s.state.Load()) == stateOpen }

// Send queues a data message; p is copied, so the caller may reuse it. It
// never blocks on the network. See ErrClosed, ErrQueueFull and
// ErrSlowConsumer for the errors.
func (s *Session) Send(t MessageType, p []byte) error {
	if s.compresses(len(p)) {
		if f := newDeflatedFrame(s.hub.opts.Compressor, s.windowBits(), codec.OpCode(t), p); f != nil {
			return s.push(f, applyPolicy)
		}
	}
	return s.push(newFrame(codec.OpCode(t), p), applyPolicy)
}

func (s *Session) windowBits() uint8 {
	if b := s.info.DeflateWindowBits; b >= codec.MinWindowBits && b <= codec.MaxWindowBits {
		return b
	}
	return codec.MaxWindowBits
}

// compresses reports whether a message of n bytes goes out compressed.
func (s *Session) compresses(n int) bool {
	return s.info.Compression && s.hub.opts.Compressor != nil && n >= s.hub.opts.CompressMin
}

// SendText queues a text message. The caller must make sure it is UTF-8.
func (s *Session) SendText(text string) error {
	// The bytes are only read while being copied into the frame.
	return s.Send(Text, unsafe.Slice(unsafe.StringData(text), len(text)))
}

// SendFrame queues a frame built with NewFrame, sharing its bytes (or, for
// a session that negotiated compression, those of its compressed variant).
func (s *Session) SendFrame(f *Frame) error {
	_, err := s.sendFrame(f, true)
	return err
}

// sendFrame queues f. When drainNow is false and the queue needs a writer,
// it returns start = true and leaves the draining to the caller (a
// broadcast hands the session to the hub's flushers).
func (s *Session) sendFrame(f *Frame, drainNow bool) (start bool, err error) {
	if s.compresses(int(f.payload)) {
		if z := f.deflated(s.hub.opts.Compressor, s.windowBits()); z != nil {
			f = z
		}
	}
	f.retain()
	return s.enqueue(f, applyPolicy, drainNow)
}

// Close starts the closing handshake: it queues a close frame with code and
// reason after whatever is already queued, stops accepting messages, and
// closes the connection when the client answers or the close timeout passes.
func (s *Session) Close(code codec.StatusCode, reason string) error {
	return s.close(code, reason, afterWaitPeer, false)
}

func (s *Session) setState(st sessionState) { s.state.Store(uint32(st)) }

// close queues the final close frame and arranges for what follows.
func (s *Session) close(code codec.StatusCode, reason string, after afterClose, byPeer bool) error {
	s.mu.Lock()
	if sessionState(s.state.Load()) != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	s.setState(stateClosing)
	s.closeInfo = &CloseInfo{Code: code, Reason: reason, ByPeer: byPeer}
	s.closeDeadline.Store(s.hub.now() + int64(s.hub.opts.CloseTimeout))
	s.after = after
	frameReason := reason
	if byPeer {
		frameReason = "" // the answer echoes the code; the reason was theirs
	}
	s.appendLocked(newCloseFrame(code, frameReason))
	start := s.startLocked()
	s.mu.Unlock()
	s.hub.stats.ClosesSent.Inc(code)
	if start {
		s.drain()
	}
	return nil
}
