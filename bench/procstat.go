package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverProbe reads what the server under test costs from outside it:
// memory and threads from /proc, CPU time from /proc/PID/stat, and the
// goroutine count from its metrics endpoint when it has one. With several
// PIDs (a cluster) memory, threads and CPU time are the sums over them.
type serverProbe struct {
	pids       pidList
	metricsURL string
}

// pidList is the -pid flag: one PID or a comma-separated list.
type pidList []int

func (l *pidList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func (l *pidList) Set(v string) error {
	*l = (*l)[:0]
	for _, f := range strings.Split(v, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 0 {
			return fmt.Errorf("%q is not a PID", f)
		}
		if p > 0 {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err != nil {
				return fmt.Errorf("no process %d", p)
			}
			*l = append(*l, p)
		}
	}
	return nil
}

type serverSample struct {
	RSSKiB     int64
	Threads    int64
	CPU        time.Duration // user + system
	Goroutines int64         // -1 when unknown
}

const clockTicks = 100 // USER_HZ on Linux

func (p serverProbe) enabled() bool { return len(p.pids) > 0 }

// sample reads every server process; memory, threads and CPU time add up.
func (p serverProbe) sample() (serverSample, error) {
	var sum serverSample
	for _, pid := range p.pids {
		s, err := sampleProcess(pid)
		if err != nil {
			return sum, err
		}
		sum.RSSKiB += s.RSSKiB
		sum.Threads += s.Threads
		sum.CPU += s.CPU
	}
	sum.Goroutines = -1
	if p.metricsURL != "" {
		sum.Goroutines = scrapeGoroutines(p.metricsURL)
	}
	return sum, nil
}

// sampleProcess reads one process's memory, threads and CPU time.
func sampleProcess(pid int) (serverSample, error) {
	var s serverSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("server process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			s.RSSKiB, _ = strconv.ParseInt(f[1], 10, 64)
		case "Threads:":
			s.Threads, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command (which may hold spaces) start after ")".
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(rest) > 12 {
		utime, _ := strconv.ParseInt(rest[11], 10, 64)
		stime, _ := strconv.ParseInt(rest[12], 10, 64)
		s.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	}
	return s, nil
}

// settled samples until RSS changes by less than 1% in each of three
// consecutive seconds, or max passes: right after connections open the
// server still has garbage and untouched buffers settling, and a runtime
// (or the gateway's reclaim after a connection surge) may return memory a
// second or two after the count stopped changing. The same rule applies to
// every server measured.
func (p serverProbe) settled(max time.Duration) serverSample {
	const stableSeconds = 3
	deadline := time.Now().Add(max)
	prev, _ := p.sample()
	stable := 0
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur, err := p.sample()
		if err != nil {
			return prev
		}
		diff := cur.RSSKiB - prev.RSSKiB
		if diff < 0 {
			diff = -diff
		}
		if float64(diff) < 0.01*float64(prev.RSSKiB) {
			stable++
		} else {
			stable = 0
		}
		prev = cur
		if stable >= stableSeconds {
			return cur
		}
	}
	return prev
}

// scrapeGoroutines reads go_goroutines from a Prometheus text endpoint.
func scrapeGoroutines(url string) int64 {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int64(n)
		}
	}
	return -1
}
