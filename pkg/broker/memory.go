package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryOptions.
const (
	// DefaultHistoryMetaTTL is Centrifugo's history_meta_ttl default.
	DefaultHistoryMetaTTL = 720 * time.Hour
	// DefaultIdempotentResultTTL is how long a Publish result is kept for
	// its IdempotencyKey when PublishOptions.IdempotentResultTTL is 0
	// (Centrifugo's 5 minutes).
	DefaultIdempotentResultTTL = 5 * time.Minute
	// DefaultSweepInterval is how often the sweeper drops expired
	// publications, stream metas, idempotency results and presence.
	DefaultSweepInterval = 2 * time.Second
)

// Sizes of the sharded state. Powers of two, so a hash is reduced by a mask.
const (
	numShards   = 64   // maps of streams, subscriptions, presence
	numPubLocks = 4096 // per-channel publish order (as centrifuge's memory broker)
)

// MemoryOptions configure a Memory engine. The zero value is usable.
type MemoryOptions struct {
	// NodeID is the ID this node answers to in PublishControl.
	NodeID string
	// HistoryMetaTTL is how long a stream's position and epoch outlive its
	// last Publish or History call when the call's own meta TTL is 0;
	// 0 means DefaultHistoryMetaTTL.
	HistoryMetaTTL time.Duration
	// MaxStreams bounds how many channel streams (position, epoch and
	// publications) are held; 0 means no bound. When a new stream would
	// exceed it, the least recently used stream of the same shard (1/64 of
	// the bound) is dropped: its subscribers see a new epoch, which the
	// protocol treats as a lost stream.
	MaxStreams int
	// PresenceTTL, when > 0, drops presence entries not refreshed by
	// AddPresence within it. 0 keeps entries until RemovePresence: with one
	// node in one process there is no dead node whose entries could linger.
	PresenceTTL time.Duration
	// SweepInterval is how often one goroutine drops what expired (reads
	// trim lazily as well, so it bounds memory, not correctness); 0 means
	// DefaultSweepInterval.
	SweepInterval time.Duration
}

// MemoryStats are the engine's holdings, for metrics.
type MemoryStats struct {
	// Streams is the number of channel streams (with position and epoch).
	Streams int
	// Publications is the number of publications kept in history.
	Publications int
	// Bytes is the payload held by those publications: Data, tags and
	// client info bytes (not Go's per-object overhead).
	Bytes int64
	// IdempotentResults is the number of remembered Publish results.
	IdempotentResults int
	// PresenceEntries is the number of (channel, client) presence entries.
	PresenceEntries int
	// Subscriptions is the number of channels this node subscribed.
	Subscriptions int
}

// Memory is a Broker and PresenceManager for a single node that keeps
// everything in process memory. Streams, subscriptions and presence are
// sharded by channel hash so that cores do not contend on one lock; one
// sweeper goroutine per engine expires what is due (no goroutine or timer
// per channel).
//
// What it holds is bounded by: HistorySize publications younger than
// HistoryTTL per stream; MaxStreams streams (else streams live for their
// meta TTL after their last use); idempotency results for their TTL;
// presence entries until removed (or PresenceTTL); one subscription per
// channel this node subscribed. Stats reports the totals.
type Memory struct {
	opts  MemoryOptions
	start time.Time // monotonic base of expiry times

	handler atomic.Pointer[handlerBox]
	closed  atomic.Bool

	pubLocks  [numPubLocks]sync.Mutex
	shards    [numShards]shard
	presence  [numShards]presenceShard
	controlMu sync.Mutex

	stop      chan struct{}
	sweepDone chan struct{}
	closeOnce sync.Once
}

type handlerBox struct{ h EventHandler }

var (
	_ Broker          = (*Memory)(nil)
	_ PresenceManager = (*Memory)(nil)
)

// NewMemory returns a running engine; its sweeper goroutine runs until
// Close.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.HistoryMetaTTL <= 0 {
		opts.HistoryMetaTTL = DefaultHistoryMetaTTL
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.MaxStreams < 0 {
		opts.MaxStreams = 0
	}
	m := &Memory{
		opts:      opts,
		start:     time.Now(),
		stop:      make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	perShard := 0
	if opts.MaxStreams > 0 {
		perShard = (opts.MaxStreams + numShards - 1) / numShards
	}
	for i := range m.shards {
		m.shards[i].init(perShard)
		m.presence[i].entries = make(map[string]map[string]presenceEntry)
	}
	go m.sweep()
	return m
}

// Run sets the handler that receives this node's events.
func (m *Memory) Run(h EventHandler) error {
	if m.closed.Load() {
		return ErrClosed
	}
	m.handler.Store(&handlerBox{h})
	return nil
}

// Close stops the sweeper and waits for deliveries in progress; after it
// returns no handler is called and every method returns ErrClosed. A
// second Close returns nil.
func (m *Memory) Close(ctx context.Context) error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.stop)
		<-m.sweepDone
		// Deliveries run under these locks and check closed inside them.
		for i := range m.pubLocks {
			m.pubLocks[i].Lock()
			m.pubLocks[i].Unlock()
		}
		m.controlMu.Lock()
		m.controlMu.Unlock()
	})
	return nil
}

// Stats sums the shards' holdings; each shard is read under its lock, the
// sum is not one atomic snapshot.
func (m *Memory) Stats() MemoryStats {
	var st MemoryStats
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Streams += len(s.streams)
		st.Publications += s.pubs
		st.Bytes += s.bytes
		st.IdempotentResults += len(s.idem)
		st.Subscriptions += len(s.subs)
		s.mu.Unlock()
	}
	for i := range m.presence {
		p := &m.presence[i]
		p.mu.Lock()
		st.PresenceEntries += p.count
		p.mu.Unlock()
	}
	return st
}

// now is the monotonic time since the engine started, in nanoseconds: the
// clock of every expiry, immune to wall-clock steps.
func (m *Memory) now() int64 { return int64(time.Since(m.start)) }

func (m *Memory) eventHandler() EventHandler {
	if b := m.handler.Load(); b != nil {
		return b.h
	}
	return nil
}

// hash is FNV-1a of the channel name, without allocating.
func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func (m *Memory) shardOf(h uint32) *shard { return &m.shards[h&(numShards-1)] }

func (m *Memory) pubLock(h uint32) *sync.Mutex {
	// Upper bits, so that the lock stripe does not repeat the shard index.
	return &m.pubLocks[(h>>8)&(numPubLocks-1)]
}
