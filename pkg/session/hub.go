package session

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/codec"
)

// Policy is what a session does when its write queue is full.
type Policy uint8

const (
	// PolicyClose closes the session with 1008 "slow consumer".
	PolicyClose Policy = iota
	// PolicyDrop drops the newest message and keeps the session.
	PolicyDrop
)

// ParsePolicy parses "close" or "drop".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "close":
		return PolicyClose, nil
	case "drop":
		return PolicyDrop, nil
	}
	return 0, fmt.Errorf("slow consumer policy %q: want \"close\" or \"drop\"", s)
}

func (p Policy) String() string {
	if p == PolicyDrop {
		return "drop"
	}
	return "close"
}

// Options configure a Hub. Zero values take the defaults shown.
type Options struct {
	NodeID           uint16        // top 16 bits of every session ID
	QueueMaxBytes    int           // 1 MiB: queued and in-flight bytes per session
	QueueMaxMessages int           // 1024: queued and in-flight frames per session
	SlowConsumer     Policy        // PolicyClose
	WriteTimeout     time.Duration // 10s: longest wait for a client to read a batch
	PingInterval     time.Duration // 30s: ping sessions silent for this long
	IdleTimeout      time.Duration // 75s: close sessions silent for this long
	CloseTimeout     time.Duration // 5s: longest wait for the client's close frame
	Logger           *zap.Logger   // zap.NewNop()
	// Compressor compresses messages to sessions that negotiated
	// permessage-deflate; nil sends everything uncompressed.
	Compressor *codec.Compressor
	// CompressMin is the smallest payload worth compressing.
	CompressMin int
}

func (o *Options) setDefaults() {
	if o.QueueMaxBytes <= 0 {
		o.QueueMaxBytes = 1 << 20
	}
	if o.QueueMaxMessages <= 0 {
		o.QueueMaxMessages = 1024
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 75 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Hub owns the sessions of one server: it creates them, keeps the registry,
// fans messages out and runs the heartbeat.
type Hub struct {
	opts     Options
	handler  Handler
	registry *Registry
	ids      *IDGenerator
	stats    *Stats
	log      *zap.Logger
	clock    atomic.Int64 // coarse unix ns, advanced by Tick
	flush    flushQueue

	// The queue's high-water mark (Session.Backlogged): an eighth of
	// the limits, at least one frame.
	highWaterBytes, highWaterMsgs int

	// Backlog spikes (reclaim.go).
	backlogged   atomic.Int64 // sessions whose queue is past its high-water mark
	backlogPeak  atomic.Int64 // their peak since the last reclaim
	sessionPeak  int64        // open sessions' peak since the last reclaim; tick only
	sessionLow   int64        // and their low; tick only
	lastCount    int64        // open sessions at the last tick; tick only
	quietSince   int64        // since when a spike is over; tick only
	reclaimedAt  int64        // when the last spike was reclaimed; tick only
	followUp     int          // reclaimFollowUps done for it; tick only
	freeOSMemory func()
}

// NewHub returns a hub that calls handler for every session.
func NewHub(opts Options, handler Handler) *Hub {
	opts.setDefaults()
	now := time.Now()
	h := &Hub{
		opts:     opts,
		handler:  handler,
		registry: newRegistry(),
		ids:      NewIDGenerator(opts.NodeID, now),
		stats:    newStats(),
		log:      opts.Logger,

		freeOSMemory: defaultFreeOSMemory,

		highWaterBytes: max(opts.QueueMaxBytes/8, 1),
		highWaterMsgs:  max(opts.QueueMaxMessages/8, 1),
	}
	h.clock.Store(now.UnixNano())
	return h
}

// Stats returns the hub's live counters.
func (h *Hub) Stats() *Stats { return h.stats }

// Registry returns the table of open sessions.
func (h *Hub) Registry() *Registry { return h.registry }

// Get returns the open session with the given ID.
func (h *Hub) Get(id ID) (*Session, bool) { return h.registry.Get(id) }

// Count returns the number of open sessions.
func (h *Hub) Count() int { return h.registry.Count() }

func (h *Hub) now() int64 { return h.clock.Load() }

// Open creates a session on t and registers it. preamble, the handshake
// response, is queued before the session becomes visible, so that nothing
// sent to the session (a broadcast, say) can reach the wire before it, and
// a client that has read the response is sure to be in the registry. The
// poller then calls Start.
func (h *Hub) Open(t Transport, info Info, preamble []byte) *Session {
	s := &Session{
		id:          h.ids.Next(),
		hub:         h,
		transport:   t,
		info:        info,
		connectedAt: time.Now().UnixNano(),
	}
	s.lastRead.Store(h.now())
	if len(preamble) > 0 {
		f := getFrame(len(preamble))
		f.buf, f.op, f.payload, f.raw = append(f.buf[:0], preamble...), 0, 0, true
		f.refs.Store(1)
		s.appendLocked(f) // not yet shared: no lock needed
		s.writing = true
	}
	h.registry.add(s)
	h.stats.Opened.Inc()
	h.stats.Active.Add(1)
	if s.writing {
		s.drain()
	}
	return s
}

// Start calls the handler's OnOpen. The poller calls it from a worker.
func (s *Session) Start() {
	if s.started.CompareAndSwap(false, true) {
		s.hub.handler.OnOpen(s)
	}
}

// Broadcast sends a data message to every open session. The frame is
// encoded once (and compressed once per window size) and shared by every
// queue. It returns how many sessions accepted it; the writes happen on
// the hub's flushers after Broadcast returns.
func (h *Hub) Broadcast(t MessageType, payload []byte) int {
	f := NewFrame(t, payload)
	n := h.BroadcastFrame(f)
	f.Release()
	return n
}

// BroadcastFrame sends f to every open session; the caller keeps its
// reference.
func (h *Hub) BroadcastFrame(f *Frame) int {
	delivered := 0
	batch := getSnapshot()
	defer putSnapshot(batch)
	h.registry.Range(func(s *Session) bool {
		if h.fanOut(s, f, batch) {
			delivered++
		}
		return true
	})
	h.schedule(*batch)
	return delivered
}

// fanOut queues f on s and adds s to batch when it needs a writer; a full
// batch is handed to the flushers at once, to keep them busy during a large
// fan-out. It reports whether s accepted f.
func (h *Hub) fanOut(s *Session, f *Frame, batch *[]*Session) bool {
	start, err := s.sendFrame(f, false)
	if start {
		*batch = append(*batch, s)
		if len(*batch) == 256 {
			h.schedule(*batch)
			*batch = (*batch)[:0]
		}
	}
	return err == nil
}

// CloseAll starts the closing handshake on every open session.
func (h *Hub) CloseAll(code codec.StatusCode, reason string) {
	h.registry.Range(func(s *Session) bool {
		s.Close(code, reason)
		return true
	})
}

// ErrSessionsRemain is returned by Wait when the context ends first.
var ErrSessionsRemain = errors.New("session: sessions still open")

// Wait returns when no session is open or ctx is done.
func (h *Hub) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for h.registry.Count() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %d", ErrSessionsRemain, h.registry.Count())
		case <-t.C:
		}
	}
	return nil
}

// CloseTransports closes every session's connection at once, without a
// closing handshake: the end of a shutdown whose grace period ran out.
func (h *Hub) CloseTransports() {
	h.registry.Range(func(s *Session) bool {
		s.transport.Close()
		return true
	})
}
