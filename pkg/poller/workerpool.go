package poller

import (
	"sync"
	"time"
)

// workerPool runs netpoll's handler tasks on at most max goroutines. Submit
// never blocks, because netpoll calls it from its poller goroutines: when
// every worker is busy, tasks wait in a backlog. Its length is bounded by
// the number of connections, since netpoll runs one task per connection at
// a time.
//
// Workers that stay idle longer than idleTimeout exit (see trim), so an
// idle gateway holds no goroutines for its connections.
type workerPool struct {
	mu          sync.Mutex
	idle        []*worker // LIFO: the most recently used worker is reused first
	backlog     []func()
	head        int // first task in backlog
	running     int
	max         int
	idleTimeout time.Duration
	panicked    func(v any)
	stopped     bool
	wg          sync.WaitGroup
}

type worker struct {
	tasks    chan func() // nil task: exit
	lastUsed time.Time
}

func newWorkerPool(max int, idleTimeout time.Duration, onPanic func(v any)) *workerPool {
	return &workerPool{max: max, idleTimeout: idleTimeout, panicked: onPanic}
}

// submit runs f on an idle worker, a new worker, or, when max workers are
// busy, queues it.
func (p *workerPool) submit(f func()) {
	p.mu.Lock()
	if p.stopped { // late close callbacks during shutdown
		p.mu.Unlock()
		go p.run(f)
		return
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.tasks <- f // buffered; the worker is waiting for it
		return
	}
	if p.running < p.max {
		p.running++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.work(f)
		return
	}
	p.backlog = append(p.backlog, f)
	p.mu.Unlock()
}

func (p *workerPool) work(f func()) {
	defer p.wg.Done()
	w := &worker{tasks: make(chan func(), 1)}
	for f != nil {
		p.run(f)
		f = p.next(w)
	}
}

// next returns the oldest queued task, or parks w until it gets one.
func (p *workerPool) next(w *worker) func() {
	p.mu.Lock()
	if p.head < len(p.backlog) {
		f := p.backlog[p.head]
		p.backlog[p.head] = nil
		p.head++
		if p.head == len(p.backlog) {
			p.backlog, p.head = p.backlog[:0], 0
		}
		p.mu.Unlock()
		return f
	}
	if p.stopped {
		p.running--
		p.mu.Unlock()
		return nil
	}
	w.lastUsed = time.Now()
	p.idle = append(p.idle, w)
	p.mu.Unlock()
	return <-w.tasks
}

func (p *workerPool) run(f func()) {
	defer func() {
		if v := recover(); v != nil && p.panicked != nil {
			p.panicked(v)
		}
	}()
	f()
}

// trim stops workers idle for longer than the idle timeout. The server's
// ticker calls it.
func (p *workerPool) trim(now time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].lastUsed) > p.idleTimeout {
		p.idle[n].tasks <- nil
		n++
	}
	if n > 0 {
		rest := copy(p.idle, p.idle[n:])
		clear(p.idle[rest:])
		p.idle = p.idle[:rest]
		p.running -= n
	}
	p.mu.Unlock()
}

// stats returns the number of workers running tasks and the number of
// tasks waiting for one.
func (p *workerPool) stats() (busy, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running - len(p.idle), len(p.backlog) - p.head
}

// stop makes every worker exit once the backlog is empty and waits for
// them. Tasks submitted after stop still run, each on its own goroutine.
func (p *workerPool) stop() {
	p.mu.Lock()
	p.stopped = true
	idle := p.idle
	p.idle = nil
	p.running -= len(idle)
	p.mu.Unlock()
	for _, w := range idle {
		w.tasks <- nil
	}
	p.wg.Wait()
}
