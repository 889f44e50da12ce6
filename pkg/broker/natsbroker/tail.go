package natsbroker

import (
	"hash/maphash"
	"sync"
)

// Per-node publish serialization and tail cache.
//
// Publishes to one channel from one node take a striped lock, so this
// node's publishers never race each other on the subject's last sequence
// (only other nodes can make append retry). Under the lock, the node
// remembers the last message it stored or read for a subject (stream
// sequence, offset, epoch) and offers it to the stream as the expected
// last sequence without reading it first: one request per publication
// while no other node writes the channel. A stale entry costs one refused
// publish and a read; correctness still rests on the server's check. The
// cache is emptied on reconnect and when the stream is found missing; it
// holds at most tailCacheMax subjects (emptied when full).
const (
	pubStripes   = 256
	tailCacheMax = 1 << 16
)

type tail struct {
	seq    uint64
	offset uint64
	epoch  string
}

type tails struct {
	seed  maphash.Seed
	locks [pubStripes]sync.Mutex
	mu    sync.Mutex
	m     map[string]tail
}

func newTails() *tails { return &tails{seed: maphash.MakeSeed(), m: make(map[string]tail)} }

// lock locks subject's stripe and returns its unlock.
func (t *tails) lock(subject string) func() {
	l := &t.locks[maphash.String(t.seed, subject)%pubStripes]
	l.Lock()
	return l.Unlock
}

func (t *tails) get(subject string) (tail, bool) {
	t.mu.Lock()
	v, ok := t.m[subject]
	t.mu.Unlock()
	return v, ok
}

func (t *tails) put(subject string, v tail) {
	t.mu.Lock()
	if len(t.m) >= tailCacheMax {
		clear(t.m)
	}
	t.m[subject] = v
	t.mu.Unlock()
}

func (t *tails) drop(subject string) {
	t.mu.Lock()
	delete(t.m, subject)
	t.mu.Unlock()
}

func (t *tails) reset() {
	t.mu.Lock()
	clear(t.m)
	t.mu.Unlock()
}
