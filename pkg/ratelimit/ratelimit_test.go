package ratelimit

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestBucketAllowsBurstThenRate(t *testing.T) {
	var b Bucket
	l := Limit{Rate: 10, Burst: 5}
	now := int64(1000 * sec)
	for i := 0; i < 5; i++ {
		if !b.Allow(now, l) {
			t.Fatalf("event %d of the burst of 5 refused", i+1)
		}
	}
	if b.Allow(now, l) {
		t.Fatal("6th event at the same instant allowed past a burst of 5")
	}
	if b.Allow(now+sec/10-1, l) {
		t.Fatal("allowed 1ns before a token is due at 10/s")
	}
	if !b.Allow(now+sec/10, l) {
		t.Fatal("refused when a token was due")
	}
	// A long quiet period refills to the burst, not beyond.
	later := now + 100*sec
	for i := 0; i < 5; i++ {
		if !b.Allow(later, l) {
			t.Fatalf("after a quiet period: event %d refused", i+1)
		}
	}
	if b.Allow(later, l) {
		t.Fatal("the bucket refilled past its burst")
	}
	// Over 10 s at 10/s: exactly 100 more events.
	n := 0
	for ts := later; ts < later+10*sec; ts += sec / 1000 {
		if b.Allow(ts, l) {
			n++
		}
	}
	if n < 99 || n > 100 {
		t.Errorf("%d events in 10 s at 10/s", n)
	}
	var free Bucket
	for i := 0; i < 1000; i++ {
		if !free.Allow(now, Limit{}) {
			t.Fatal("a zero limit refused an event")
		}
	}
}

func TestCounterLimitsPerKey(t *testing.T) {
	c := NewCounter[netip.Addr]()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::1")
	for i := 0; i < 3; i++ {
		if !c.Acquire(a, 3) {
			t.Fatalf("connection %d of 3 refused", i+1)
		}
	}
	if c.Acquire(a, 3) {
		t.Fatal("4th connection allowed at a limit of 3")
	}
	if !c.Acquire(b, 3) {
		t.Fatal("another key was limited by the first")
	}
	c.Release(a)
	if !c.Acquire(a, 3) || c.Count(a) != 3 {
		t.Fatalf("after a release: count %d", c.Count(a))
	}
	for i := 0; i < 3; i++ {
		c.Release(a)
	}
	c.Release(a) // one too many: ignored
	c.Release(b)
	if c.Keys() != 0 || c.Count(a) != 0 {
		t.Fatalf("keys %d, count %d after releasing everything", c.Keys(), c.Count(a))
	}
	if !c.Acquire(a, 0) || !c.Acquire(a, 0) || c.Count(a) != 2 {
		t.Fatal("limit 0 must count without limiting")
	}
}

func TestCounterConcurrentNeverExceedsLimit(t *testing.T) {
	c := NewCounter[string]()
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if c.Acquire("u", 100) {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if granted != 100 || c.Count("u") != 100 {
		t.Fatalf("granted %d, count %d, want 100", granted, c.Count("u"))
	}
}

func TestPacerSpacesSlotsAndRefusesPastMaxDelay(t *testing.T) {
	p := NewPacer(100, 1, time.Second) // 100/s: a slot every 10ms; queue of 1s
	now := int64(5000 * sec)
	var last int64
	admitted := 0
	for i := 0; i < 200; i++ {
		at, ok, retry := p.Admit(now)
		if !ok {
			if admitted != 101 { // slots at 0, 10ms, ..., 1000ms
				t.Fatalf("refused after %d admitted, want 101", admitted)
			}
			if retry < time.Second || retry > 2*time.Second+time.Millisecond {
				t.Errorf("Retry-After %v outside [1s, 2s]", retry)
			}
			break
		}
		if admitted > 0 && at-last != 10*int64(time.Millisecond) {
			t.Fatalf("slot %d is %v after the previous, want 10ms", admitted, time.Duration(at-last))
		}
		last = at
		admitted++
	}
	// Rate accuracy over a long run: arrivals faster than the rate are
	// admitted at the rate, within one slot.
	p = NewPacer(1000, 1, 10*time.Second)
	start := now
	var first, end int64
	n := 0
	for ts := start; n < 5000; ts += int64(100 * time.Microsecond) { // 10,000 arrivals/s
		at, ok, _ := p.Admit(ts)
		if !ok {
			t.Fatalf("refused at %d with a 10s queue", n)
		}
		if n == 0 {
			first = at
		}
		end = at
		n++
	}
	rate := float64(n-1) / (float64(end-first) / 1e9)
	if rate < 995 || rate > 1005 {
		t.Errorf("admitted at %.1f/s, want 1000 ±0.5%%", rate)
	}
}

func TestPacerBurstAfterQuiet(t *testing.T) {
	p := NewPacer(10, 5, 0)
	now := int64(100 * sec)
	for i := 0; i < 5; i++ {
		if at, ok, _ := p.Admit(now); !ok || at != now {
			t.Fatalf("burst handshake %d: at %v ok %v", i+1, time.Duration(at-now), ok)
		}
	}
	if _, ok, _ := p.Admit(now); ok {
		t.Fatal("6th handshake admitted at once with burst 5 and no queue")
	}
	var nilPacer *Pacer
	if at, ok, _ := nilPacer.Admit(now); !ok || at != now {
		t.Fatal("a nil pacer must admit at once")
	}
	if NewPacer(0, 1, time.Second) != nil {
		t.Fatal("rate 0 must mean no pacing")
	}
}

func BenchmarkBucketAllow(b *testing.B) {
	var bk Bucket
	l := Limit{Rate: 1e9, Burst: 1 << 30}
	for i := 0; i < b.N; i++ {
		bk.Allow(int64(i), l)
	}
}

func BenchmarkCounterAcquireRelease(b *testing.B) {
	c := NewCounter[netip.Addr]()
	ip := netip.MustParseAddr("192.0.2.7")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Acquire(ip, 0)
			c.Release(ip)
		}
	})
}
