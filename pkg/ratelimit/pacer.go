package ratelimit

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Pacer admits handshakes at a steady rate: each admitted handshake gets a
// slot, 1/Rate after the previous one (Burst slots may be taken at once
// after a quiet period), and waits for it; a handshake whose slot would be
// more than MaxDelay away is refused with a Retry-After. So a node restarted
// under 100,000 reconnecting clients admits them at Rate per second instead
// of collapsing, clients beyond the queue retry later, spread by jitter.
// It is safe for concurrent use.
type Pacer struct {
	mu       sync.Mutex
	interval int64 // ns between slots
	burst    int64 // ns of credit a quiet pacer accumulates
	maxDelay int64
	next     int64 // the earliest free slot, Unix ns
}

// NewPacer returns a pacer for rate handshakes per second with burst and
// maxDelay; rate <= 0 returns nil, which admits everything at once.
func NewPacer(rate float64, burst int, maxDelay time.Duration) *Pacer {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	interval := int64(float64(time.Second) / rate)
	if interval < 1 {
		interval = 1
	}
	return &Pacer{interval: interval, burst: interval * int64(burst-1), maxDelay: int64(maxDelay)}
}

// Admit reserves a slot for a handshake arriving at now (Unix ns). It
// returns the time to proceed (at or after now) and true, or false with a
// Retry-After suggestion when the queue is full. The Retry-After spreads
// refused clients over [1, 2] times the time the queue needs to drain, so
// that they do not come back together.
func (p *Pacer) Admit(now int64) (at int64, ok bool, retryAfter time.Duration) {
	if p == nil {
		return now, true, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if floor := now - p.burst; p.next < floor {
		p.next = floor
	}
	at = p.next
	if at < now {
		at = now
	}
	if at-now > p.maxDelay {
		drain := time.Duration(at - now)
		if drain < time.Second {
			drain = time.Second
		}
		return 0, false, drain + time.Duration(rand.Int64N(int64(drain)+1))
	}
	p.next += p.interval
	return at, true, 0
}
