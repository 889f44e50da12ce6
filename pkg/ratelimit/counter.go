package ratelimit

import (
	"hash/maphash"
	"sync"
)

const counterShards = 64

// Counter counts open connections per key (a client IP, a user ID) and
// refuses one past a limit. Keys with no connections take no memory. It is
// safe for concurrent use; keys hash to 64 independently locked shards.
type Counter[K comparable] struct {
	seed   maphash.Seed
	shards [counterShards]struct {
		mu sync.Mutex
		n  map[K]int32
	}
}

// NewCounter returns an empty Counter.
func NewCounter[K comparable]() *Counter[K] {
	c := &Counter[K]{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].n = make(map[K]int32)
	}
	return c
}

// Acquire counts one more connection for key and returns true, or returns
// false and counts nothing when key already holds limit. A limit <= 0
// means no limit (the connection is still counted).
func (c *Counter[K]) Acquire(key K, limit int) bool {
	s := &c.shards[maphash.Comparable(c.seed, key)%counterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n[key]
	if limit > 0 && int(n) >= limit {
		return false
	}
	s.n[key] = n + 1
	return true
}

// Release uncounts one connection of key. Releasing a key that holds none
// does nothing.
func (c *Counter[K]) Release(key K) {
	s := &c.shards[maphash.Comparable(c.seed, key)%counterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch n := s.n[key]; {
	case n > 1:
		s.n[key] = n - 1
	case n == 1:
		delete(s.n, key)
	}
}

// Count returns key's connections.
func (c *Counter[K]) Count(key K) int {
	s := &c.shards[maphash.Comparable(c.seed, key)%counterShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.n[key])
}

// Keys returns how many keys hold at least one connection.
func (c *Counter[K]) Keys() int {
	total := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		total += len(s.n)
		s.mu.Unlock()
	}
	return total
}
