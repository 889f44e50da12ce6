package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// part is one process's share of a run: its connections and counters.
// Scenarios open connections with dial, call ready, wait for started, drive
// the load until deadline, and return; the part closes the connections when
// the coordinator says so.
type part struct {
	o       options
	c       counters
	lat     *latency // the scenario's latency (echo round trip, delivery)
	connLat *latency // handshake latency
	pubLat  *latency // server API publish calls
	extra   sync.Map // string -> *int64 counters a scenario adds

	mu    sync.Mutex
	conns []*wsClient

	readyOnce sync.Once
	readyC    chan struct{}
	startC    chan struct{}
	deadline  time.Time
}

func newPart(o options) *part {
	return &part{o: o, lat: newLatency(), connLat: newLatency(), pubLat: newLatency(), readyC: make(chan struct{}), startC: make(chan struct{})}
}

// dial opens connection number i of the part (its source address follows
// from the part's offset).
func (p *part) dial(i int) (*wsClient, error) {
	c, took, err := dialWS(p.o.addrOf(p.o.offset+i), p.o.path, sourceIP(p.o.offset+i, p.o.sources), p.o.timeout)
	if err != nil {
		p.c.fail(err)
		return nil, err
	}
	p.connLat.record(took)
	p.c.Connected.Add(1)
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c, nil
}

// dialAll opens n connections at the dial rate with a few dozen dialers,
// and returns those that opened.
func (p *part) dialAll(n int) []*wsClient { return p.dialEach(n, nil) }

// dialEach is dialAll that also calls then (when not nil) with each
// connection as soon as it is open, from the dialer: then must not block.
// A protocol whose server closes connections that stay silent (Centrifugo's
// 3502 after 10 s without a connect command) starts there rather than after
// the last connection opened.
func (p *part) dialEach(n int, then func(i int, c *wsClient)) []*wsClient {
	out := make([]*wsClient, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, 64) {
		wg.Go(func() {
			for i := range next {
				if c, err := p.dial(i); err == nil {
					out[i] = c
					if then != nil {
						then(i, c)
					}
				}
			}
		})
	}
	pace := time.Duration(float64(time.Second) / max(p.o.dialRate/float64(max(p.o.parts, 1)), 1))
	t0 := time.Now()
	for i := range n {
		if wait := time.Until(t0.Add(time.Duration(i) * pace)); wait > 0 {
			time.Sleep(wait)
		}
		next <- i
	}
	close(next)
	wg.Wait()
	live := out[:0]
	for _, c := range out {
		if c != nil {
			live = append(live, c)
		}
	}
	return live
}

// ready tells the coordinator the part is set up, and waits until it says
// start. It returns the end of the timed phase.
func (p *part) ready() time.Time {
	p.readyOnce.Do(func() { close(p.readyC) })
	<-p.startC
	return p.deadline
}

func (p *part) add(name string, n int64) {
	v, _ := p.extra.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(n)
}

func (p *part) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.close()
	}
}

func (p *part) result() *partResult {
	r := &partResult{
		Connected: p.c.Connected.Load(), Messages: p.c.Messages.Load(), Sent: p.c.Sent.Load(),
		Errors: p.c.Errors.Load(), Reasons: p.c.reasons(), Latency: p.lat, Connect: p.connLat,
		Publish: p.pubLat, Extra: map[string]int64{},
	}
	p.extra.Range(func(k, v any) bool { r.Extra[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return r
}

// handle is the coordinator's view of a part: in this process, or a worker.
type handle struct {
	ready    chan struct{}
	start    func(deadline time.Time)
	progress func() (connected, messages, errors int64)
	result   func() *partResult // waits for the timed phase to end
	stop     func()             // closes the connections
}

func localHandle(s *scenario, o options) *handle {
	p := newPart(o)
	done := make(chan struct{})
	go func() { s.run(p); close(done) }()
	return &handle{
		ready: p.readyC,
		start: func(deadline time.Time) { p.deadline = deadline; close(p.startC) },
		progress: func() (int64, int64, int64) {
			return p.c.Connected.Load(), p.c.Messages.Load(), p.c.Errors.Load()
		},
		result: func() *partResult { <-done; return p.result() },
		stop:   p.closeAll,
	}
}

// workerMessage is one line of the worker protocol on its stdout.
type workerMessage struct {
	Ready     bool        `json:"ready,omitempty"`
	Connected int64       `json:"connected"`
	Messages  int64       `json:"messages"`
	Errors    int64       `json:"errors"`
	Result    *partResult `json:"result,omitempty"`
}

// processHandle runs part i of k as a worker process: this same binary with
// the same flags plus -part and -parts. A process holds at most the file
// limit's worth of sockets, so a run of 50,000 connections takes three.
func processHandle(args []string, i, k int) (*handle, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append(append([]string{os.Args[1]}, args...), "-part", strconv.Itoa(i), "-parts", strconv.Itoa(k))...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var last workerMessage
	h := &handle{ready: make(chan struct{})}
	resultC := make(chan *partResult, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		readyOnce := sync.Once{}
		for sc.Scan() {
			var m workerMessage
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			mu.Lock()
			last = m
			mu.Unlock()
			if m.Ready {
				readyOnce.Do(func() { close(h.ready) })
			}
			if m.Result != nil {
				resultC <- m.Result
			}
		}
		readyOnce.Do(func() { close(h.ready) }) // a worker that died counts as ready: its result is empty
		close(resultC)
	}()
	h.start = func(deadline time.Time) { fmt.Fprintf(stdin, "start %d\n", deadline.UnixNano()) }
	h.progress = func() (int64, int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		return last.Connected, last.Messages, last.Errors
	}
	h.result = func() *partResult {
		if r, ok := <-resultC; ok {
			return r
		}
		return &partResult{Latency: newLatency(), Connect: newLatency(), Reasons: map[string]int64{"worker_died": 1}}
	}
	h.stop = func() { stdin.Close(); cmd.Wait() }
	return h, nil
}

// workerMain is a worker process: it runs its part and speaks the protocol.
func workerMain(s *scenario, o *options) int {
	s.share(o, o.part, o.parts)
	p := newPart(*o)
	done := make(chan struct{})
	go func() { s.run(p); close(done) }()
	enc := json.NewEncoder(os.Stdout)
	var encMu sync.Mutex
	emit := func(m workerMessage) { encMu.Lock(); enc.Encode(m); encMu.Unlock() }
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				emit(workerMessage{Connected: p.c.Connected.Load(), Messages: p.c.Messages.Load(), Errors: p.c.Errors.Load()})
			}
		}
	}()
	<-p.readyC
	emit(workerMessage{Ready: true, Connected: p.c.Connected.Load()})
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return 1
	}
	var ns int64
	fmt.Sscanf(line, "start %d", &ns)
	p.deadline = time.Unix(0, ns)
	close(p.startC)
	<-done
	close(stopProgress)
	emit(workerMessage{Result: p.result(), Connected: p.c.Connected.Load(), Messages: p.c.Messages.Load()})
	io.Copy(io.Discard, in) // hold the connections until the coordinator is done measuring
	p.closeAll()
	return 0
}
