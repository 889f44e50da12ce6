package broker

import (
	"math"
	"math/rand/v2"
	"sync"
)

// shard holds the streams, subscriptions and idempotency results of the
// channels whose hash falls in it, under one lock.
type shard struct {
	mu      sync.Mutex
	streams map[string]*stream
	// lru is the sentinel of a ring of streams by last use: lru.next is the
	// least recently used. Only kept when maxStreams > 0.
	lru        stream
	maxStreams int
	subs       map[string]struct{}
	idem       map[idemKey]idemResult
	pubs       int   // publications held by streams
	bytes      int64 // their pubSize
	// nextExpire is no later than the earliest expiry in the shard, so
	// that the sweeper skips shards where nothing can have expired.
	nextExpire int64
}

type idemKey struct{ channel, key string }

type idemResult struct {
	sp      StreamPosition
	expires int64
}

// stream is one channel's history: publications top-len+1..top, oldest
// first, in items[head:].
type stream struct {
	channel     string
	epoch       string
	top         uint64
	items       []histItem
	head        int
	ttl         int64 // HistoryTTL of the latest Publish, ns
	metaExpires int64
	prev, next  *stream
}

type histItem struct {
	pub *Publication
	at  int64 // when accepted, engine-monotonic ns
}

func (s *shard) init(maxStreams int) {
	s.streams = make(map[string]*stream)
	s.subs = make(map[string]struct{})
	s.idem = make(map[idemKey]idemResult)
	s.maxStreams = maxStreams
	s.nextExpire = math.MaxInt64
	s.lru.next, s.lru.prev = &s.lru, &s.lru
}

// stream returns channel's stream with its meta TTL renewed from now, or
// nil when there is none and create is false. A stream whose meta expired
// is replaced by a new one with a different epoch and offset 0.
func (s *shard) stream(channel string, now, metaTTL int64, create bool) *stream {
	st := s.streams[channel]
	oldEpoch := ""
	if st != nil && st.metaExpires <= now {
		oldEpoch = st.epoch
		s.drop(st)
		st = nil
	}
	if st == nil {
		if !create {
			return nil
		}
		if s.maxStreams > 0 && len(s.streams) >= s.maxStreams {
			s.drop(s.lru.next)
		}
		st = &stream{channel: channel, epoch: newEpoch(oldEpoch)}
		s.streams[channel] = st
	} else if s.maxStreams > 0 {
		st.unlink()
	}
	if s.maxStreams > 0 {
		st.prev, st.next = s.lru.prev, &s.lru
		s.lru.prev.next = st
		s.lru.prev = st
	}
	st.metaExpires = addSat(now, metaTTL)
	s.expiresAt(st.metaExpires)
	return st
}

// expiresAt notes that something in the shard expires at t.
func (s *shard) expiresAt(t int64) {
	if t < s.nextExpire {
		s.nextExpire = t
	}
}

// drop forgets st entirely: publications, position and epoch.
func (s *shard) drop(st *stream) {
	s.clear(st)
	st.unlink()
	delete(s.streams, st.channel)
}

func (st *stream) unlink() {
	if st.prev != nil {
		st.prev.next = st.next
		st.next.prev = st.prev
		st.prev, st.next = nil, nil
	}
}

// clear drops st's publications and keeps its position and epoch.
func (s *shard) clear(st *stream) {
	for _, it := range st.items[st.head:] {
		s.bytes -= pubSize(it.pub)
	}
	s.pubs -= len(st.items) - st.head
	st.items, st.head = nil, 0
}

// add appends pub as the next offset and trims st to size and ttl.
func (s *shard) add(st *stream, pub *Publication, size int, ttl, now int64) StreamPosition {
	st.top++
	pub.Offset = st.top
	st.ttl = ttl
	st.items = append(st.items, histItem{pub: pub, at: now})
	s.pubs++
	s.bytes += pubSize(pub)
	for len(st.items)-st.head > size {
		s.popFront(st)
	}
	s.trim(st, now)
	// The oldest kept expires first, under the latest TTL.
	s.expiresAt(addSat(st.items[st.head].at, st.ttl))
	return StreamPosition{Offset: st.top, Epoch: st.epoch}
}

// trim drops the publications older than st.ttl. Items are in acceptance
// order and share the stream's latest ttl, so expired ones are a prefix.
func (s *shard) trim(st *stream, now int64) {
	for st.head < len(st.items) && now-st.items[st.head].at >= st.ttl {
		s.popFront(st)
	}
	if st.head == len(st.items) {
		st.items, st.head = nil, 0
	}
}

func (s *shard) popFront(st *stream) {
	s.bytes -= pubSize(st.items[st.head].pub)
	s.pubs--
	st.items[st.head] = histItem{}
	st.head++
	// Compact once half the backing array is dead, so the array stays
	// within twice the kept length (amortised O(1) per publication).
	if st.head >= 32 && st.head*2 >= len(st.items) {
		n := copy(st.items, st.items[st.head:])
		clear(st.items[n:])
		st.items, st.head = st.items[:n], 0
	}
}

// get returns the kept publications selected by opts (Limit, Since,
// Reverse) in a new slice.
func (st *stream) get(opts HistoryOptions) []*Publication {
	n := uint64(len(st.items) - st.head)
	if opts.Limit == 0 || n == 0 {
		return nil
	}
	first := st.top - n + 1
	var from, count uint64 // offset of the first returned, how many
	if !opts.Reverse {
		from = first
		if opts.Since != nil && opts.Since.Offset >= first {
			if opts.Since.Offset >= st.top {
				return nil
			}
			from = opts.Since.Offset + 1
		}
		count = st.top - from + 1
	} else {
		from = st.top
		if opts.Since != nil {
			if opts.Since.Offset <= first {
				return nil
			}
			if opts.Since.Offset-1 < from {
				from = opts.Since.Offset - 1
			}
		}
		count = from - first + 1
	}
	if opts.Limit > 0 && uint64(opts.Limit) < count {
		count = uint64(opts.Limit)
	}
	out := make([]*Publication, count)
	i := st.head + int(from-first)
	for k := range out {
		out[k] = st.items[i].pub
		if opts.Reverse {
			i--
		} else {
			i++
		}
	}
	return out
}

// addSat is a+b for b >= 0, saturating, so that a TTL meant as "forever"
// (math.MaxInt64) does not wrap into the past.
func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// pubSize is what Stats.Bytes counts for pub.
func pubSize(p *Publication) int64 {
	n := len(p.Data)
	for k, v := range p.Tags {
		n += len(k) + len(v)
	}
	if i := p.Info; i != nil {
		n += len(i.ClientID) + len(i.UserID) + len(i.ConnInfo) + len(i.ChanInfo)
	}
	return int64(n)
}

const epochLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newEpoch returns a random 8-character epoch different from old.
func newEpoch(old string) string {
	var b [8]byte
	for {
		for i := range b {
			b[i] = epochLetters[rand.IntN(len(epochLetters))]
		}
		if e := string(b[:]); e != old {
			return e
		}
	}
}
