package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The storm scenario: a reconnect storm against a node started with
// limits.handshake_rate. Every client connects at once (at -dial-rate), and
// one answered 503 comes back after its Retry-After, as the SDKs do, until
// it is in or -within passes. The report says whether every client got in,
// whether any saw a reset, and the rate the 101s arrived at (each part
// counts them per 100ms of wall time; the middle 80% of all admissions
// gives the rate), to compare with the node's configured rate (-expect).
func init() {
	register(&scenario{
		name: "storm",
		usage: `Reconnect storm: N clients connect at once to a node with limits.handshake_rate;
those answered 503 retry after Retry-After. Reports every client connected,
resets, 503s and the admitted rate (fails if it is off -expect by more than 5%).`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.n, "n", 20000, "clients")
			fs.Float64Var(&o.rate, "expect", 2000, "the node's limits.handshake_rate, to check the admitted rate against (0: no check)")
			fs.DurationVar(&o.duration, "within", 90*time.Second, "every client must be in by then")
		},
		total: func(o *options) int { return o.n },
		share: splitConnections,
		run:   runStorm,
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["n"], rep.Params["expect"], rep.Params["dial_rate"] = o.n, o.rate, o.dialRate
			rep.set("connected", float64(r.Connected))
			rep.set("refused_503", float64(r.Extra["refused_503"]))
			rep.set("resets", float64(r.Reasons["reset"]))
			rate, span := stormRate(r.Extra)
			rep.set("admitted_per_s", rate)
			rep.set("all_in_seconds", span.Seconds())
			latencyFigures(rep, "handshake_", r.Connect)
			var bad []string
			if r.Connected != int64(o.n) {
				bad = append(bad, fmt.Sprintf("%d of %d clients connected", r.Connected, o.n))
			}
			if n := r.Reasons["reset"]; n > 0 {
				bad = append(bad, fmt.Sprintf("%d connections reset", n))
			}
			if o.rate > 0 {
				errPct := 100 * (rate - o.rate) / o.rate
				rep.set("admitted_error_pct", errPct)
				if errPct < -5 || errPct > 5 {
					bad = append(bad, fmt.Sprintf("admitted %.0f/s, %.1f%% off the expected %.0f/s", rate, errPct, o.rate))
				}
			}
			if len(bad) > 0 {
				rep.Params["failed"] = strings.Join(bad, "; ")
			}
		},
	})
}

func runStorm(p *part) {
	deadline := time.Now().Add(p.o.duration)
	p.add("start_ns_min", time.Now().UnixNano())
	// A goroutine per client: each holds its connection attempt (and its
	// wait for Retry-After) at once, as a real storm's clients do.
	var wg sync.WaitGroup
	pace := time.Duration(float64(time.Second) / max(p.o.dialRate/float64(max(p.o.parts, 1)), 1))
	t0 := time.Now()
	for i := range p.o.n {
		if wait := time.Until(t0.Add(time.Duration(i) * pace)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() { stormClient(p, i, deadline) })
	}
	wg.Wait()
	p.add("end_ns_max", time.Now().UnixNano())
	p.ready()
}

// stormClient connects client i, retrying 503s after their Retry-After.
func stormClient(p *part, i int, deadline time.Time) {
	for time.Now().Before(deadline) {
		c, took, err := dialWS(p.o.addrOf(p.o.offset+i), p.o.path, sourceIP(p.o.offset+i, p.o.sources), p.o.timeout)
		var he *httpError
		if errors.As(err, &he) && he.status == "503" {
			p.add("refused_503", 1)
			time.Sleep(max(he.retryAfter, 100*time.Millisecond))
			continue
		}
		if err != nil {
			p.c.fail(err)
			return
		}
		p.connLat.record(took)
		p.c.Connected.Add(1)
		p.add("admit_at_"+strconv.FormatInt(time.Now().UnixNano()/int64(100*time.Millisecond), 10), 1)
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		return
	}
	p.c.fail(fmt.Errorf("not in within %v: timeout", p.o.duration))
}

// stormRate is the rate of the middle 80% of admissions, from the 100ms
// buckets the parts counted (gaps included: idle 100ms count as time), and the time from the first start to the last
// admission.
func stormRate(extra map[string]int64) (float64, time.Duration) {
	type bucket struct{ at, n int64 }
	var bs []bucket
	var total int64
	for k, v := range extra {
		if at, ok := strings.CutPrefix(k, "admit_at_"); ok {
			t, _ := strconv.ParseInt(at, 10, 64)
			bs = append(bs, bucket{t, v})
			total += v
		}
	}
	if len(bs) < 2 {
		return 0, 0
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].at < bs[j].at })
	// The buckets wholly inside the middle 80%: the first and last are
	// partial.
	lo, hi := total/10, total*9/10
	var seen, counted int64
	first, last := int64(-1), int64(-1)
	for _, b := range bs {
		if seen >= lo && first < 0 {
			first = b.at
		}
		seen += b.n
		if seen >= hi {
			last = b.at
			break
		}
	}
	for _, b := range bs {
		if b.at > first && b.at < last {
			counted += b.n
		}
	}
	span := time.Duration(bs[len(bs)-1].at+1)*100*time.Millisecond - time.Duration(extra["start_ns_min"])
	if last-first < 2 {
		return 0, span
	}
	return float64(counted) / (float64(last-first-1) / 10), span
}
