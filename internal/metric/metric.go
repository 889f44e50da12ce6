// Package metric holds the lock-free counters and histograms the gateway's
// packages update on their hot paths. They cost one atomic add each; the
// admin listener turns them into Prometheus metrics when it is scraped, so
// that the core packages do not depend on a metrics library.
package metric

import (
	"math"
	"sync/atomic"
	"time"
)

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Load returns the current value.
func (c *Counter) Load() uint64 { return c.v.Load() }

const stripes = 8

// StripedCounter is a Counter for the hottest paths, such as bytes written,
// which every core updates at once during a broadcast: it spreads the adds
// over cache lines picked by a caller-supplied hint (a session ID), so that
// cores do not fight over one line.
type StripedCounter struct {
	cells [stripes]struct {
		v atomic.Uint64
		_ [56]byte
	}
}

// Add adds n to the stripe picked by hint.
func (c *StripedCounter) Add(hint uint64, n uint64) { c.cells[hint%stripes].v.Add(n) }

// Load returns the sum over all stripes.
func (c *StripedCounter) Load() (sum uint64) {
	for i := range c.cells {
		sum += c.cells[i].v.Load()
	}
	return sum
}

// Gauge is a value that goes up and down.
type Gauge struct{ v atomic.Int64 }

// Add adds n, which may be negative.
func (g *Gauge) Add(n int64) { g.v.Add(n) }

// Load returns the current value.
func (g *Gauge) Load() int64 { return g.v.Load() }

// Histogram counts observations in fixed buckets. Bounds are upper bounds
// (inclusive), in the unit the observations use.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // one per bound, plus +Inf
	sum    atomic.Uint64   // float64 bits
}

// NewHistogram returns a histogram with the given sorted upper bounds.
func NewHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// LatencyBounds are bucket bounds in seconds from 50µs to 10s.
var LatencyBounds = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// Snapshot returns the bucket bounds, the cumulative count per bound, the
// total count and the sum of observations.
func (h *Histogram) Snapshot() (bounds []float64, cumulative []uint64, count uint64, sum float64) {
	cumulative = make([]uint64, len(h.bounds))
	for i := range h.bounds {
		count += h.counts[i].Load()
		cumulative[i] = count
	}
	count += h.counts[len(h.bounds)].Load()
	return h.bounds, cumulative, count, math.Float64frombits(h.sum.Load())
}
