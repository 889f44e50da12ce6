package session

import (
	"sync"
	"sync/atomic"
)

const registryShards = 64 // a power of two; IDs are sequential, so shards fill evenly

// Registry is the table of open sessions, sharded so that connects,
// disconnects and lookups on different sessions rarely contend.
type Registry struct {
	shards [registryShards]registryShard
	count  atomic.Int64
}

type registryShard struct {
	mu       sync.RWMutex
	sessions map[ID]*Session
	_        [32]byte // keep hot shard locks on separate cache lines
}

func newRegistry() *Registry {
	r := &Registry{}
	for i := range r.shards {
		r.shards[i].sessions = make(map[ID]*Session)
	}
	return r
}

func (r *Registry) shard(id ID) *registryShard { return &r.shards[uint64(id)&(registryShards-1)] }

func (r *Registry) add(s *Session) {
	sh := r.shard(s.id)
	sh.mu.Lock()
	sh.sessions[s.id] = s
	sh.mu.Unlock()
	r.count.Add(1)
}

func (r *Registry) remove(s *Session) {
	sh := r.shard(s.id)
	sh.mu.Lock()
	_, ok := sh.sessions[s.id]
	delete(sh.sessions, s.id)
	sh.mu.Unlock()
	if ok {
		r.count.Add(-1)
	}
}

// Get returns the open session with the given ID.
func (r *Registry) Get(id ID) (*Session, bool) {
	sh := r.shard(id)
	sh.mu.RLock()
	s, ok := sh.sessions[id]
	sh.mu.RUnlock()
	return s, ok
}

// Count returns the number of open sessions.
func (r *Registry) Count() int { return int(r.count.Load()) }

// Range calls fn for every open session until fn returns false. It does
// not hold any lock while fn runs, so fn may close sessions or send to them;
// sessions opened or closed during Range may or may not be visited.
func (r *Registry) Range(fn func(*Session) bool) {
	for i := range r.shards {
		if !r.rangeShard(i, fn) {
			return
		}
	}
}

func (r *Registry) rangeShard(i int, fn func(*Session) bool) bool {
	snap := getSnapshot()
	defer putSnapshot(snap)
	sh := &r.shards[i]
	sh.mu.RLock()
	for _, s := range sh.sessions {
		*snap = append(*snap, s)
	}
	sh.mu.RUnlock()
	for _, s := range *snap {
		if !fn(s) {
			return false
		}
	}
	return true
}

var snapshotPool = sync.Pool{New: func() any { s := make([]*Session, 0, 256); return &s }}

func getSnapshot() *[]*Session { return snapshotPool.Get().(*[]*Session) }

func putSnapshot(s *[]*Session) {
	clear(*s) // do not keep closed sessions alive from the pool
	*s = (*s)[:0]
	snapshotPool.Put(s)
}
