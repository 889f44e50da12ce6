package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// reportMain turns the JSON lines of a bench/run.sh run into RESULTS.md:
// every raw figure, the medians, and the gateway/baseline ratio per figure,
// with the targets checked.
func reportMain(args []string) int {
	fs := flag.NewFlagSet("bench report", flag.ExitOnError)
	in := fs.String("in", "", "JSON lines written by the scenarios (-json)")
	commands := fs.String("commands", "", "file listing the exact commands that were run")
	notes := fs.String("notes", "", "markdown appended under \"Analysis\" (what limits a missed target)")
	out := fs.String("out", "bench/RESULTS.md", "where to write")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: bench report -in results.jsonl [-commands cmds.txt] [-notes notes.md] [-out RESULTS.md]\n")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	reports, err := readReports(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench report: %v\n", err)
		return 1
	}
	var b strings.Builder
	writeResults(&b, reports, readOptional(*commands), readOptional(*notes))
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench report: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bench report: wrote %s from %d runs\n", *out, len(reports))
	return 0
}

func readOptional(path string) string {
	if path == "" {
		return ""
	}
	b, _ := os.ReadFile(path)
	return string(b)
}

func readReports(path string) ([]*report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*report
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r report
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Scenario != "" {
			out = append(out, &r)
		}
	}
	return out, sc.Err()
}

// caseKey identifies a scenario with its parameters, so that rounds of the
// same case are grouped and cases with different parameters are not.
func caseKey(r *report) string {
	var parts []string
	for k, v := range r.Params {
		parts = append(parts, k+"="+paramText(v))
	}
	sort.Strings(parts)
	return r.Scenario + " " + strings.Join(parts, " ")
}

// paramText renders a parameter read back from JSON, where every number is
// a float64: 16777216, not 1.6777216e+07.
func paramText(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return fmt.Sprint(int64(f))
	}
	return fmt.Sprint(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type caseData struct {
	key     string
	order   int
	byLabel map[string][]*report
}

func writeResults(w io.Writer, reports []*report, commands, notes string) {
	cases := map[string]*caseData{}
	var keys []string
	for _, r := range reports {
		k := caseKey(r)
		c := cases[k]
		if c == nil {
			c = &caseData{key: k, order: len(keys), byLabel: map[string][]*report{}}
			cases[k] = c
			keys = append(keys, k)
		}
		c.byLabel[r.Label] = append(c.byLabel[r.Label], r)
	}
	labels := reportLabels(reports)
	fmt.Fprintf(w, "# Benchmark results\n\n")
	fmt.Fprintf(w, "Written by `bench/run.sh` (`go run ./bench report`) on %s. The gateway and its peers\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "ran alternately, each started fresh, on the same machine in the same run: %s.\n", strings.Join(labels, ", "))
	for _, l := range labels {
		if d := peerDescriptions[l]; d != "" {
			fmt.Fprintf(w, "%s\n", d)
		}
	}
	fmt.Fprintf(w, "Figures are medians over the rounds; **gateway/X** is the gateway's figure\n")
	fmt.Fprintf(w, "divided by peer X's. This machine is shared and noisy: compare ratios, not absolute numbers.\n\n")
	fmt.Fprintf(w, "## Machine\n\n```\n%s```\n\n", machine())

	fmt.Fprintf(w, "## Targets\n\n")
	writeTargets(w, cases)

	peers := labels[1:]
	fmt.Fprintf(w, "\n## Medians and ratios\n\n")
	for _, k := range keys {
		c := cases[k]
		gw := c.byLabel["gateway"]
		fmt.Fprintf(w, "### %s\n\n", k)
		fmt.Fprintf(w, "| figure |")
		for _, l := range labels {
			fmt.Fprintf(w, " %s |", l)
		}
		for _, l := range peers {
			fmt.Fprintf(w, " gateway/%s |", l)
		}
		fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" ---: |", len(labels)+len(peers)))
		for _, name := range figureNames(c) {
			g := median(values(gw, name))
			fmt.Fprintf(w, "| %s |", name)
			for _, l := range labels {
				fmt.Fprintf(w, " %s |", cell(c.byLabel[l], median(values(c.byLabel[l], name))))
			}
			for _, l := range peers {
				base := c.byLabel[l]
				b := median(values(base, name))
				ratio := "–"
				if b != 0 && len(gw) > 0 && len(base) > 0 {
					ratio = fmt.Sprintf("%.3f", g/b)
				}
				fmt.Fprintf(w, " %s |", ratio)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "## Every raw figure\n\n")
	for _, k := range keys {
		c := cases[k]
		fmt.Fprintf(w, "<details><summary>%s</summary>\n\n", k)
		fmt.Fprintf(w, "| figure |")
		for _, l := range labels {
			for i := range c.byLabel[l] {
				fmt.Fprintf(w, " %s #%d |", l, i+1)
			}
		}
		fmt.Fprintf(w, "\n| --- |")
		for _, l := range labels {
			for range c.byLabel[l] {
				fmt.Fprintf(w, " ---: |")
			}
		}
		fmt.Fprintln(w)
		for _, name := range figureNames(c) {
			fmt.Fprintf(w, "| %s |", name)
			for _, l := range labels {
				for _, r := range c.byLabel[l] {
					fmt.Fprintf(w, " %s |", num(r.Figures[name]))
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "\n</details>\n\n")
	}
	if notes != "" {
		fmt.Fprintf(w, "## Analysis\n\n%s\n", strings.TrimSpace(notes))
	}
	if commands != "" {
		fmt.Fprintf(w, "\n## Exact commands\n\n```sh\n%s```\n", commands)
	}
}

// peerDescriptions say what each peer is, for the report's introduction.
var peerDescriptions = map[string]string{
	"baseline": "`baseline` is the reference design (`bench/baseline`: gorilla/websocket with a reader and a writer\n" +
		"goroutine and a 256-slot channel per connection).",
	"gws": "`gws` is github.com/lxzan/gws in its default server mode (`bench/gwsserver`).",
	"centrifugo": "`centrifugo` is Centrifugo v6.9.1 (`go install github.com/centrifugal/centrifugo/v6@v6.9.1`) with\n" +
		"its embedded defaults plus the configuration `bench/run.sh` generates; the gateway runs the equivalent one.",
	"gateway-nats": "`gateway-nats` is one gateway node with `broker: nats` and a nats-server (JetStream history);\n" +
		"CPU and memory are the sum of both processes. `gateway` is one node on its in-memory broker.",
	"cluster3": "`cluster3` is three gateway nodes with `broker: nats` and one nats-server: subscribers spread\n" +
		"round-robin over the nodes, publications through node 1's API; CPU and memory are the sums over all\n" +
		"four processes, which share the server's CPUs.",
}

// reportLabels orders the servers of a run: the gateway, the reference
// design, gws, then any other peer by name.
func reportLabels(reports []*report) []string {
	rank := map[string]int{"gateway": 0, "baseline": 1, "gws": 2, "centrifugo": 3, "gateway-nats": 4, "cluster3": 5}
	seen := map[string]bool{"gateway": true}
	labels := []string{"gateway"}
	for _, r := range reports {
		if !seen[r.Label] {
			seen[r.Label] = true
			labels = append(labels, r.Label)
		}
	}
	sort.SliceStable(labels, func(i, j int) bool {
		ri, okI := rank[labels[i]]
		rj, okJ := rank[labels[j]]
		switch {
		case okI && okJ:
			return ri < rj
		case okI != okJ:
			return okI
		}
		return labels[i] < labels[j]
	})
	return labels
}

func cell(rs []*report, v float64) string {
	if len(rs) == 0 {
		return "–"
	}
	return num(v)
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v <= -1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func values(rs []*report, name string) []float64 {
	var out []float64
	for _, r := range rs {
		if v, ok := r.Figures[name]; ok {
			out = append(out, v)
		}
	}
	return out
}

func figureNames(c *caseData) []string {
	seen := map[string]bool{}
	var out []string
	for _, rs := range c.byLabel {
		for _, r := range rs {
			for k := range r.Figures {
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// target is one of the issues' goals (#4: raw WebSocket; #10: the channel
// protocol against Centrifugo), checked against the medians.
type target struct {
	what  string
	check func(find func(scenario string, params map[string]string, label, fig string) (float64, bool)) (string, bool, bool)
}

func writeTargets(w io.Writer, cases map[string]*caseData) {
	find := func(scenario string, params map[string]string, label, fig string) (float64, bool) {
		for _, c := range cases {
			rs := c.byLabel[label]
			if len(rs) == 0 || rs[0].Scenario != scenario {
				continue
			}
			match := true
			for k, v := range params {
				if paramText(rs[0].Params[k]) != v {
					match = false
				}
			}
			if match {
				vals := values(rs, fig)
				return median(vals), len(vals) > 0
			}
		}
		return 0, false
	}
	ratioTo := func(peer, scenario string, params map[string]string, fig string) (g, b, r float64, ok bool) {
		g, ok1 := find(scenario, params, "gateway", fig)
		b, ok2 := find(scenario, params, peer, fig)
		if !ok1 || !ok2 || b == 0 {
			return g, b, 0, false
		}
		return g, b, g / b, true
	}
	ratio := func(scenario string, params map[string]string, fig string) (g, b, r float64, ok bool) {
		return ratioTo("baseline", scenario, params, fig)
	}
	targets := []target{
		{"idle memory per connection ≤ 4 KB at 10,000 connections", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, ok := find("idle", map[string]string{"n": "10000"}, "gateway", "server_kib_per_conn")
			return fmt.Sprintf("%.2f KiB (%.2f KB)", g, g*1.024), ok && g*1.024 <= 4, ok
		}},
		{"idle memory ratio to the baseline ≤ 0.15", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratio("idle", map[string]string{"n": "10000"}, "server_kib_per_conn")
			return fmt.Sprintf("%.2f / %.2f KiB = %.3f", g, b, r), ok && r <= 0.15, ok
		}},
		{"server CPU per echoed message (C=100, S=64) ≤ 0.8× the baseline's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratio("echo", map[string]string{"c": "100", "size": "64"}, "server_cpu_us_per_msg")
			return fmt.Sprintf("%.2f / %.2f µs = %.3f", g, b, r), ok && r <= 0.8, ok
		}},
		{"server CPU per echoed message (C=100, S=64) ≤ 0.9× gws's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratioTo("gws", "echo", map[string]string{"c": "100", "size": "64"}, "server_cpu_us_per_msg")
			return fmt.Sprintf("%.2f / %.2f µs = %.3f", g, b, r), ok && r <= 0.9, ok
		}},
		{"echo (C=1000, S=64) msgs/s ≥ 1.1× gws's (many-core target)", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratioTo("gws", "echo", map[string]string{"c": "1000", "size": "64"}, "msgs_per_s")
			return fmt.Sprintf("%.0f / %.0f = %.3f", g, b, r), ok && r >= 1.1, ok
		}},
		{"echo (C=1000, S=64) server CPU per message ≤ 0.8× gws's (many-core target)", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratioTo("gws", "echo", map[string]string{"c": "1000", "size": "64"}, "server_cpu_us_per_msg")
			return fmt.Sprintf("%.2f / %.2f µs = %.3f", g, b, r), ok && r <= 0.8, ok
		}},
		{"idle memory per connection ≤ gws's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratioTo("gws", "idle", map[string]string{"n": "10000"}, "server_kib_per_conn")
			return fmt.Sprintf("%.2f / %.2f KiB = %.3f", g, b, r), ok && r <= 1, ok
		}},
		{"rate: p99 latency no worse than the baseline's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratio("rate", nil, "latency_p99_ms")
			return fmt.Sprintf("%.2f / %.2f ms = %.3f", g, b, r), ok && g <= b, ok
		}},
		{"rate: p99.9 latency under 50 ms", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, ok := find("rate", nil, "gateway", "latency_p999_ms")
			return fmt.Sprintf("%.2f ms", g), ok && g < 50, ok
		}},
		{"fanout: deliveries/s ≥ 3× the baseline's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratio("fanout", nil, "deliveries_per_s")
			return fmt.Sprintf("%.0f / %.0f = %.2f", g, b, r), ok && r >= 3, ok
		}},
		{"fanout: p99 delivery latency lower than the baseline's", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			g, b, r, ok := ratio("fanout", nil, "delivery_p99_ms")
			return fmt.Sprintf("%.1f / %.1f ms = %.3f", g, b, r), ok && g < b, ok
		}},
		{"slow consumers: normal clients' p99 within 2× of a run without them (gateway)", func(_ func(string, map[string]string, string, string) (float64, bool)) (string, bool, bool) {
			with, ok1 := find("slow", map[string]string{"slow": "200"}, "gateway", "normal_rtt_p99_ms")
			without, ok2 := find("slow", map[string]string{"slow": "0"}, "gateway", "normal_rtt_p99_ms")
			ok := ok1 && ok2 && without > 0
			return fmt.Sprintf("%.2f ms with, %.2f ms without: %.2f×", with, without, with/without), ok && with <= 2*without, ok
		}},
	}
	// Each group of targets is listed when the run has a scenario of it.
	var haveRaw, haveChannels, haveCluster bool
	for _, c := range cases {
		if len(c.byLabel["cluster3"]) > 0 || len(c.byLabel["gateway-nats"]) > 0 {
			haveCluster = true
			continue
		}
		for _, rs := range c.byLabel {
			if len(rs) > 0 && rs[0].Scenario == "channels" {
				haveChannels = true
			} else if len(rs) > 0 {
				haveRaw = true
			}
		}
	}
	fmt.Fprintf(w, "| target | measured | met |\n| --- | --- | --- |\n")
	if !haveRaw {
		targets = nil
	}
	if haveChannels {
		targets = append(targets, channelTargets(find)...)
	}
	if haveCluster {
		targets = append(targets, clusterTargets(find)...)
	}
	for _, t := range targets {
		text, met, measured := t.check(find)
		verdict := "**missed**"
		switch {
		case !measured:
			text, verdict = "not measured in this run", "–"
		case met:
			verdict = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, text, verdict)
	}
}

func machine() string {
	var b strings.Builder
	if cpu, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(cpu), "\n") {
			if strings.HasPrefix(line, "model name") {
				fmt.Fprintf(&b, "cpu:    %s\n", strings.TrimSpace(strings.SplitN(line, ":", 2)[1]))
				break
			}
		}
	}
	fmt.Fprintf(&b, "cores:  %d\n", runtime.NumCPU())
	if mem, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Fprintf(&b, "memory: %s\n", strings.TrimSpace(strings.SplitN(string(mem), "\n", 2)[0]))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		fmt.Fprintf(&b, "kernel: %s", out)
	}
	fmt.Fprintf(&b, "go:     %s\n", runtime.Version())
	if out, err := exec.Command("sh", "-c", "ulimit -n").Output(); err == nil {
		fmt.Fprintf(&b, "nofile: %s", out)
	}
	return b.String()
}

type findFunc = func(scenario string, params map[string]string, label, fig string) (float64, bool)

// channelTargets are issue #10's targets against Centrifugo: idle
// connected-and-subscribed clients (channels -rate 0), and fan-out (10,000
// subscribers of one channel, 100 publications/s through the API).
func channelTargets(find findFunc) []target {
	ratio := func(params map[string]string, fig string) (g, b, r float64, ok bool) {
		g, ok1 := find("channels", params, "gateway", fig)
		b, ok2 := find("channels", params, "centrifugo", fig)
		if !ok1 || !ok2 || b == 0 {
			return g, b, 0, false
		}
		return g, b, g / b, true
	}
	idle := func(n string) map[string]string {
		return map[string]string{"n": n, "rate": "0", "subs_per_client": "1"}
	}
	fanout := map[string]string{"n": "10000", "channels": "1", "rate": "100"}
	t := func(what string, check func() (string, bool, bool)) target {
		return target{what: what, check: func(findFunc) (string, bool, bool) { return check() }}
	}
	var out []target
	for _, n := range []string{"5000", "10000"} {
		out = append(out, t("memory per idle connected-and-subscribed client ≤ 0.1× Centrifugo's (N="+n+")", func() (string, bool, bool) {
			g, b, r, ok := ratio(idle(n), "server_kib_per_conn")
			return fmt.Sprintf("%.2f / %.2f KiB = %.3f", g, b, r), ok && r <= 0.1, ok
		}))
	}
	out = append(out,
		t("memory per connection with one subscription ≤ 4 KiB at 10,000 clients", func() (string, bool, bool) {
			g, ok := find("channels", idle("10000"), "gateway", "server_kib_per_conn")
			return fmt.Sprintf("%.2f KiB", g), ok && g <= 4, ok
		}),
		t("fan-out (10k subscribers, 100 publications/s): deliveries/s ≥ 2× Centrifugo's", func() (string, bool, bool) {
			g, b, r, ok := ratio(fanout, "deliveries_per_s")
			return fmt.Sprintf("%.0f / %.0f = %.2f", g, b, r), ok && r >= 2, ok
		}),
		t("fan-out: p99 delivery latency ≤ 0.5× Centrifugo's", func() (string, bool, bool) {
			g, b, r, ok := ratio(fanout, "delivery_p99_ms")
			return fmt.Sprintf("%.1f / %.1f ms = %.3f", g, b, r), ok && r <= 0.5, ok
		}),
		t("fan-out: server CPU per delivery ≤ 0.5× Centrifugo's", func() (string, bool, bool) {
			g, b, r, ok := ratio(fanout, "server_cpu_us_per_delivery")
			return fmt.Sprintf("%.2f / %.2f µs = %.3f", g, b, r), ok && r <= 0.5, ok
		}),
		t("fan-out: every publication delivered to every subscriber (gateway)", func() (string, bool, bool) {
			g, ok := find("channels", fanout, "gateway", "delivered_fraction")
			return fmt.Sprintf("%.4f", g), ok && g == 1, ok
		}),
	)
	return out
}

// clusterTargets are issue #11's targets: 10,000 subscribers spread over
// three nodes, 100 publications/s through one node's API, against the same
// load on one node (its in-memory broker): deliveries/s at least 0.8x, and
// p99 delivery latency within 2 ms.
func clusterTargets(find findFunc) []target {
	var out []target
	for _, chans := range []string{"10", "100"} {
		params := map[string]string{"n": "10000", "channels": chans, "rate": "100"}
		load := "10,000 subscribers in " + chans + " channels, 100 publications/s"
		out = append(out,
			target{what: "cluster3 deliveries/s ≥ 0.8× one node's (" + load + ")", check: func(findFunc) (string, bool, bool) {
				c, ok1 := find("channels", params, "cluster3", "deliveries_per_s")
				g, ok2 := find("channels", params, "gateway", "deliveries_per_s")
				ok := ok1 && ok2 && g > 0
				return fmt.Sprintf("%.0f / %.0f = %.3f", c, g, c/g), ok && c >= 0.8*g, ok
			}},
			target{what: "cluster3 p99 delivery latency ≤ one node's + 2 ms (" + load + ")", check: func(findFunc) (string, bool, bool) {
				c, ok1 := find("channels", params, "cluster3", "delivery_p99_ms")
				g, ok2 := find("channels", params, "gateway", "delivery_p99_ms")
				ok := ok1 && ok2
				return fmt.Sprintf("%.2f ms vs %.2f ms: %+.2f ms", c, g, c-g), ok && c <= g+2, ok
			}})
	}
	return out
}
