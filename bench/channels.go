package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

// The channels scenario speaks the Centrifugo client protocol v2 in JSON
// (centrifugo-protocol.md sections 1-3): each client sends a connect
// command, subscribes to K channels, answers every server ping ({}) with a
// pong ({}), and times each publication push ("pub") from the timestamp in
// its data. Publications go through the server API (POST /api/publish,
// section 8) or as publish commands from the clients.

func init() {
	register(&scenario{
		name: "channels",
		usage: `N clients speak the Centrifugo client protocol v2 (JSON): connect, subscribe
to K channels each out of C ("chat:bench0".."chat:bench<C-1>"), answer server
pings. Publications of S bytes ({"t":<ns>,"p":"xx.."}) go at -rate per second
round-robin over the channels, through the server API (-publish-from api:
POST http://<-api>/api/publish with X-API-Key) or as publish commands from the
clients (-publish-from client). Reports delivery latency from the intended
publish time, deliveries/s, the delivered fraction, and with -pid the server's
CPU per delivery, memory per connection (RSS delta / N) and goroutines.
With -rate 0 nothing is published: the run measures idle connected-and-
subscribed clients, with the server's RSS settled before and after.`,
		flags: func(fs *flag.FlagSet, o *options) {
			o.path = "/connection/websocket"
			fs.Lookup("path").DefValue = o.path
			fs.IntVar(&o.n, "n", 10000, "clients")
			fs.IntVar(&o.chans, "channels", 1, "channels in all (C)")
			fs.IntVar(&o.subsPerClient, "subs-per-client", 1, "channels each client subscribes to (K, at most C)")
			fs.Float64Var(&o.rate, "rate", 100, "publications per second, in total; 0: none (idle memory)")
			fs.IntVar(&o.size, "size", 128, "publication data size in bytes (at least 40)")
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "publishing duration (with -rate 0: how long to hold the idle clients after measuring)")
			fs.StringVar(&o.api, "api", "127.0.0.1:9090", "server API address (host:port), for -publish-from api")
			fs.StringVar(&o.apiKey, "api-key", "", "server API key (X-API-Key)")
			fs.StringVar(&o.publishFrom, "publish-from", "api", "api | client")
			fs.StringVar(&o.token, "token", "", "HS256 secret: sign a connection token (sub bench<i>) for each client; empty: connect anonymously")
			fs.DurationVar(&o.settle, "settle", 10*time.Second, "longest wait for the server's RSS to settle (with -rate 0)")
		},
		total: func(o *options) int { return o.n },
		share: func(o *options, i, k int) {
			o.clients = o.n
			splitConnections(o, i, k) // the part with offset 0 publishes
		},
		settles: func(o *options) bool { return o.rate == 0 },
		run:     runChannels,
		finish:  finishChannels,
		check:   channelsCheck,
	})
}

// channelsCheck rejects flag combinations the scenario cannot run.
func channelsCheck(o *options) error {
	switch {
	case o.chans < 1:
		return errors.New("-channels must be at least 1")
	case o.subsPerClient < 1 || o.subsPerClient > o.chans:
		return fmt.Errorf("-subs-per-client must be 1..%d (-channels)", o.chans)
	case o.publishFrom != "api" && o.publishFrom != "client":
		return fmt.Errorf("-publish-from %q: want api or client", o.publishFrom)
	}
	return nil
}

// chanName is channel j of the run.
func chanName(j int) string { return "chat:bench" + strconv.Itoa(j) }

// subscribedTo returns the channels client i (of the whole run) subscribes
// to: K consecutive channels from i*K, modulo C, so they are distinct and
// the C channels get subscribers as evenly as N*K allows.
func subscribedTo(i, k, c int) []int {
	out := make([]int, k)
	for s := range k {
		out[s] = (i*k + s) % c
	}
	return out
}

// subscribers counts the subscribers of each channel when all n clients
// subscribe as subscribedTo says.
func subscribers(n, k, c int) []int64 {
	out := make([]int64, c)
	for i := range n {
		for _, j := range subscribedTo(i, k, c) {
			out[j]++
		}
	}
	return out
}

// chClient is one protocol client: its WebSocket, a lock for writes (the
// reader answers pings while a publisher may send), and the ids of its
// commands.
type chClient struct {
	ws  *wsClient
	wmu sync.Mutex
	id  atomic.Uint32
}

func (c *chClient) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.send(codec.OpText, p)
}

var (
	pingLine  = []byte("{}")
	pubKey    = []byte(`"pub":`)
	stampKey  = []byte(`{"t":`)
	errorKey  = []byte(`"error":`)
	idKeyHead = []byte(`{"id":`)
)

// replyID returns the id of a reply line, 0 for pushes and pings.
func replyID(line []byte) uint32 {
	if !bytes.HasPrefix(line, idKeyHead) {
		return 0
	}
	rest := line[len(idKeyHead):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	id, _ := strconv.ParseUint(string(rest[:end]), 10, 32)
	return uint32(id)
}

// pubStamp finds the timestamp of a publication push.
func pubStamp(line []byte) (time.Time, bool) {
	i := bytes.Index(line, pubKey)
	if i < 0 {
		return time.Time{}, false
	}
	j := bytes.Index(line[i:], stampKey)
	if j < 0 {
		return time.Time{}, false
	}
	return stampOf(line[i+j+len(stampKey):])
}

// chEvents are what a client's reader passes on.
type chEvents struct {
	reply func(id uint32, line []byte) // command replies
	pub   func(now time.Time, t time.Time)
}

// readLoop reads until the connection fails: it answers pings, hands
// replies and publications on, and ignores other pushes (join, leave).
func (c *chClient) readLoop(p *part, ev *chEvents) error {
	for {
		_, msg, err := c.ws.next()
		if err != nil {
			return err
		}
		now := time.Now()
		for len(msg) > 0 {
			line := msg
			if i := bytes.IndexByte(msg, '\n'); i >= 0 {
				line, msg = msg[:i], msg[i+1:]
			} else {
				msg = nil
			}
			switch {
			case bytes.Equal(line, pingLine):
				if err := c.write(pingLine); err != nil {
					return err
				}
				p.add("pongs", 1)
			case bytes.HasPrefix(line, idKeyHead):
				ev.reply(replyID(line), line)
			default:
				if t, ok := pubStamp(line); ok {
					ev.pub(now, t)
				}
			}
		}
	}
}

// runChannels connects and subscribes every client of the part, then
// publishes (from the first part) until the deadline and waits for the
// deliveries to stop.
func runChannels(p *part) {
	o := &p.o
	var last atomicMax
	var setup sync.WaitGroup
	var clients []*chClient
	var clientsMu sync.Mutex
	live := make(chan struct{}) // closed when the part is set up: readers count deliveries from then on
	setup.Add(o.n)
	conns := p.dialEach(o.n, func(idx int, ws *wsClient) {
		c := &chClient{ws: ws}
		i := o.offset + idx // the client's number in the whole run
		go func() {
			ok := chSetup(p, c, i)
			if ok {
				clientsMu.Lock()
				clients = append(clients, c)
				clientsMu.Unlock()
			}
			setup.Done()
			if !ok {
				return
			}
			ev := &chEvents{
				reply: func(id uint32, line []byte) {
					if bytes.Contains(line, errorKey) {
						p.c.fail(&replyError{line: string(line)})
					}
				},
				pub: func(now, t time.Time) {
					select {
					case <-live:
					default:
						return
					}
					p.lat.record(now.Sub(t))
					p.c.Messages.Add(1)
					last.store(now.UnixNano())
				},
			}
			if err := c.readLoop(p, ev); err != nil && !closedByUs(p) {
				p.c.fail(err)
			}
		}()
	})
	setup.Add(len(conns) - o.n) // those that did not open
	setup.Wait()
	close(live)
	deadline := p.ready()
	if o.rate > 0 && o.offset == 0 && time.Now().Before(deadline) {
		subs := subscribers(o.clients, o.subsPerClient, o.chans)
		pub := newPublisher(p, clients)
		pub.run(deadline, subs)
	}
	if o.rate > 0 {
		waitQuiet(p, deadline)
		p.add("last_ns_max", last.load())
	} else {
		time.Sleep(time.Until(deadline)) // -duration: hold the idle clients (to profile the server)
	}
}

// chSetup sends the connect command and the subscribe commands of client
// i and waits for their replies.
func chSetup(p *part, c *chClient, i int) bool {
	o := &p.o
	c.ws.conn.SetReadDeadline(time.Now().Add(o.timeout + 20*time.Second))
	defer c.ws.conn.SetReadDeadline(time.Time{})
	var cmd []byte
	cmd = append(cmd, `{"id":1,"connect":{"name":"bench"`...)
	if o.token != "" {
		cmd = append(cmd, `,"token":"`...)
		cmd = append(cmd, hs256(o.token, i)...)
		cmd = append(cmd, '"')
	}
	cmd = append(cmd, "}}"...)
	if err := c.write(cmd); err != nil {
		p.c.fail(err)
		return false
	}
	// The replies: 1 (connect), then 2..K+1 (subscribes).
	want := map[uint32]bool{1: true}
	sent := false
	for len(want) > 0 {
		_, msg, err := c.ws.next()
		if err != nil {
			p.c.fail(err)
			return false
		}
		for _, line := range bytes.Split(msg, []byte("\n")) {
			if bytes.Equal(line, pingLine) {
				if err := c.write(pingLine); err != nil {
					p.c.fail(err)
					return false
				}
				p.add("pongs", 1)
				continue
			}
			id := replyID(line)
			if !want[id] {
				continue
			}
			delete(want, id)
			if bytes.Contains(line, errorKey) {
				p.c.fail(&replyError{line: string(line)})
				return false
			}
			if id > 1 {
				p.add("subscribed", 1)
			}
		}
		if !sent && !want[1] {
			sent = true
			cmd = cmd[:0]
			for s, j := range subscribedTo(i, o.subsPerClient, o.chans) {
				if s > 0 {
					cmd = append(cmd, '\n')
				}
				id := uint32(s + 2)
				want[id] = true
				cmd = append(cmd, `{"id":`...)
				cmd = strconv.AppendUint(cmd, uint64(id), 10)
				cmd = append(cmd, `,"subscribe":{"channel":"`...)
				cmd = append(cmd, chanName(j)...)
				cmd = append(cmd, `"}}`...)
			}
			if err := c.write(cmd); err != nil {
				p.c.fail(err)
				return false
			}
		}
	}
	c.id.Store(uint32(o.subsPerClient + 1))
	return true
}

// replyError is an error reply to one of the load tool's commands.
type replyError struct{ line string }

func (e *replyError) Error() string { return "reply " + e.line }

// closedByUs tells a read error caused by the part closing its
// connections from one the server caused.
func closedByUs(p *part) bool {
	select {
	case <-p.startC:
		return time.Now().After(p.deadline)
	default:
		return false
	}
}

// waitQuiet waits after the deadline until no delivery arrived for a
// second, at most 10 s.
func waitQuiet(p *part, deadline time.Time) {
	time.Sleep(time.Until(deadline))
	prev, still := p.c.Messages.Load(), time.Now()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		cur := p.c.Messages.Load()
		if cur != prev {
			prev, still = cur, time.Now()
		} else if time.Since(still) >= time.Second {
			return
		}
	}
}

// publisher sends the run's publications on a fixed schedule: publication
// k is due at start + k/rate and goes to channel k mod C. Latency counts
// from the due time, so a server that makes the publisher wait is charged
// for it (no coordinated omission).
type publisher struct {
	p       *part
	clients []*chClient
	http    *http.Client
	url     string
}

func newPublisher(p *part, clients []*chClient) *publisher {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	return &publisher{p: p, clients: clients, http: &http.Client{Transport: tr, Timeout: time.Minute},
		url: "http://" + p.o.api + "/api/publish"}
}

type publication struct {
	channel int
	due     time.Time
	k       int
}

func (pb *publisher) run(deadline time.Time, subs []int64) {
	o := &pb.p.o
	if o.publishFrom == "client" && len(pb.clients) == 0 {
		return
	}
	jobs := make(chan publication, 4096)
	var wg sync.WaitGroup
	for range 32 { // API calls in flight at once
		wg.Go(func() {
			data := make([]byte, 0, max(o.size, 40)+16)
			body := make([]byte, 0, max(o.size, 40)+128)
			for j := range jobs {
				data = chData(data, j.due, o.size)
				var err error
				if o.publishFrom == "api" {
					body = append(append(append(append(body[:0], `{"channel":"`...), chanName(j.channel)...), `","data":`...), data...)
					body = append(body, '}')
					began := time.Now()
					err = pb.apiPublish(body)
					if err == nil {
						pb.p.pubLat.record(time.Since(began))
					}
				} else {
					c := pb.clients[j.k%len(pb.clients)]
					id := c.id.Add(1)
					body = append(strconv.AppendUint(append(body[:0], `{"id":`...), uint64(id), 10), `,"publish":{"channel":"`...)
					body = append(append(append(append(body, chanName(j.channel)...), `","data":`...), data...), "}}"...)
					err = c.write(body)
				}
				if err != nil {
					pb.p.c.fail(err)
					continue
				}
				pb.p.c.Sent.Add(1)
				pb.p.add("expected_deliveries", subs[j.channel])
			}
		})
	}
	start := time.Now()
	pb.p.add("first_ns_min", start.UnixNano())
	step := time.Duration(float64(time.Second) / o.rate)
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * step)
		if !due.Before(deadline) {
			break
		}
		time.Sleep(time.Until(due))
		jobs <- publication{channel: k % o.chans, due: due, k: k}
	}
	close(jobs)
	wg.Wait()
}

// chData is a publication's data: {"t":<due time, ns>,"p":"xx..."} of size
// bytes (or the shortest such object).
func chData(buf []byte, due time.Time, size int) []byte {
	buf = strconv.AppendInt(append(buf[:0], `{"t":`...), due.UnixNano(), 10)
	buf = append(buf, `,"p":"`...)
	for len(buf)+2 < size {
		buf = append(buf, 'x')
	}
	return append(buf, `"}`...)
}

// apiPublish makes one server API call and checks its answer.
func (pb *publisher) apiPublish(body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, pb.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if pb.p.o.apiKey != "" {
		req.Header.Set("X-API-Key", pb.p.o.apiKey)
	}
	resp, err := pb.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return &httpError{status: strconv.Itoa(resp.StatusCode)}
	}
	if bytes.Contains(answer, errorKey) {
		return &replyError{line: string(answer)}
	}
	return nil
}

// hs256 signs a connection token for client i: {"sub":"bench<i>","exp":
// now+1h} (centrifugo-protocol.md 4.3).
func hs256(secret string, i int) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString(fmt.Appendf(nil, `{"sub":"bench%d","exp":%d}`, i, time.Now().Add(time.Hour).Unix()))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(m.Sum(nil))
}

func finishChannels(o *options, r *partResult, m *measurements, rep *report) {
	rep.Params["n"], rep.Params["channels"], rep.Params["subs_per_client"] = o.n, o.chans, o.subsPerClient
	rep.Params["rate"], rep.Params["size"], rep.Params["duration"], rep.Params["publish_from"] =
		o.rate, o.size, o.duration.String(), o.publishFrom
	if o.rate == 0 {
		rep.Params["publish_from"] = "-"
	}
	rep.set("subscribed", float64(r.Extra["subscribed"]))
	rep.set("pongs", float64(r.Extra["pongs"]))
	latencyFigures(rep, "handshake_", r.Connect)
	if o.rate > 0 {
		window := time.Duration(r.Extra["last_ns_max"] - r.Extra["first_ns_min"])
		if window > 0 && r.Messages > 0 {
			rep.set("deliveries_per_s", float64(r.Messages)/window.Seconds())
		}
		rep.set("published", float64(r.Sent))
		rep.set("deliveries", float64(r.Messages))
		rep.set("expected_deliveries", float64(r.Extra["expected_deliveries"]))
		if e := r.Extra["expected_deliveries"]; e > 0 {
			rep.set("delivered_fraction", float64(r.Messages)/float64(e))
		}
		latencyFigures(rep, "delivery_", r.Latency)
		if o.publishFrom == "api" && r.Publish != nil {
			latencyFigures(rep, "api_publish_", r.Publish) // each call's own time, from sending it to its answer
		}
	}
	if !m.probe.enabled() {
		rep.Notes = append(rep.Notes, "give -pid to measure the server's memory and CPU")
		return
	}
	if r.Connected > 0 {
		rep.set("server_kib_per_conn", float64(m.loaded.RSSKiB-m.before.RSSKiB)/float64(r.Connected))
	}
	rep.set("server_rss_before_mib", float64(m.before.RSSKiB)/1024)
	rep.set("server_rss_loaded_mib", float64(m.loaded.RSSKiB)/1024)
	if m.loaded.Goroutines >= 0 {
		rep.set("server_goroutines_before", float64(m.before.Goroutines))
		rep.set("server_goroutines_loaded", float64(m.loaded.Goroutines))
	}
	rep.set("server_threads", float64(m.loaded.Threads))
	if o.rate > 0 {
		serverFigures(m, rep, r.Messages)
		cpuUS := float64((m.end.CPU - m.start.CPU).Nanoseconds()) / 1000
		if r.Messages > 0 {
			rep.set("server_cpu_us_per_delivery", cpuUS/float64(r.Messages))
		}
		if r.Sent > 0 {
			rep.set("server_cpu_us_per_publication", cpuUS/float64(r.Sent))
		}
	}
}
