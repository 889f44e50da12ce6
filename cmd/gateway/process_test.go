package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := gatewaytest.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startGateway runs the binary the way systemd starts it, with its admin
// listener on a free port.
func startGateway(t *testing.T, args ...string) *gatewaytest.Process {
	t.Helper()
	return startGatewayEnv(t, nil, args...)
}

func startGatewayEnv(t *testing.T, env []string, args ...string) *gatewaytest.Process {
	t.Helper()
	p, err := gatewaytest.Start(binary, env, append([]string{"-admin.listen", "127.0.0.1:0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cmd.Process.Kill(); p.Wait(5 * time.Second) })
	return p
}

// exitCode waits for the process to exit, failing the test if it outlives d.
func exitCode(t *testing.T, p *gatewaytest.Process, d time.Duration) int {
	t.Helper()
	code, err := p.Wait(d)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func dial(t *testing.T, addr string, header map[string][]string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSIGTERMClosesEveryClientWith1001 runs the binary, connects clients,
// sends SIGTERM, and checks the order and timing of the shutdown: every
// client receives close 1001 promptly; the process stays up while the
// clients take replyDelay to answer; it exits 0 after the last answer, and
// promptly.
func TestSIGTERMClosesEveryClientWith1001(t *testing.T) {
	p := startGateway(t)
	const clients = 25
	const replyDelay = 300 * time.Millisecond
	const prompt = 2 * time.Second
	type timeline struct {
		code             int
		closeAt, replyAt time.Time
	}
	results := make(chan timeline, clients)
	for range clients {
		c := dial(t, p.Addr, nil)
		var tl timeline
		c.SetCloseHandler(func(code int, text string) error {
			tl.code, tl.closeAt = code, time.Now()
			time.Sleep(replyDelay) // a client that takes its time to answer
			tl.replyAt = time.Now()
			return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		})
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					results <- tl
					return
				}
			}
		}()
	}
	exited := make(chan time.Time, 1)
	go func() {
		p.Wait(30 * time.Second)
		exited <- time.Now()
	}()
	start := time.Now()
	p.Signal(syscall.SIGTERM)
	var lastReply time.Time
	for range clients {
		select {
		case tl := <-results:
			if tl.code != websocket.CloseGoingAway {
				t.Fatalf(
					"client got close %d, want 1001",
					tl.code,
				)
			}
			if d := tl.closeAt.Sub(start); d > prompt {
				t.Errorf(
					"close frame %v after SIGTERM, want under %v",
					d, prompt,
				)
			}
			if tl.replyAt.After(lastReply) {
				lastReply = tl.replyAt
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a client got no close frame")
		}
	}
	select {
	case at := <-exited:
		if !at.After(lastReply) {
			t.Fatalf(
				"the process exited %v before the last client answered",
				lastReply.Sub(at),
			)
		}
		if d := at.Sub(lastReply); d > prompt {
			t.Fatalf(
				"the process exited %v after the last answer, want under %v",
				d, prompt,
			)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit")
	}
	if code := exitCode(t, p, time.Second); code != 0 {
		t.Fatalf(
			"exit code %d, want 0",
			code,
		)
	}
	if !p.Logged("shutdown complete") {
		t.Fatal("no clean shutdown logged")
	}
}

// TestSecondSignalExitsAtOnce: a client that never answers the close frame
// holds the shutdown; a second signal ends the process immediately.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := startGateway(t, "-shutdown-timeout", "1m", "-session.close-timeout", "1m")
	c := dial(t, p.Addr, nil)
	c.SetCloseHandler(func(int, string) error { return nil }) // never answers
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	p.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.Signal(syscall.SIGINT)
	if code := exitCode(t, p, 5*time.Second); code != 1 {
		t.Fatalf(
			"exit code %d, want 1 for a forced exit",
			code,
		)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf(
			"second signal took %v to end the process",
			took,
		)
	}
}

// TestSIGHUPReloadsWithoutDroppingConnections changes the log level and the
// origin allowlist in the file and sends SIGHUP: the open connection keeps
// working and the new allowlist applies to new handshakes. The reload line
// carries the new level as new_level ("level" is the line's own), and the
// options changed that need a restart are named. A misspelt GATEWAY_*
// variable is reported at start.
func TestSIGHUPReloadsWithoutDroppingConnections(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(file, []byte("log:\n  level: info\norigins:\n  allowed: [\"https://old.example\"]\n  allow_same_origin: false\n"), 0o644)
	p := startGatewayEnv(t, []string{"GATEWAY_SESION_PING_INTERVAL=5s"}, "-config", file)
	if !p.WaitLogged("GATEWAY_SESION_PING_INTERVAL matches no option and is ignored (did you mean GATEWAY_SESSION_PING_INTERVAL?)", 5*time.Second) {
		t.Fatal("misspelt environment variable not reported")
	}
	old := dial(t, p.Addr, map[string][]string{"Origin": {"https://old.example"}})
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr+"/ws", map[string][]string{"Origin": {"https://new.example"}}); err == nil {
		t.Fatal("new origin allowed before the reload")
	}
	os.WriteFile(file, []byte("log:\n  level: debug\norigins:\n  allowed: [\"https://new.example\"]\n  allow_same_origin: false\n"+
		"handler: broadcast\nsession:\n  write_timeout: 20s\n"), 0o644)
	p.Signal(syscall.SIGHUP)
	const reloaded = "configuration reloaded (log level, origins, trusted proxies; other changes need a restart)"
	if !p.WaitLogged(reloaded, 5*time.Second) {
		t.Fatal("reload not logged")
	}
	line, raw, _ := p.LogLine(reloaded)
	if line["level"] != "info" || line["new_level"] != "debug" || strings.Count(raw, `"level"`) != 1 {
		t.Fatalf(
			"reload line: %s",
			raw,
		)
	}
	const restart = "changed options need a restart to apply; their running values stay"
	if !p.WaitLogged(restart, 5*time.Second) {
		t.Fatal("options that need a restart not named")
	}
	if line, raw, _ := p.LogLine(restart); fmt.Sprint(line["restart_needed"]) != "[handler session.write_timeout]" {
		t.Fatalf(
			"restart line: %s",
			raw,
		)
	}
	dial(t, p.Addr, map[string][]string{"Origin": {"https://new.example"}})
	if err := old.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	old.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := old.ReadMessage(); err != nil || string(m) != "still here" {
		t.Fatalf(
			"connection dropped by the reload: %q %v",
			m, err,
		)
	}
	// debug level is on: session open/close lines now appear.
	dial(t, p.Addr, map[string][]string{"Origin": {"https://new.example"}}).Close()
	deadline := time.Now().Add(5 * time.Second)
	for !p.Logged("session opened") {
		if time.Now().After(deadline) {
			t.Fatal("log level not reloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVersionAndBadFlags(t *testing.T) {
	out, err := exec.Command(binary, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "gateway ") {
		t.Fatalf(
			"-version: %q %v",
			out, err,
		)
	}
	err = exec.Command(binary, "-session.slow-consumer", "ignore").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf(
			"bad option: %v, want exit code 2",
			err,
		)
	}
}
