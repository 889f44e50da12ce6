package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// gateways are the binaries under test: one on the built-in defaults, one
// with compression enabled. Both listen on loopback.
var plainAddr, deflateAddr string

func TestMain(m *testing.M) {
	os.Exit(runWithGateways(m))
}

func runWithGateways(m *testing.M) int {
	dir, err := os.MkdirTemp("", "conformance")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", bin, "github.com/xh-control/gateway/cmd/gateway")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the gateway: %v\n%s", err, out)
		return 1
	}
	plain, addr, err := startGateway(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop(plain)
	plainAddr = addr
	deflate, addr, err := startGateway(bin, "-compression.enabled", "-compression.min-size", "1")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop(deflate)
	deflateAddr = addr
	return m.Run()
}

// startGateway runs the binary on a free loopback port and returns the
// address it logged.
func startGateway(bin string, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-admin.listen", "", "-log.format", "json", "-log.level", "info"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "listening" {
				found <- line["addr"].(string)
			}
		}
	}()
	select {
	case addr := <-found:
		return cmd, addr, nil
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("gateway %v did not start", args)
	}
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
	}
}

// testCase is one conformance case: an Autobahn-style ID, what it sends and
// what it expects, in run.
type testCase struct {
	id   string
	desc string
	run  func(p *peer)
}

// runCases runs each case on a fresh connection to addr.
func runCases(t *testing.T, addr string, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.id+" "+tc.desc, func(t *testing.T) {
			p := dial(t, addr)
			defer p.conn.Close()
			tc.run(p)
		})
	}
}
