package session

import (
	"github.com/xh-control/gateway/internal/metric"
	"github.com/xh-control/gateway/pkg/codec"
)

// Stats are the hub's counters, updated with single atomic adds. Messages
// (frames, for control opcodes) and payload bytes are indexed by opcode.
type Stats struct {
	Opened metric.Counter
	Closed metric.Counter
	Active metric.Gauge

	MessagesIn  [16]metric.StripedCounter
	BytesIn     [16]metric.StripedCounter
	MessagesOut [16]metric.StripedCounter
	BytesOut    [16]metric.StripedCounter

	Dropped            metric.Counter // frames dropped by the drop policy
	SlowConsumerCloses metric.Counter // sessions closed by the close policy
	WriteTimeouts      metric.Counter // sessions closed by the write deadline
	IdleTimeouts       metric.Counter // sessions closed for silence
	WriteWaits         metric.Counter // writes that found the socket full
	Reclaims           metric.Counter // memory returned to the OS after a backlog spike
	PingsSent          metric.Counter

	ClosesSent     CloseCodes
	ClosesReceived CloseCodes

	// FlushLatency is how long writing a batch of queued frames to the
	// socket took, including any wait for a full socket. Every write that
	// had to wait is observed, and one in flushSampleRate of the others:
	// reading the clock twice costs more than an in-memory write.
	FlushLatency *metric.Histogram
}

func newStats() *Stats {
	return &Stats{FlushLatency: metric.NewHistogram(metric.LatencyBounds)}
}

// CloseCodes counts close codes: each code from 1000 to 1015 on its own,
// the registered (3000-3999) and private (4000-4999) ranges as one each.
type CloseCodes struct {
	standard [16]metric.Counter
	app      metric.Counter
	private  metric.Counter
}

// Inc counts one close with code.
func (c *CloseCodes) Inc(code codec.StatusCode) {
	switch {
	case code >= 1000 && code <= 1015:
		c.standard[code-1000].Inc()
	case code >= 3000 && code <= 3999:
		c.app.Inc()
	case code >= 4000 && code <= 4999:
		c.private.Inc()
	}
}

// Each calls fn with a label ("1000" ... "1015", "3xxx", "4xxx") and the
// count of every code seen at least once.
func (c *CloseCodes) Each(fn func(label string, n uint64)) {
	for i := range c.standard {
		if n := c.standard[i].Load(); n > 0 {
			fn(codeLabels[i], n)
		}
	}
	if n := c.app.Load(); n > 0 {
		fn("3xxx", n)
	}
	if n := c.private.Load(); n > 0 {
		fn("4xxx", n)
	}
}

var codeLabels = [16]string{
	"1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007",
	"1008", "1009", "1010", "1011", "1012", "1013", "1014", "1015",
}
