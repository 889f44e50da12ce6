package session

import (
	"runtime"
	"sync"
)

// flushQueue drains sessions that a broadcast filled. A broadcast only
// enqueues (a pointer and a counter per session) and hands the sessions to
// these flushers, GOMAXPROCS goroutines at most, which exist only while
// there is work. Under load this batches by itself: while a flusher works
// through ten thousand sockets, the next broadcasts land in queues that are
// still waiting for their turn, and each socket then gets all of its frames
// in one writev instead of one syscall per message.
type flushQueue struct {
	mu      sync.Mutex
	pending []*Session
	head    int
	workers int
}

// schedule queues sessions whose writing flag the caller set.
func (h *Hub) schedule(batch []*Session) {
	if len(batch) == 0 {
		return
	}
	fq := &h.flush
	fq.mu.Lock()
	fq.pending = append(fq.pending, batch...)
	spawn := min(runtime.GOMAXPROCS(0)-fq.workers, len(fq.pending)-fq.head)
	fq.workers += max(spawn, 0)
	fq.mu.Unlock()
	for range spawn {
		go h.flushWorker()
	}
}

// flushChunk is how many sessions a flusher takes per lock: enough to keep
// the queue's lock cold, few enough to share a broadcast among flushers.
const flushChunk = 64

func (h *Hub) flushWorker() {
	fq := &h.flush
	var chunk [flushChunk]*Session
	for {
		fq.mu.Lock()
		n := copy(chunk[:], fq.pending[fq.head:])
		if n == 0 {
			clear(fq.pending)
			fq.pending, fq.head = fq.pending[:0], 0
			fq.workers--
			fq.mu.Unlock()
			return
		}
		clear(fq.pending[fq.head : fq.head+n])
		fq.head += n
		fq.mu.Unlock()
		for i, s := range chunk[:n] {
			s.drain()
			chunk[i] = nil
		}
	}
}
