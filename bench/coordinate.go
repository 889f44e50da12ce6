package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// measurements are the server-side samples taken around a run.
type measurements struct {
	probe   serverProbe
	before  serverSample // before any connection, settled
	loaded  serverSample // all connections open, settled
	start   serverSample // at the start of the timed phase
	end     serverSample // at its end
	elapsed time.Duration
}

// coordinate runs a scenario: in this process, or split over worker
// processes; it samples the server before, at load and after, and shows
// progress on a terminal.
func coordinate(s *scenario, o *options, args []string) (*report, error) {
	m := &measurements{probe: serverProbe{pids: o.pids, metricsURL: o.metrics}}
	if m.probe.enabled() {
		fmt.Fprintf(os.Stderr, "bench: settling the server's memory before connecting...\n")
		m.before = m.probe.settled(o.settleOr(10 * time.Second))
	}
	total := s.total(o)
	k := (total + o.maxPerProc - 1) / o.maxPerProc
	var handles []*handle
	if k <= 1 {
		local := *o
		s.share(&local, 0, 1)
		handles = append(handles, localHandle(s, local))
	} else {
		fmt.Fprintf(os.Stderr, "bench: %d connections: splitting over %d worker processes\n", total, k)
		for i := range k {
			h, err := processHandle(args, i, k)
			if err != nil {
				return nil, err
			}
			handles = append(handles, h)
		}
	}
	defer func() {
		for _, h := range handles {
			h.stop()
		}
	}()

	prog := newProgress(handles)
	for _, h := range handles {
		for waiting := true; waiting; {
			select {
			case <-h.ready:
				waiting = false
			case <-time.After(time.Second):
				prog.show("connecting")
			}
		}
	}
	prog.show("connected")
	if m.probe.enabled() {
		if s.name == "idle" || s.name == "connect" || (s.settles != nil && s.settles(o)) {
			m.loaded = m.probe.settled(o.settleOr(10 * time.Second))
		} else {
			m.loaded, _ = m.probe.sample()
		}
		m.start, _ = m.probe.sample()
	}
	t0 := time.Now()
	deadline := t0.Add(o.duration)
	for _, h := range handles {
		h.start(deadline)
	}
	results := make(chan *partResult, len(handles))
	for _, h := range handles {
		go func() { results <- h.result() }()
	}
	merged := &partResult{Latency: newLatency(), Connect: newLatency(), Publish: newLatency(), Reasons: map[string]int64{}, Extra: map[string]int64{}}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for got := 0; got < len(handles); {
		select {
		case r := <-results:
			merge(merged, r)
			got++
		case <-tick.C:
			prog.show("running")
		}
	}
	m.elapsed = time.Since(t0)
	if m.probe.enabled() {
		m.end, _ = m.probe.sample()
	}
	prog.done()

	rep := &report{Scenario: s.name, Label: o.label, Time: time.Now().UTC(), Params: map[string]any{}, Reasons: merged.Reasons}
	rep.set("connections", float64(merged.Connected))
	rep.set("errors", float64(merged.Errors))
	s.finish(o, merged, m, rep)
	if len(rep.Reasons) == 0 {
		rep.Reasons = nil
	}
	return rep, nil
}

func (o *options) settleOr(d time.Duration) time.Duration {
	if o.settle > 0 {
		return o.settle
	}
	return d
}

func merge(into, r *partResult) {
	into.Connected += r.Connected
	into.Messages += r.Messages
	into.Sent += r.Sent
	into.Errors += r.Errors
	for k, v := range r.Reasons {
		into.Reasons[k] += v
	}
	for k, v := range r.Extra {
		old, seen := into.Extra[k]
		switch {
		case strings.HasSuffix(k, "_max"):
			into.Extra[k] = max(old, v)
		case strings.HasSuffix(k, "_min"):
			if !seen || v < old {
				into.Extra[k] = v
			}
		default:
			into.Extra[k] += v
		}
	}
	if r.Latency != nil {
		into.Latency.merge(r.Latency)
	}
	if r.Connect != nil {
		into.Connect.merge(r.Connect)
	}
	if r.Publish != nil {
		into.Publish.merge(r.Publish)
	}
}

// serverFigures adds what the probe saw to the report.
func serverFigures(m *measurements, rep *report, messages int64) {
	if !m.probe.enabled() {
		return
	}
	cpu := m.end.CPU - m.start.CPU
	rep.set("server_cpu_seconds", cpu.Seconds())
	if messages > 0 {
		rep.set("server_cpu_us_per_msg", float64(cpu.Microseconds())/float64(messages))
	}
	rep.set("server_rss_mib", float64(m.end.RSSKiB)/1024)
	rep.set("server_threads", float64(m.end.Threads))
	if m.end.Goroutines >= 0 {
		rep.set("server_goroutines", float64(m.end.Goroutines))
	}
}

func latencyFigures(rep *report, prefix string, l *latency) {
	p := l.percentiles()
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rep.set(prefix+k, p[k])
	}
}

// progress shows a live status line on a terminal.
type progress struct {
	handles  []*handle
	terminal bool
	last     int64
	lastT    time.Time
}

func newProgress(h []*handle) *progress {
	st, err := os.Stderr.Stat()
	return &progress{handles: h, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0, lastT: time.Now()}
}

func (p *progress) show(phase string) {
	if !p.terminal {
		return
	}
	var conns, msgs, errs int64
	for _, h := range p.handles {
		c, m, e := h.progress()
		conns, msgs, errs = conns+c, msgs+m, errs+e
	}
	now := time.Now()
	rate := float64(msgs-p.last) / now.Sub(p.lastT).Seconds()
	p.last, p.lastT = msgs, now
	fmt.Fprintf(os.Stderr, "\r%-10s connections %8d   msgs/s %10.0f   errors %6d ", phase, conns, rate, errs)
}

func (p *progress) done() {
	if p.terminal {
		fmt.Fprintln(os.Stderr)
	}
}
