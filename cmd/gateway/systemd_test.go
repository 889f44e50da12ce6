package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

// TestSystemdNotifyProtocol runs the binary the way systemd runs a
// Type=notify service with WatchdogSec, on a real unixgram NOTIFY_SOCKET,
// and reads what it says: READY=1 once it listens, WATCHDOG=1 at half the
// watchdog interval, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 on
// SIGTERM.
func TestSystemdNotifyProtocol(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	messages := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := ln.ReadFromUnix(buf)
			if err != nil {
				return
			}
			messages <- string(buf[:n])
		}
	}()

	p, err := gatewaytest.Start(binary, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}, "-admin.listen", "") // WatchdogSec=0.4s
	if err != nil {
		t.Fatal(err)
	}
	defer p.Cmd.Process.Kill()
	pid := p.Cmd.Process.Pid

	expect := func(prefix string, within time.Duration) string {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m := <-messages:
				if strings.HasPrefix(m, prefix) {
					return m
				}
			case <-deadline:
				t.Fatalf(
					"no %q within %v",
					prefix, within,
				)
			}
		}
	}
	ready := expect("READY=1", 10*time.Second)
	if !strings.Contains(ready, "STATUS=serving WebSocket clients on 127.0.0.1:") {
		t.Fatalf(
			"READY without a status: %q",
			ready,
		)
	}
	// Half of 400ms: at least three pets in a second.
	start := time.Now()
	for range 3 {
		expect("WATCHDOG=1", time.Second)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf(
			"three watchdog pets took %v; want them every 200ms",
			took,
		)
	}
	syscall.Kill(pid, syscall.SIGHUP)
	expect("RELOADING=1", 5*time.Second)
	expect("READY=1", 5*time.Second)
	syscall.Kill(pid, syscall.SIGTERM)
	expect("STOPPING=1", 5*time.Second)
	if code, err := p.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf(
			"exit after SIGTERM: %d %v",
			code, err,
		)
	}
}
