package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

var gatewayBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := gatewaytest.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewayBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// need skips when a program is missing, or fails under CI (.ci/run
// installs everything).
func need(t *testing.T, program, install string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, program); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf(
			"%s is missing and CI is set: %s",
			program, install,
		)
	}
	t.Skipf(
		"%s is missing; to run this test: %s",
		program, install,
	)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// unitDirectives parses a systemd unit into key -> values.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[k] = append(out[k], v)
	}
	return out
}

func TestUnitIsWhatProductionNeeds(t *testing.T) {
	d := unitDirectives(t, "systemd/gateway.service")
	want := map[string]string{
		"Type": "notify", "Restart": "on-failure", "RestartSec": "5s", "StartLimitIntervalSec": "60",
		"StartLimitBurst": "10", "LimitNOFILE": "1048576", "User": "gateway", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
		"ExecReload": "/bin/kill -HUP $MAINPID", "TimeoutStopSec": "30s", "WatchdogSec": "30s",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf(
				"%s=%v, want %q",
				k, got, v,
			)
		}
	}
	// TimeoutStopSec must outlast the gateway's own shutdown timeout.
	out, err := exec.Command(gatewayBin, "-config", "gateway.yaml", "-print-config").Output()
	if err != nil {
		t.Fatalf(
			"the production example does not load: %v",
			err,
		)
	}
	m := regexp.MustCompile(`(?m)^shutdown_timeout: (\S+)`).FindSubmatch(out)
	stop, _ := time.ParseDuration(d["TimeoutStopSec"][0])
	shutdown, _ := time.ParseDuration(string(m[1]))
	if m == nil || stop <= shutdown {
		t.Fatalf(
			"TimeoutStopSec %v must exceed shutdown_timeout %s",
			stop, m,
		)
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with ExecStart
// pointed at a freshly built binary (verify checks that it exists).
func TestUnitVerifies(t *testing.T) {
	analyze := need(t, "systemd-analyze", "apt-get install systemd")
	unit, err := os.ReadFile("systemd/gateway.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.service")
	os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/gateway"), []byte(gatewayBin)), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf(
			"systemd-analyze verify: %v\n%s",
			err, out,
		)
	}
}

func TestInstallIsIdempotent(t *testing.T) {
	root := t.TempDir()
	run := func() {
		cmd := exec.Command("./install.sh")
		cmd.Env = append(os.Environ(), "DESTDIR="+root, "BIN="+gatewayBin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf(
				"install.sh: %v\n%s",
				err, out,
			)
		}
	}
	run()
	for _, f := range []string{"usr/local/bin/gateway", "etc/systemd/system/gateway.service", "etc/gateway/gateway.yaml",
		"etc/sysctl.d/90-gateway.conf", "etc/nginx/conf.d/gateway.conf", "usr/local/share/doc/gateway/README.md"} {
		if !fileExists(filepath.Join(root, f)) {
			t.Fatalf(
				"install.sh did not install %s",
				f,
			)
		}
	}
	edited := filepath.Join(root, "etc/gateway/gateway.yaml")
	os.WriteFile(edited, []byte("node_id: 42\n"), 0o644)
	run()
	if data, _ := os.ReadFile(edited); string(data) != "node_id: 42\n" {
		t.Fatal("a second install overwrote the operator's configuration")
	}
}

func TestSysctlFileSyntax(t *testing.T) {
	data, err := os.ReadFile("sysctl/90-gateway.conf")
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" || strings.ContainsAny(k, " \t") {
			t.Fatalf(
				"line %d: %q is not key = value",
				i+1, line,
			)
		}
		keys++
		optional := strings.HasPrefix(k, "-")
		proc := "/proc/sys/" + strings.ReplaceAll(strings.TrimPrefix(k, "-"), ".", "/")
		if !optional && !fileExists(proc) {
			t.Errorf(
				"line %d: %s does not exist on this kernel",
				i+1, k,
			)
		}
	}
	if keys < 10 {
		t.Fatalf(
			"only %d settings",
			keys,
		)
	}
}

// TestNginxEndToEnd runs a real nginx with deploy/nginx/gateway.conf in
// front of the real gateway, echoes through it, and shows that the gateway
// records the client's address only because nginx is a trusted proxy. The
// client, nginx and the gateway use different loopback addresses so that
// the three can be told apart.
func TestNginxEndToEnd(t *testing.T) {
	nginx := need(t, "nginx", "apt-get install nginx")
	const (
		clientIP = "127.0.0.55" // the browser
		nginxIP  = "127.0.0.2"  // nginx's address towards the gateway
		token    = "e2e-token"
	)
	for _, tc := range []struct {
		name    string
		trusted string
		want    string
	}{
		{name: "nginx trusted", trusted: nginxIP, want: clientIP},
		{name: "nginx not trusted", trusted: "10.9.9.9", want: nginxIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, admin := startGateway(t, "-trusted-proxies", tc.trusted, "-admin.token", token)
			front := startNginx(t, nginx, gw, nginxIP)

			d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
				nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}}
				return nd.Dial(network, addr)
			}}
			// A forged X-Forwarded-For from the client must not win either.
			c, _, err := d.Dial("ws://"+front+"/ws", http.Header{"X-Forwarded-For": {"6.6.6.6"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.WriteMessage(websocket.TextMessage, []byte("through nginx"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, m, err := c.ReadMessage(); err != nil || string(m) != "through nginx" {
				t.Fatalf(
					"echo through nginx: %q %v",
					m, err,
				)
			}
			req, _ := http.NewRequest("GET", "http://"+admin+"/api/v1/sessions", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Sessions []struct {
					IP     string `json:"ip"`
					Remote string `json:"remote"`
				} `json:"sessions"`
			}
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if len(list.Sessions) != 1 {
				t.Fatalf(
					"sessions: %+v",
					list,
				)
			}
			s := list.Sessions[0]
			if !strings.HasPrefix(s.Remote, nginxIP+":") {
				t.Fatalf(
					"the gateway's peer is %s, want nginx at %s",
					s.Remote, nginxIP,
				)
			}
			if s.IP != tc.want {
				t.Fatalf(
					"client IP %s, want %s",
					s.IP, tc.want,
				)
			}
			// The channel protocol's endpoint is upgraded too (Centrifugo
			// SDKs connect there); nginx once passed it without Upgrade and
			// the gateway answered 426.
			cc, resp2, err := d.Dial("ws://"+front+"/connection/websocket", nil)
			if err != nil {
				t.Fatalf("channel protocol through nginx: %v (response %v)", err, resp2)
			}
			cc.Close()
			// The demo page is proxied too.
			page, err := http.Get("http://" + front + "/")
			if err != nil || page.StatusCode != 200 {
				t.Fatalf(
					"demo page through nginx: %v %v",
					page, err,
				)
			}
			page.Body.Close()
		})
	}
}

// startGateway runs the binary and returns its WebSocket and admin addresses.
func startGateway(t *testing.T, args ...string) (string, string) {
	t.Helper()
	p, err := gatewaytest.Start(gatewayBin, nil, append([]string{"-admin.listen", "127.0.0.1:0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p.Addr, p.AdminAddr
}

// startNginx runs nginx in the foreground with the shipped server block,
// pointed at the gateway, on a free loopback port.
func startNginx(t *testing.T, nginx, gateway, bindIP string) string {
	t.Helper()
	conf, err := os.ReadFile("nginx/gateway.conf")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	server := string(conf)
	server = strings.Replace(server, "server 127.0.0.1:8080;", "server "+gateway+";", 1)
	server = strings.Replace(server, "listen 80;", "listen 127.0.0.1:"+port+";", 1)
	// nginx reaches the gateway from its own address, as on a real network.
	server = strings.ReplaceAll(server, "proxy_pass http://gateway;", "proxy_pass http://gateway;\n        proxy_bind "+bindIP+";")
	dir := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "gateway.conf"), []byte(server), 0o644)
	main := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp;
    proxy_temp_path %[1]s/tmp;
    fastcgi_temp_path %[1]s/tmp;
    uwsgi_temp_path %[1]s/tmp;
    scgi_temp_path %[1]s/tmp;
    include %[1]s/gateway.conf;
}
`, dir)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644)
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf(
			"nginx -t rejects the shipped configuration: %v\n%s",
			err, out,
		)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestClusterNATSConfigIsValid: the three-node example's nats-server
// configuration parses (nats-server -t), so deploy/cluster/run.sh starts a
// server rather than three gateways that cannot reach one.
func TestClusterNATSConfigIsValid(t *testing.T) {
	server := gatewaytest.NATSServer(t)
	cmd := exec.Command(server, "-c", "nats.conf", "-t")
	cmd.Dir = "cluster"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nats-server -t rejects deploy/cluster/nats.conf: %v\n%s", err, out)
	}
}
