// Command bench is the gateway's load tool. It opens real WebSocket
// connections to a server (the gateway, or the baseline in bench/baseline)
// and measures what a user would ask: how fast connections open, what an
// idle connection costs the server, echo throughput and latency, latency at
// a fixed rate without coordinated omission, broadcast fan-out, and what
// slow consumers do to everyone else.
//
//	go run ./bench <scenario> [flags]     go run ./bench <scenario> -h
//
// Scenarios: connect, idle, echo, rate, fanout, slow, channels (the
// Centrifugo client protocol and server API); and report, which turns
// the JSON lines of bench/run.sh into bench/RESULTS.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// options are every scenario's flags; each scenario registers those it
// uses.
type options struct {
	addr, path string
	sources    int
	timeout    time.Duration
	pids       pidList
	metrics    string
	label      string
	json       bool
	maxPerProc int
	dialRate   float64

	n, c      int
	size      int
	binary    bool
	rate      float64
	duration  time.Duration
	interval  time.Duration
	settle    time.Duration
	pubs      int
	slow      int
	slowSize  int
	slowBurst int

	// channels scenario
	chans, subsPerClient int
	api, apiKey          string
	publishFrom, token   string
	clients              int // the run's clients in all (n is this part's share)

	part, parts int // worker process index and count; part < 0 in the coordinator
	offset      int // index of this part's first connection, for source addresses
}

type scenario struct {
	name  string
	usage string
	flags func(fs *flag.FlagSet, o *options)
	// total is how many connections the run opens, which decides whether it
	// is split over worker processes.
	total func(o *options) int
	// share narrows o to part i of k.
	share func(o *options, i, k int)
	// run opens the part's connections, then drives them between start and
	// the end of the run.
	run func(p *part)
	// settles, when set and true, has the coordinator wait for the server's
	// RSS to settle once every part is set up (memory figures).
	settles func(o *options) bool
	// finish derives the figures of the report.
	finish func(o *options, res *partResult, m *measurements, rep *report)
	// check, when set, rejects flag combinations the scenario cannot run,
	// before anything is dialed (checkFlags checks each flag alone).
	check func(o *options) error
}

var scenarios = map[string]*scenario{}

func register(s *scenario) { scenarios[s.name] = s }

func main() { os.Exit(benchMain(os.Args[1:], os.Stdout, os.Stderr)) }

// benchMain is main with its exit code returned: 0 after a run in which
// connections opened (and for -h), 1 when the run failed or opened no
// connection, 2 for a bad command line.
func benchMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "report":
		return reportMain(args[1:])
	}
	s, ok := scenarios[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bench: unknown scenario %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	o := &options{part: -1}
	fs := flag.NewFlagSet("bench "+s.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bench %s [flags]\n\n%s\n\nFlags:\n", s.name, s.usage)
		fs.PrintDefaults()
	}
	commonFlags(fs, o)
	s.flags(fs, o)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := checkFlags(fs)
	if err == nil && s.check != nil {
		err = s.check(o)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", s.name, err)
		return 2
	}
	if o.part >= 0 {
		return workerMain(s, o)
	}
	rep, err := coordinate(s, o, args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", s.name, err)
		return 1
	}
	rep.print(stdout)
	if o.json {
		line, _ := json.Marshal(rep)
		fmt.Fprintln(stdout, string(line))
	}
	if err := rep.failed(o); err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", s.name, err)
		return 1
	}
	return 0
}

func commonFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "server address; a comma-separated list spreads connections round-robin over several servers (connection i goes to address i mod the list's length), as for a cluster")
	fs.StringVar(&o.path, "path", "/ws", "WebSocket path")
	fs.IntVar(&o.sources, "sources", 200, "spread connections over this many source addresses 127.0.0.2... (each has its own ephemeral ports); 0: the kernel's choice")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "connect and handshake timeout")
	fs.Var(&o.pids, "pid", "PID of the server, to read its memory, threads and CPU time from /proc; a comma-separated list sums several servers (a cluster)")
	fs.StringVar(&o.metrics, "metrics", "", "URL of the server's Prometheus metrics, for its goroutine count (go_goroutines)")
	fs.StringVar(&o.label, "label", "", "name of the server under test, carried into the report (gateway, baseline)")
	fs.BoolVar(&o.json, "json", false, "also print the report as one JSON line")
	fs.IntVar(&o.maxPerProc, "max-conns-per-process", 18000, "above this many connections, split the load over worker processes (this machine allows 20,000 open files per process)")
	fs.Float64Var(&o.dialRate, "dial-rate", 5000, "connections opened per second while setting up")
	fs.IntVar(&o.part, "part", -1, "internal: run as worker process number part")
	fs.IntVar(&o.parts, "parts", 0, "internal: number of worker processes")
}

// usage lists the scenarios, each with its whole description.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: bench <scenario> [flags]   (bench <scenario> -h for its flags)\n\nScenarios:\n")
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		text := strings.ReplaceAll(scenarios[n].usage, "\n", "\n           ")
		fmt.Fprintf(w, "  %-8s %s\n\n", n, text)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "report", "turn the JSON lines of bench/run.sh into bench/RESULTS.md")
}

// failed reports a run that measured nothing: no connection opened.
func (r *report) failed(o *options) error {
	if msg, ok := r.Params["failed"].(string); ok { // a scenario's own check (storm)
		return errors.New(msg)
	}
	if r.Figures["connections"] == 0 {
		return fmt.Errorf("no connection opened (%v errors); is a server listening at ws://%s%s?", r.Figures["errors"], o.addr, o.path)
	}
	if p, ok := r.Figures["published"]; ok && p == 0 && o.rate > 0 {
		return errors.New("no publication was accepted: check the server's API address and key (-api, -api-key) or the client's permission to publish")
	}
	return nil
}

// addrOf is the server address connection i (of the whole run) dials: -addr
// may list several, taken round-robin.
func (o *options) addrOf(i int) string {
	if !strings.Contains(o.addr, ",") {
		return o.addr
	}
	list := strings.Split(o.addr, ",")
	return strings.TrimSpace(list[i%len(list)])
}
