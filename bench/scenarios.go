package main

import (
	"bytes"
	"flag"
	"strconv"
	"sync"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

func init() {
	register(&scenario{
		name: "connect",
		usage: `Open N connections at a target rate and report handshakes per second,
handshake latency (TCP connect + upgrade) and failures by reason.`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.n, "n", 10000, "connections to open")
		},
		total: func(o *options) int { return o.n },
		share: splitConnections,
		run: func(p *part) {
			t0 := time.Now()
			p.dialAll(p.o.n)
			p.add("setup_ns_max", int64(time.Since(t0)))
			p.ready()
		},
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["n"], rep.Params["dial_rate"] = o.n, o.dialRate
			setup := time.Duration(r.Extra["setup_ns_max"])
			rep.set("handshakes_per_s", float64(r.Connected)/setup.Seconds())
			rep.set("setup_seconds", setup.Seconds())
			latencyFigures(rep, "handshake_", r.Connect)
		},
	})

	register(&scenario{
		name: "idle",
		usage: `Open N connections and hold them idle; with -pid, report the server's
memory per connection from its RSS (settled, before and after), and its
thread and goroutine counts (-metrics for goroutines).`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.n, "n", 10000, "connections to hold")
			fs.DurationVar(&o.settle, "settle", 10*time.Second, "longest wait for the server's RSS to settle")
			fs.DurationVar(&o.duration, "hold", 0, "keep the connections this long after measuring")
		},
		total: func(o *options) int { return o.n },
		share: splitConnections,
		run: func(p *part) {
			p.dialAll(p.o.n)
			time.Sleep(time.Until(p.ready()))
		},
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["n"] = o.n
			latencyFigures(rep, "handshake_", r.Connect)
			if !m.probe.enabled() {
				rep.Notes = append(rep.Notes, "give -pid to measure the server's memory")
				return
			}
			if r.Connected > 0 {
				rep.set("server_kib_per_conn", float64(m.loaded.RSSKiB-m.before.RSSKiB)/float64(r.Connected))
				if m.loaded.RSSKiB < m.before.RSSKiB {
					rep.Notes = append(rep.Notes, "the server's RSS fell while connections opened (it returned memory from an earlier run): measure idle memory on a freshly started server")
				}
			}
			rep.set("server_rss_before_mib", float64(m.before.RSSKiB)/1024)
			rep.set("server_rss_loaded_mib", float64(m.loaded.RSSKiB)/1024)
			rep.set("server_threads", float64(m.loaded.Threads))
			if m.loaded.Goroutines >= 0 {
				rep.set("server_goroutines_before", float64(m.before.Goroutines))
				rep.set("server_goroutines", float64(m.loaded.Goroutines))
			}
		},
	})

	register(&scenario{
		name: "echo",
		usage: `C connections in a closed loop: each sends a message of S bytes and waits
for its echo, for duration D. Reports messages per second, round-trip
latency percentiles, and with -pid the server's CPU time per message.`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.c, "c", 100, "connections")
			fs.IntVar(&o.size, "size", 64, "message size in bytes")
			fs.BoolVar(&o.binary, "binary", false, "send binary messages instead of text")
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
		},
		total: func(o *options) int { return o.c },
		share: func(o *options, i, k int) { o.n = o.c; splitConnections(o, i, k); o.c = o.n },
		run: func(p *part) {
			conns := p.dialAll(p.o.c)
			deadline := p.ready()
			payload := bytes.Repeat([]byte("x"), p.o.size)
			op := opFor(p.o.binary)
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Go(func() { echoLoop(p, c, op, payload, deadline) })
			}
			wg.Wait()
		},
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["c"], rep.Params["size"], rep.Params["binary"], rep.Params["duration"] = o.c, o.size, o.binary, o.duration.String()
			rep.set("msgs_per_s", float64(r.Messages)/m.elapsed.Seconds())
			latencyFigures(rep, "rtt_", r.Latency)
			serverFigures(m, rep, r.Messages)
		},
	})

	register(&scenario{
		name: "rate",
		usage: `A fixed total message rate spread over C connections, each on its own
schedule. Latency is measured from each message's intended send time, so
that a server that stalls is charged for every message it delayed (no
coordinated omission).`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.c, "c", 10000, "connections")
			fs.Float64Var(&o.rate, "rate", 10000, "messages per second, in total")
			fs.IntVar(&o.size, "size", 64, "message size in bytes (at least 24)")
			fs.BoolVar(&o.binary, "binary", false, "send binary messages instead of text")
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
		},
		total: func(o *options) int { return o.c },
		share: func(o *options, i, k int) {
			o.n = o.c
			splitConnections(o, i, k)
			o.rate = o.rate * float64(o.n) / float64(o.c)
			o.c = o.n
		},
		run: runRate,
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["c"], rep.Params["rate"], rep.Params["size"], rep.Params["duration"] = o.c, o.rate, o.size, o.duration.String()
			rep.set("msgs_per_s", float64(r.Messages)/o.duration.Seconds())
			rep.set("sent", float64(r.Sent))
			rep.set("missing", float64(r.Sent-r.Messages))
			latencyFigures(rep, "latency_", r.Latency)
			serverFigures(m, rep, r.Messages)
		},
	})

	register(&scenario{
		name: "fanout",
		usage: `N subscribers against the server's broadcast handler; P of them publish a
message of S bytes every interval (with a timestamp inside). Reports
deliveries per second and delivery latency from the intended publish time.
Start the gateway with -handler broadcast (the baseline: -mode broadcast).`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.n, "n", 10000, "subscribers (publishers included)")
			fs.IntVar(&o.pubs, "pubs", 1, "publishers")
			fs.DurationVar(&o.interval, "interval", 10*time.Millisecond, "each publisher's period")
			fs.IntVar(&o.size, "size", 128, "message size in bytes (at least 24)")
			fs.BoolVar(&o.binary, "binary", false, "send binary messages instead of text")
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "publishing duration")
		},
		total: func(o *options) int { return o.n },
		share: func(o *options, i, k int) {
			splitConnections(o, i, k)
			if i > 0 {
				o.pubs = 0 // publishers live in the first part
			}
		},
		run: runFanout,
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["n"], rep.Params["pubs"], rep.Params["interval"], rep.Params["size"], rep.Params["duration"] =
				o.n, o.pubs, o.interval.String(), o.size, o.duration.String()
			window := time.Duration(r.Extra["last_ns_max"] - r.Extra["first_ns_min"])
			if window > 0 {
				rep.set("deliveries_per_s", float64(r.Messages)/window.Seconds())
			}
			expected := r.Sent * r.Connected
			rep.set("published", float64(r.Sent))
			rep.set("deliveries", float64(r.Messages))
			if expected > 0 {
				rep.set("delivered_fraction", float64(r.Messages)/float64(expected))
			}
			latencyFigures(rep, "delivery_", r.Latency)
			serverFigures(m, rep, r.Messages)
		},
	})

	register(&scenario{
		name: "slow",
		usage: `C normal clients echo in a closed loop (as in echo) while K slow clients
stop reading: each sends a burst (more than its buffers and queue can echo
back), then neither reads nor sends. Reports what the normal clients see, and
how many slow clients the server cut off. Run it with -slow 0 to compare.`,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.c, "c", 100, "normal clients")
			fs.IntVar(&o.slow, "slow", 200, "clients that never read")
			fs.IntVar(&o.size, "size", 64, "normal clients' message size")
			fs.IntVar(&o.slowSize, "slow-size", 16384, "slow clients' message size")
			fs.IntVar(&o.slowBurst, "slow-burst", 16<<20, "bytes each slow client sends before it goes silent")
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
		},
		total: func(o *options) int { return o.c + o.slow },
		share: func(o *options, i, k int) {},
		run:   runSlow,
		finish: func(o *options, r *partResult, m *measurements, rep *report) {
			rep.Params["c"], rep.Params["slow"], rep.Params["size"], rep.Params["slow_size"], rep.Params["slow_burst"], rep.Params["duration"] =
				o.c, o.slow, o.size, o.slowSize, o.slowBurst, o.duration.String()
			rep.set("normal_msgs_per_s", float64(r.Messages)/m.elapsed.Seconds())
			latencyFigures(rep, "normal_rtt_", r.Latency)
			rep.set("slow_cut_off", float64(r.Extra["slow_cut_off"]))
			rep.set("slow_bytes_sent_mib", float64(r.Extra["slow_bytes"])/(1<<20))
			serverFigures(m, rep, r.Messages)
		},
	})
}

// splitConnections gives part i of k its share of o.n and its offset.
func splitConnections(o *options, i, k int) {
	share := o.n / k
	o.offset = i * share
	if i == k-1 {
		share = o.n - o.offset
	}
	o.n = share
}

func opFor(binary bool) codec.OpCode {
	if binary {
		return codec.OpBinary
	}
	return codec.OpText
}

// stamped returns a message of size bytes starting with t as 19 decimal
// digits (valid text), padded with x.
func stamped(buf []byte, t time.Time, size int) []byte {
	buf = strconv.AppendInt(buf[:0], t.UnixNano(), 10)
	for len(buf) < size {
		buf = append(buf, 'x')
	}
	return buf
}

func stampOf(p []byte) (time.Time, bool) {
	if len(p) < 19 {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(string(p[:19]), 10, 64)
	return time.Unix(0, ns), err == nil
}

// runRate sends on a fixed schedule per connection and measures from the
// intended send times. One scheduler goroutine sends every message when it
// is due (ten thousand sleeping goroutines would make the load tool, not the
// server, the source of latency); a reader per connection takes the echoes.
func runRate(p *part) {
	conns := p.dialAll(p.o.c)
	deadline := p.ready()
	if len(conns) == 0 {
		return
	}
	n := len(conns)
	interval := time.Duration(float64(time.Second) * float64(n) / p.o.rate)
	start := time.Now()
	size := max(p.o.size, 24)
	op := opFor(p.o.binary)
	// Connection i sends at start + i*interval/n + k*interval: the schedule
	// as a whole is one message every interval/n, in connection order.
	step := interval / time.Duration(n)
	total := 0
	for start.Add(time.Duration(total) * step).Before(deadline) {
		total++
	}
	counts := make([]int, n)
	for k := range total {
		counts[k%n]++
	}
	p.c.Sent.Add(int64(total))
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 0, size)
		for k := range total {
			intended := start.Add(time.Duration(k) * step)
			if wait := time.Until(intended); wait > 0 {
				time.Sleep(wait)
			}
			c := conns[k%n]
			if err := c.send(op, stamped(buf, intended, size)); err != nil {
				p.c.fail(err) // a late send keeps its intended time: no coordinated omission
			}
		}
	})
	for i, c := range conns {
		count := counts[i]
		wg.Go(func() {
			c.conn.SetReadDeadline(deadline.Add(5 * time.Second))
			for range count {
				_, msg, err := c.next()
				if err != nil {
					p.c.fail(err)
					return
				}
				if t, ok := stampOf(msg); ok {
					p.lat.record(time.Since(t))
				}
				p.c.Messages.Add(1)
			}
		})
	}
	wg.Wait()
}

// runFanout publishes from the first connections and receives on all.
func runFanout(p *part) {
	conns := p.dialAll(p.o.n)
	deadline := p.ready()
	size := max(p.o.size, 24)
	op := opFor(p.o.binary)
	start := time.Now()
	var wg sync.WaitGroup
	var firstMu sync.Once
	for i := range min(p.o.pubs, len(conns)) {
		c := conns[i]
		offset := p.o.interval * time.Duration(i) / time.Duration(max(p.o.pubs, 1))
		wg.Go(func() {
			buf := make([]byte, 0, size)
			for k := 0; ; k++ {
				intended := start.Add(offset + time.Duration(k)*p.o.interval)
				if !intended.Before(deadline) {
					return
				}
				time.Sleep(time.Until(intended))
				firstMu.Do(func() { p.add("first_ns_min", intended.UnixNano()) })
				if err := c.send(op, stamped(buf, intended, size)); err != nil {
					p.c.fail(err)
					return
				}
				p.c.Sent.Add(1)
			}
		})
	}
	var last atomicMax
	for _, c := range conns {
		wg.Go(func() {
			c.conn.SetReadDeadline(deadline.Add(3 * time.Second))
			for {
				_, msg, err := c.next()
				if err != nil {
					if errorReason(err) != "timeout" {
						p.c.fail(err)
					}
					return
				}
				now := time.Now()
				if t, ok := stampOf(msg); ok {
					p.lat.record(now.Sub(t))
				}
				p.c.Messages.Add(1)
				last.store(now.UnixNano())
			}
		})
	}
	wg.Wait()
	p.add("last_ns_max", last.load())
}

// runSlow runs normal echo clients beside clients that stop reading: each
// slow client sends a burst of messages whose echoes are more than its
// socket buffers and its server-side queue can hold, then never reads (nor
// sends) again. At the end it checks, by reading what was buffered, whether
// the server cut it off.
func runSlow(p *part) {
	normal := p.dialAll(p.o.c)
	slow := make([]*wsClient, 0, p.o.slow)
	for i := range p.o.slow {
		if c, err := p.dial(p.o.c + i); err == nil {
			slow = append(slow, c)
		}
	}
	deadline := p.ready()
	var wg sync.WaitGroup
	junk := bytes.Repeat([]byte("s"), p.o.slowSize)
	for _, c := range slow {
		wg.Go(func() {
			for sent := 0; sent < p.o.slowBurst && time.Now().Before(deadline); sent += len(junk) {
				c.conn.SetWriteDeadline(deadline)
				if err := c.send(codec.OpBinary, junk); err != nil {
					return
				}
				p.add("slow_bytes", int64(len(junk)))
			}
		})
	}
	payload := bytes.Repeat([]byte("x"), p.o.size)
	for _, c := range normal {
		wg.Go(func() { echoLoop(p, c, codec.OpText, payload, deadline) })
	}
	wg.Wait()
	for _, c := range slow { // after the measurement: did the server hang up?
		wg.Go(func() {
			c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 256<<10)
			for {
				if _, err := c.conn.Read(buf); err != nil {
					if errorReason(err) != "timeout" {
						p.add("slow_cut_off", 1)
					}
					return
				}
			}
		})
	}
	wg.Wait()
}

// echoLoop sends payload and waits for its echo, again and again until
// deadline, recording each round trip.
func echoLoop(p *part, c *wsClient, op codec.OpCode, payload []byte, deadline time.Time) {
	for time.Now().Before(deadline) {
		t := time.Now()
		if err := c.send(op, payload); err != nil {
			p.c.fail(err)
			return
		}
		if _, _, err := c.next(); err != nil {
			p.c.fail(err)
			return
		}
		p.lat.record(time.Since(t))
		p.c.Messages.Add(1)
	}
}
