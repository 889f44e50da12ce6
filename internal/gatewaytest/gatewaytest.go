// Package gatewaytest builds the gateway binary and runs it as a real
// process, for the tests that check the whole program: signals, systemd's
// notify socket, nginx in front, independent clients, the conformance
// suite.
package gatewaytest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Build compiles cmd/gateway into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "gateway")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/xh-control/gateway/cmd/gateway").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the gateway: %v\n%s", err, out)
	}
	return bin, nil
}

// Process is a running gateway. It logs JSON, which Process reads to learn
// its addresses and to let tests look for log lines.
type Process struct {
	Cmd       *exec.Cmd
	Addr      string // the WebSocket listener
	AdminAddr string // the admin listener, when it has one

	mu     sync.Mutex
	logs   []map[string]any
	raw    []string // logs as written, for checks a decoded map cannot make (a repeated key)
	exited chan struct{}
	err    error
}

// Start runs bin with args (after -listen 127.0.0.1:0 -log.format json,
// which args may override) and extra environment variables, and waits until
// it listens: on the admin address too, unless args set -admin.listen "".
func Start(bin string, env []string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-log.format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// A test binary killed by its timeout runs no cleanup: the kernel ends
	// the gateway with it, so that a hung test leaves nothing running
	// (one such gateway once spun on a core for an hour and a half).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	wantAdmin := !disablesAdmin(args)
	p := &Process{Cmd: cmd, exited: make(chan struct{})}
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.raw = append(p.raw, sc.Text())
			switch line["msg"] {
			case "listening":
				p.Addr, _ = line["addr"].(string)
			case "admin listening":
				p.AdminAddr, _ = line["addr"].(string)
			}
			ready := p.Addr != "" && (p.AdminAddr != "" || !wantAdmin)
			p.mu.Unlock()
			if ready {
				once.Do(func() { close(up) })
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-up:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the gateway exited before listening: %v", p.err)
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("the gateway did not start listening within 15s")
	}
}

func disablesAdmin(args []string) bool {
	for i, a := range args {
		if a == "-admin.listen=" || (a == "-admin.listen" && i+1 < len(args) && args[i+1] == "") {
			return true
		}
	}
	return false
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) { p.Cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit code (-1
// when a signal killed it), or an error when it is still running.
func (p *Process) Wait(d time.Duration) (int, error) {
	select {
	case <-p.exited:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, nil
	case <-time.After(d):
		return 0, fmt.Errorf("still running after %v", d)
	}
}

// Stop interrupts the process (a graceful shutdown) and kills it if it has
// not exited within 10 seconds.
func (p *Process) Stop() {
	p.Signal(syscall.SIGINT)
	if _, err := p.Wait(10 * time.Second); err != nil {
		p.Cmd.Process.Kill()
		<-p.exited
	}
}

// Logged reports whether the process logged a line with this message.
func (p *Process) Logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.logs {
		if l["msg"] == msg {
			return true
		}
	}
	return false
}

// LogLine returns the first log line with this message, decoded and as
// written.
func (p *Process) LogLine(msg string) (fields map[string]any, raw string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.logs {
		if l["msg"] == msg {
			return l, p.raw[i], true
		}
	}
	return nil, "", false
}

// WaitLogged waits up to d for a log line with this message.
func (p *Process) WaitLogged(msg string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.Logged(msg) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// BuildTemp builds the binary into a new temporary directory; cleanup
// removes it.
func BuildTemp() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if bin, err = Build(dir); err != nil {
		cleanup()
		return "", nil, err
	}
	return bin, cleanup, nil
}
