package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latency records durations in microseconds, from 1µs to 60s, with three
// significant digits. It is safe for concurrent use.
type latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatency() *latency { return &latency{h: hdrhistogram.New(1, 60_000_000, 3)} }

func (l *latency) record(d time.Duration) {
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	l.mu.Lock()
	l.h.RecordValue(us)
	l.mu.Unlock()
}

func (l *latency) merge(o *latency) {
	l.mu.Lock()
	l.h.Merge(o.h)
	l.mu.Unlock()
}

func (l *latency) MarshalJSON() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return json.Marshal(l.h.Export())
}

func (l *latency) UnmarshalJSON(b []byte) error {
	var s hdrhistogram.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	l.h = hdrhistogram.Import(&s)
	return nil
}

// percentiles returns p50, p90, p99, p99.9 and max in milliseconds.
func (l *latency) percentiles() map[string]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h.TotalCount() == 0 {
		return nil
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return map[string]float64{
		"p50_ms":  ms(l.h.ValueAtQuantile(50)),
		"p90_ms":  ms(l.h.ValueAtQuantile(90)),
		"p99_ms":  ms(l.h.ValueAtQuantile(99)),
		"p999_ms": ms(l.h.ValueAtQuantile(99.9)),
		"max_ms":  ms(l.h.Max()),
	}
}

// counters are what every part of a run counts.
type counters struct {
	Connected  atomic.Int64
	Messages   atomic.Int64 // messages received (echoes, deliveries)
	Sent       atomic.Int64
	Errors     atomic.Int64
	reasonsMu  sync.Mutex
	reasonsMap map[string]int64
}

func (c *counters) fail(err error) {
	c.Errors.Add(1)
	c.reasonsMu.Lock()
	if c.reasonsMap == nil {
		c.reasonsMap = map[string]int64{}
	}
	c.reasonsMap[errorReason(err)]++
	c.reasonsMu.Unlock()
}

func (c *counters) reasons() map[string]int64 {
	c.reasonsMu.Lock()
	defer c.reasonsMu.Unlock()
	out := map[string]int64{}
	for k, v := range c.reasonsMap {
		out[k] = v
	}
	return out
}

// partResult is what a part (this process, or a worker process) reports.
type partResult struct {
	Connected int64            `json:"connected"`
	Messages  int64            `json:"messages"`
	Sent      int64            `json:"sent"`
	Errors    int64            `json:"errors"`
	Reasons   map[string]int64 `json:"reasons,omitempty"`
	Latency   *latency         `json:"latency"`
	Connect   *latency         `json:"connect_latency"`
	Publish   *latency         `json:"publish_latency,omitempty"` // server API calls (channels -publish-from api)
	Extra     map[string]int64 `json:"extra,omitempty"`
}

// report is one run's outcome: the figures of the human table and of the
// JSON line.
type report struct {
	Scenario string             `json:"scenario"`
	Label    string             `json:"label,omitempty"`
	Time     time.Time          `json:"time"`
	Params   map[string]any     `json:"params"`
	Figures  map[string]float64 `json:"figures"`
	Reasons  map[string]int64   `json:"failures,omitempty"`
	Notes    []string           `json:"notes,omitempty"`
}

func (r *report) set(name string, v float64) {
	if r.Figures == nil {
		r.Figures = map[string]float64{}
	}
	r.Figures[name] = v
}

// print writes the human table.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s", r.Scenario)
	if r.Label != "" {
		fmt.Fprintf(w, " (%s)", r.Label)
	}
	var params []string
	for k, v := range r.Params {
		params = append(params, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(params)
	fmt.Fprintf(w, "  %s\n", strings.Join(params, " "))
	names := make([]string, 0, len(r.Figures))
	for k := range r.Figures {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-28s %14.3f\n", k, r.Figures[k])
	}
	if len(r.Reasons) > 0 {
		fmt.Fprintf(w, "  failures by reason:\n")
		for k, v := range r.Reasons {
			fmt.Fprintf(w, "    %-26s %14d\n", k, v)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// atomicMax keeps the largest value stored.
type atomicMax struct{ v atomic.Int64 }

func (m *atomicMax) store(x int64) {
	for {
		old := m.v.Load()
		if x <= old || m.v.CompareAndSwap(old, x) {
			return
		}
	}
}

func (m *atomicMax) load() int64 { return m.v.Load() }
