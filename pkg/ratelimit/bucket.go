package ratelimit

// Bucket is a token bucket for one connection's commands: 16 bytes, no
// lock (the caller serializes, as a connection's reader does), no timer
// (refilled lazily from the time the caller passes). The zero value is a
// full bucket on first use.
type Bucket struct {
	tokens float64 // tokens left after the last Allow
	last   int64   // Unix ns of the last Allow; 0: never used
}

// Limit is a rate in events per second with a burst: the most events
// allowed at once after a quiet period. A zero Rate means no limit.
type Limit struct {
	Rate  float64 // events per second
	Burst int     // at least 1 when Rate > 0
}

// Allow reports whether one event at now (Unix ns) fits within l, and
// takes its token if so.
func (b *Bucket) Allow(now int64, l Limit) bool {
	if l.Rate <= 0 {
		return true
	}
	burst := float64(l.Burst)
	if burst < 1 {
		burst = 1
	}
	if b.last == 0 {
		b.tokens = burst
	} else if elapsed := now - b.last; elapsed > 0 {
		b.tokens += float64(elapsed) * l.Rate / 1e9
		if b.tokens > burst {
			b.tokens = burst
		}
	}
	if now > b.last {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
