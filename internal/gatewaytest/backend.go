package gatewaytest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// ExampleBackend builds examples/backend of the module at root with the go
// command goBin, runs it on a free loopback port until the test ends, and
// returns its base URL ("http://127.0.0.1:port").
func ExampleBackend(t testing.TB, goBin, root string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "backend")
	build := exec.Command(goBin, "build", "-o", exe, "./examples/backend")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/backend: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, "-listen", addr)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // ends with a test killed by its timeout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/backend did not listen on %s", addr)
		}
	}
}
