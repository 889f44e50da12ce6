package poller

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkerPoolBoundsConcurrency(t *testing.T) {
	p := newWorkerPool(4, time.Minute, nil)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 50 {
		wg.Add(1)
		p.submit(func() {
			defer wg.Done()
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			<-release
			running.Add(-1)
		})
	}
	time.Sleep(20 * time.Millisecond)
	if busy, queued := p.stats(); busy != 4 || queued != 46 {
		t.Fatalf(
			"busy=%d queued=%d, want 4 and 46",
			busy, queued,
		)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 4 {
		t.Fatalf(
			"peak concurrency %d, want 4",
			peak.Load(),
		)
	}
}

func TestWorkerPoolTrimsIdleWorkers(t *testing.T) {
	p := newWorkerPool(8, 50*time.Millisecond, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		p.submit(func() { time.Sleep(5 * time.Millisecond); wg.Done() })
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	p.trim(time.Now())
	if p.running != 8 {
		t.Fatalf(
			"trimmed recently used workers: %d left",
			p.running,
		)
	}
	p.trim(time.Now().Add(time.Second))
	if p.running != 0 || len(p.idle) != 0 {
		t.Fatalf(
			"%d workers left after trim",
			p.running,
		)
	}
	// The pool keeps working after a trim.
	done := make(chan struct{})
	p.submit(func() { close(done) })
	<-done
	p.stop()
}

func TestWorkerPoolRecoversPanics(t *testing.T) {
	var got atomic.Value
	p := newWorkerPool(1, time.Minute, func(v any) { got.Store(v) })
	done := make(chan struct{})
	p.submit(func() { panic("boom") })
	p.submit(func() { close(done) })
	<-done
	if got.Load() != "boom" {
		t.Fatalf(
			"panic not reported: %v",
			got.Load(),
		)
	}
	p.stop()
}
