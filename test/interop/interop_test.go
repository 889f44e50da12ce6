// Package interop runs independent WebSocket clients against the real
// gateway binary: Python's websockets, Node's ws, and headless Chromium on
// the echo demo page (/echo). Each does text and binary echoes, a 1 MiB message, a
// compressed exchange, a ping and a clean close with 1000.
//
// A missing client is skipped with a message saying how to install it, or
// fails the test when CI is set: .ci/run installs them all.
package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

var (
	gatewayAddr string
	repoRoot    string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, cleanup, err := gatewaytest.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	// Compression on, and a heartbeat fast enough that a client which does
	// not answer pings is dropped within the test.
	gw, err := gatewaytest.Start(bin, nil, "-admin.listen", "",
		"-compression.enabled", "-compression.min-size", "64",
		"-session.ping-interval", "200ms", "-session.idle-timeout", "1s")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer gw.Stop()
	gatewayAddr = gw.Addr
	return m.Run()
}

// need skips the test when a client is missing, or fails it under CI, where
// .ci/run is expected to have installed everything.
func need(t *testing.T, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf(
			"%s is missing, and CI is set: %s",
			what, install,
		)
	}
	t.Skipf(
		"%s is missing; to run this test: %s",
		what, install,
	)
}

// runClient runs an external client and checks every JSON line it reports.
func runClient(t *testing.T, want int, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatal("client did not finish in 2 minutes")
	}
	checks := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Check string `json:"check"`
			OK    bool   `json:"ok"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			t.Logf("client: %s", line)
			continue
		}
		t.Logf("%s", line)
		if !r.OK {
			t.Errorf(
				"check %q failed",
				r.Check,
			)
		}
		checks++
	}
	if err != nil {
		t.Fatalf(
			"client failed: %v",
			err,
		)
	}
	if checks != want {
		t.Fatalf(
			"client reported %d checks, want %d",
			checks, want,
		)
	}
}

// python returns an interpreter that can import websockets: Debian's
// python3-websockets installs it for /usr/bin/python3, which may not be the
// first python3 on PATH.
func python() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import websockets").Run() == nil {
			return p
		}
	}
	return ""
}

func TestPythonWebsockets(t *testing.T) {
	py := python()
	need(t, py != "", "python3 with the websockets module", "apt-get install python3-websockets")
	runClient(t, 7, filepath.Join(repoRoot, "test", "interop", "python"), py, "client.py", "ws://"+gatewayAddr+"/ws")
}

func nodeModules(pkg string) bool {
	_, err := os.Stat(filepath.Join(repoRoot, "test", "interop", "node", "node_modules", pkg, "package.json"))
	return err == nil
}

func TestNodeWs(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	need(t, nodeModules("ws"), "the ws package", "npm ci --prefix test/interop/node")
	runClient(t, 7, filepath.Join(repoRoot, "test", "interop", "node"), "node", "client.mjs", "ws://"+gatewayAddr+"/ws")
}

func TestChromiumDemoPage(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	need(t, nodeModules("playwright-core"), "playwright-core", "npm ci --prefix test/interop/node")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err = os.Stat(chromium)
	need(t, err == nil, "Chromium at "+chromium, "apt-get install chromium (or set CHROMIUM)")
	artifacts := os.Getenv("TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(repoRoot, "test-artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "demo-page.png")
	os.Remove(shot)
	runClient(t, 10, filepath.Join(repoRoot, "test", "interop", "node"), "node", "browser.mjs", "http://"+gatewayAddr+"/echo", shot, chromium)
	if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
		t.Fatalf(
			"no screenshot at %s: %v",
			shot, err,
		)
	}
	t.Logf("screenshot: %s", shot)
}
