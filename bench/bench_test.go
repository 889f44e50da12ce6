package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/session"
)

// gateway serves h on loopback for the duration of the test.
func gateway(t *testing.T, h session.Handler) string {
	t.Helper()
	_, addr := gatewaytest.Serve(t, poller.Options{}, h)
	return addr
}

// run runs a scenario in this process with small parameters.
func run(t *testing.T, name string, addr string, set func(o *options)) *report {
	t.Helper()
	o := &options{addr: addr, path: "/ws", sources: 4, timeout: 5 * time.Second, maxPerProc: 18000,
		dialRate: 2000, part: -1, pids: pidList{os.Getpid()}, duration: 300 * time.Millisecond, settle: time.Second}
	set(o)
	rep, err := coordinate(scenarios[name], o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Figures["errors"] != 0 {
		t.Fatalf(
			"%s: %v errors: %v",
			name, rep.Figures["errors"], rep.Reasons,
		)
	}
	return rep
}

// TestScenariosMeasure runs every scenario briefly against the gateway and
// checks that the figures the report depends on are there and plausible.
// The minimums are far below what any healthy run reaches (this is not a
// speed test): the slow scenario's 1 msg/s only says that normal clients
// are not stalled behind the clients that never read.
func TestScenariosMeasure(t *testing.T) {
	echo := gateway(t, handler.Echo{})
	room := gateway(t, handler.Broadcast{})
	checks := []struct {
		name   string
		addr   string
		set    func(o *options)
		figure string
		min    float64
	}{
		{"connect", echo, func(o *options) { o.n = 200 }, "handshakes_per_s", 10},
		{"idle", echo, func(o *options) { o.n = 200 }, "server_rss_loaded_mib", 1},
		{"echo", echo, func(o *options) { o.c, o.size = 4, 64 }, "msgs_per_s", 100},
		{"rate", echo, func(o *options) { o.c, o.rate, o.size = 20, 200, 64 }, "msgs_per_s", 50},
		{"fanout", room, func(o *options) { o.n, o.pubs, o.interval, o.size = 20, 1, 10*time.Millisecond, 128 }, "delivered_fraction", 0.99},
		{"slow", echo, func(o *options) { o.c, o.slow, o.size, o.slowSize, o.slowBurst = 4, 2, 64, 16384, 1<<20 }, "normal_msgs_per_s", 1},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			rep := run(t, c.name, c.addr, c.set)
			if v, ok := rep.Figures[c.figure]; !ok || v < c.min {
				t.Fatalf(
					"%s = %v (present %v), want at least %v; figures %v",
					c.figure, v, ok, c.min, rep.Figures,
				)
			}
		})
	}
}

// TestReportWritesTargetsAndRatios feeds the report two runs of a case and
// checks the medians, the ratio and the target verdicts.
func TestReportWritesTargetsAndRatios(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.jsonl")
	lines := `{"scenario":"idle","label":"gateway","params":{"n":10000},"figures":{"server_kib_per_conn":3.5}}
{"scenario":"idle","label":"gateway","params":{"n":10000},"figures":{"server_kib_per_conn":3.7}}
{"scenario":"idle","label":"gateway","params":{"n":10000},"figures":{"server_kib_per_conn":9}}
{"scenario":"idle","label":"baseline","params":{"n":10000},"figures":{"server_kib_per_conn":26}}
{"scenario":"echo","label":"gateway","params":{"c":100,"size":64},"figures":{"server_cpu_us_per_msg":9}}
{"scenario":"echo","label":"baseline","params":{"c":100,"size":64},"figures":{"server_cpu_us_per_msg":10}}
{"scenario":"idle","label":"gws","params":{"n":10000},"figures":{"server_kib_per_conn":10}}
{"scenario":"echo","label":"gws","params":{"c":100,"size":64},"figures":{"server_cpu_us_per_msg":12}}
`
	os.WriteFile(in, []byte(lines), 0o644)
	out := filepath.Join(dir, "RESULTS.md")
	if code := reportMain([]string{"-in", in, "-out", out}); code != 0 {
		t.Fatalf(
			"report exited %d",
			code,
		)
	}
	md, _ := os.ReadFile(out)
	text := string(md)
	for _, want := range []string{
		"| figure | gateway | baseline | gws | gateway/baseline | gateway/gws |",
		"| server_kib_per_conn | 3.700 | 26.0 | 10.0 | 0.142 | 0.370 |", // median of 3.5, 3.7, 9
		"| idle memory ratio to the baseline ≤ 0.15 | 3.70 / 26.00 KiB = 0.142 | yes |",
		"server CPU per echoed message (C=100, S=64) ≤ 0.8× the baseline's | 9.00 / 10.00 µs = 0.900 | **missed** |",
		"| fanout: deliveries/s ≥ 3× the baseline's | not measured in this run | – |",
		"| server CPU per echoed message (C=100, S=64) ≤ 0.9× gws's | 9.00 / 12.00 µs = 0.750 | yes |",
		"| idle memory per connection ≤ gws's | 3.70 / 10.00 KiB = 0.370 | yes |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf(
				"RESULTS.md lacks %q",
				want,
			)
		}
	}
}

// TestSplitsIntoWorkerProcesses runs the real binary with a tiny
// per-process connection limit: the run is split over worker processes and
// their results are merged.
func TestSplitsIntoWorkerProcesses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf(
			"building the load tool: %v\n%s",
			err, out,
		)
	}
	addr := gateway(t, handler.Echo{})
	out, err := exec.Command(bin, "echo", "-addr", addr, "-c", "25", "-duration", "300ms",
		"-max-conns-per-process", "10", "-json").CombinedOutput()
	if err != nil {
		t.Fatalf(
			"%v\n%s",
			err, out,
		)
	}
	if !strings.Contains(string(out), "splitting over 3 worker processes") {
		t.Fatalf(
			"no split announced:\n%s",
			out,
		)
	}
	var rep report
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf(
			"last line is not the JSON report: %v\n%s",
			err, out,
		)
	}
	if rep.Figures["connections"] != 25 || rep.Figures["msgs_per_s"] <= 0 {
		t.Fatalf(
			"merged figures %v",
			rep.Figures,
		)
	}
}

// TestCommandLine: -h lists every scenario with its whole description and
// exits 0, as "bench echo -h" does; a bad command line exits 2; a run in
// which no connection opened exits 1 and says why.
func TestCommandLine(t *testing.T) {
	var out, errOut strings.Builder
	if code := benchMain([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf(
			"-h exited %d",
			code,
		)
	}
	listed := strings.Join(strings.Fields(out.String()), " ")
	for name, s := range scenarios {
		if !strings.Contains(listed, name+" "+strings.Join(strings.Fields(s.usage), " ")) {
			t.Errorf(
				"-h does not give the whole description of %s:\n%s",
				name, out.String(),
			)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"echo", "-h"}, 0},
		{[]string{"help"}, 0},
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"echo", "-nope"}, 2},
		// Values no run can use are refused before dialing (these once
		// panicked, ran 0 s, or ran the defaults after a stray word).
		{[]string{"echo", "-c", "-5"}, 2},
		{[]string{"echo", "-size", "-1"}, 2},
		{[]string{"echo", "-duration", "0"}, 2},
		{[]string{"echo", "-duration", "-1s"}, 2},
		{[]string{"echo", "stray", "-c", "2"}, 2},
		{[]string{"echo", "-pid", "999999999"}, 2},
		{[]string{"channels", "-size", "10"}, 2}, // its help says at least 40
		{[]string{"channels", "-subs-per-client", "0"}, 2},
		{[]string{"channels", "-channels", "2", "-subs-per-client", "5"}, 2},
		{[]string{"fanout", "-interval", "0"}, 2},
		{[]string{"channels", "-rate", "5", "-duration", "0"}, 2},
	} {
		if code := benchMain(tc.args, &out, &errOut); code != tc.code {
			t.Errorf(
				"%q exited %d, want %d",
				tc.args, code, tc.code,
			)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now
	errOut.Reset()
	code := benchMain([]string{"connect", "-addr", closed, "-n", "3", "-sources", "0", "-timeout", "2s"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "no connection opened") {
		t.Fatalf(
			"a run against nothing exited %d: %s",
			code, errOut.String(),
		)
	}
}

// TestAddressListSpreadsConnections: -addr with a list sends connection i
// to address i mod the list's length (a cluster behind no balancer), and
// -pid with a list sums the processes' figures.
func TestAddressListSpreadsConnections(t *testing.T) {
	a, addrA := gatewaytest.Serve(t, poller.Options{}, handler.Echo{})
	b, addrB := gatewaytest.Serve(t, poller.Options{}, handler.Echo{})
	rep := run(t, "echo", addrA+","+addrB, func(o *options) {
		o.c, o.size = 5, 64
		o.pids = pidList{os.Getpid(), os.Getpid()}
	})
	if got := rep.Figures["connections"]; got != 5 {
		t.Fatalf("connections = %v, want 5", got)
	}
	if ua, ub := a.Stats().Upgraded.Load(), b.Stats().Upgraded.Load(); ua != 3 || ub != 2 {
		t.Fatalf("upgraded: first server %d, second %d; want 3 and 2", ua, ub)
	}
	one, err := serverProbe{pids: pidList{os.Getpid()}}.sample()
	if err != nil {
		t.Fatal(err)
	}
	two, err := serverProbe{pids: pidList{os.Getpid(), os.Getpid()}}.sample()
	if err != nil {
		t.Fatal(err)
	}
	if two.Threads < 2*one.Threads-8 || two.RSSKiB < 2*one.RSSKiB-4096 {
		t.Fatalf("two PIDs sample %+v, want about twice %+v", two, one)
	}
	var l pidList
	if err := l.Set("12,x"); err == nil {
		t.Fatal(`pidList.Set("12,x") accepted`)
	}
}
