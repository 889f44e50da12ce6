// Command gotest runs "go test -json" with the given arguments, prints what
// plain "go test" prints (a line per package, the output of failing tests
// and of builds that fail), then one line per skipped test with its reason.
// Plain "go test ./..." shows nothing of a package that passes, so a test
// that skipped because an outside program is missing goes unseen; this
// summary is what shows it.
//
//	go run ./internal/gotest ./...            # any go test flags: -race, -run, -count ...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotest:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "gotest:", err)
		os.Exit(2)
	}
	summarize(out, os.Stdout)
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "gotest:", err)
		os.Exit(2)
	}
}

// event is one line of test2json's output ("go doc test2json").
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// summarize reads test2json events from r and writes the report to w. It
// returns the skip lines it printed.
func summarize(r io.Reader, w io.Writer) []string {
	type key struct{ pkg, test string }
	output := map[key][]string{}
	var skips []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: pass it on
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			output[k] = append(output[k], e.Output)
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(w, "?   \t%s\t[no test files]\n", e.Package)
				break
			}
			skips = append(skips, fmt.Sprintf("SKIP %s %s: %s", e.Package, e.Test, skipReason(output[k])))
		case "fail":
			fmt.Fprint(w, strings.Join(output[k], ""))
			if e.Test == "" && !strings.Contains(strings.Join(output[k], ""), "FAIL\t"+e.Package) {
				fmt.Fprintf(w, "FAIL\t%s\n", e.Package)
			}
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			delete(output, k)
		}
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nskipped: %d\n", len(skips))
		for _, s := range skips {
			fmt.Fprintln(w, s)
		}
	}
	return skips
}

// skipReason is what a skipped test logged, its "=== RUN" and "--- SKIP"
// lines left out, on one line.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}
