package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	gwBinary  string
	buildErr  error
	buildDir  string
)

// TestMain removes the gateway binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// gateway builds ./cmd/gateway once per test binary.
func gateway(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "gateway-cluster-")
		if buildErr != nil {
			return
		}
		gwBinary = filepath.Join(buildDir, "gateway")
		out, err := exec.Command("go", "build", "-o", gwBinary, "../../cmd/gateway").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gateway: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return gwBinary
}

// need finds program or skips (fails when CI is set) with how to get it.
func need(t *testing.T, program, install string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, p := range append(extra, "/usr/sbin/"+program, "/sbin/"+program) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing and CI is set: %s", program, install)
	}
	t.Skipf("%s is missing; to run this test: %s", program, install)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a started program with its output in a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, name, bin string, args, env []string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // ends with a test killed by its timeout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
	return p
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %v", addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// node is one gateway process.
type node struct {
	id    int
	addr  string // WebSocket listener
	admin string // admin listener (server API)
	args  []string
	env   []string
	p     *proc
}

// startGateway starts a gateway with broker: nats, anonymous clients and
// the insecure server API; extra are further flags.
func startGateway(t *testing.T, id int, extra ...string) *node {
	t.Helper()
	n := &node{id: id, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	n.args = append([]string{"-listen", n.addr, "-admin.listen", n.admin, "-node-id", fmt.Sprint(id),
		"-broker", "nats", "-api.insecure", "-log.format", "json", "-admin.token", adminToken,
		"-channels.client.allow-anonymous-connect-without-token",
		"-nats.heartbeat-interval", "300ms", "-nats.reconnect-wait", "200ms", "-nats.request-timeout", "1s",
		"-shutdown-timeout", "1s"}, extra...)
	n.run(t)
	return n
}

func (n *node) run(t *testing.T) {
	t.Helper()
	n.p = start(t, fmt.Sprintf("gateway-%d", n.id), gateway(t), n.args, n.env)
	waitTCP(t, n.admin, 20*time.Second)
	waitTCP(t, n.addr, 20*time.Second)
}

// adminToken guards the raw push API (/api/v1) of the test gateways.
const adminToken = "cluster-test-token"

// apiError is a server API error object.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// api calls a server API method on the node; a transport failure fails the
// test, an API error is returned.
func (n *node) api(t *testing.T, method string, params any, result any) *apiError {
	t.Helper()
	body, _ := json.Marshal(params)
	resp, err := http.Post("http://"+n.admin+"/api/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("api %s on node %d: %v", method, n.id, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Error  *apiError       `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("api %s on node %d: %v (%s)", method, n.id, err, raw)
	}
	if r.Error != nil {
		return r.Error
	}
	if result != nil {
		if err := json.Unmarshal(r.Result, result); err != nil {
			t.Fatalf("api %s result %s: %v", method, r.Result, err)
		}
	}
	return nil
}

func (n *node) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.admin + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startNginx runs nginx in the foreground in a temporary prefix with an
// upstream of the nodes, WebSocket proxying as deploy/nginx/gateway.conf
// does, and returns its address.
func startNginx(t *testing.T, nodes []*node) string {
	t.Helper()
	bin := need(t, "nginx", "apt-get install nginx")
	dir := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	var servers strings.Builder
	for _, n := range nodes {
		// max_fails=0: a dead node is tried again for every new client,
		// and passed over at once because its port refuses connections.
		fmt.Fprintf(&servers, "        server %s max_fails=0;\n", n.addr)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp;
    proxy_temp_path %[1]s/tmp;
    fastcgi_temp_path %[1]s/tmp;
    uwsgi_temp_path %[1]s/tmp;
    scgi_temp_path %[1]s/tmp;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream gateway {
%[2]s    }
    server {
        listen %[3]s;
        location / {
            proxy_pass http://gateway;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 120s;
            proxy_connect_timeout 2s;
            proxy_buffering off;
        }
    }
}
`, dir, servers.String(), addr)
	cf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", cf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	start(t, "nginx", bin, []string{"-p", dir, "-c", cf}, nil)
	waitTCP(t, addr, 10*time.Second)
	return addr
}
