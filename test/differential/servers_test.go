package differential

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from Centrifugo's replies")

// The credentials both servers are configured with.
const (
	apiKey      = "diff-api-key"
	tokenSecret = "diff-token-secret-at-least-32-bytes-long"
)

// server is one side of the comparison.
type server struct {
	name string
	base string // http://127.0.0.1:port: the API is at base+"/api"
	ws   string // ws://127.0.0.1:port/connection/websocket
	stop func()
	// protobuf makes dial negotiate centrifuge-protobuf: the scenario's JSON
	// commands are sent as Protobuf and the replies read back as JSON.
	protobuf bool
}

// The Protobuf runs use their own channels, since the servers keep the
// JSON runs' history: every namespace gets a "pb-" prefix on the way out,
// removed again from what comes back (so that both runs' transcripts are
// the same).
var (
	pbOut = strings.NewReplacer("chat:", "chat:pb-", "bare:", "bare:pb-", "locked:", "locked:pb-", "nope:", "nope:pb-")
	pbIn  = strings.NewReplacer("chat:pb-", "chat:", "bare:pb-", "bare:", "locked:pb-", "locked:", "nope:pb-", "nope:")
)

// out is what the scenario sends, renamed for a Protobuf run.
func (s *server) out(text string) string {
	if s.protobuf {
		return pbOut.Replace(text)
	}
	return text
}

var (
	centrifugo *server
	gateway    *server
	// gatewayMissing says why the gateway side does not run.
	gatewayMissing string
	setupErr       error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if bin, why := centrifugoBin(); bin == "" {
			setupErr = skipError(why)
		} else if centrifugo, setupErr = startCentrifugo(bin); setupErr == nil {
			defer centrifugo.stop()
			gateway, gatewayMissing = startGateway()
			if gateway != nil {
				defer gateway.stop()
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

type skipError string

func (s skipError) Error() string { return string(s) }

// servers returns Centrifugo and, when it speaks the protocol, the gateway;
// it skips (or fails under CI) without Centrifugo.
func servers(t *testing.T) []*server {
	t.Helper()
	if setupErr != nil {
		if _, skip := setupErr.(skipError); skip && os.Getenv("CI") == "" {
			t.Skip(setupErr)
		}
		t.Fatal(setupErr)
	}
	if gateway == nil {
		t.Fatalf("the gateway: %s", gatewayMissing)
	}
	return []*server{centrifugo, gateway}
}

// centrifugoVersion is the pinned version (.ci/run builds the same).
const centrifugoVersion = "v6.9.1"

func centrifugoBin() (string, string) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	tools := filepath.Join(cache, "gateway-tools")
	bin := os.Getenv("CENTRIFUGO_BIN")
	if bin == "" {
		bin = filepath.Join(tools, "centrifugo")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Sprintf("no Centrifugo binary at %s (set CENTRIFUGO_BIN, or build it as .ci/run does: GOBIN=%s GOFLAGS=-mod=mod go install github.com/centrifugal/centrifugo/v6@%s)",
			bin, tools, centrifugoVersion)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err == nil && !strings.Contains(string(out), "github.com/centrifugal/centrifugo/v6\t"+centrifugoVersion) {
		return "", fmt.Sprintf("%s is not Centrifugo %s:\n%s", bin, centrifugoVersion, firstLines(string(out), 3))
	}
	return bin, ""
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// namespaceOptions are the channel options of the test namespaces, in
// Centrifugo v6's names; the gateway gets the same.
//   - chat: everything a client may do, history, presence, join/leave,
//     recovery (the demo namespace);
//   - locked: nothing allowed for clients;
//   - bare: subscribe and publish allowed, no history, no presence.
//
// Channels without a namespace allow subscribe and publish, no history.
var namespaces = []map[string]any{
	{"name": "chat", "history_size": 10, "history_ttl": "300s", "presence": true, "join_leave": true, "force_recovery": true,
		"allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
		"allow_publish_for_client": true, "allow_publish_for_anonymous": true,
		"allow_history_for_client": true, "allow_history_for_anonymous": true,
		"allow_presence_for_client": true, "allow_presence_for_anonymous": true},
	{"name": "locked"},
	{"name": "bare", "allow_subscribe_for_client": true, "allow_publish_for_client": true,
		"allow_history_for_client": true, "allow_presence_for_client": true},
}

var withoutNamespace = map[string]any{"allow_subscribe_for_client": true, "allow_publish_for_client": true}

func startCentrifugo(bin string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "centrifugo-diff")
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"http_api":    map[string]any{"key": apiKey},
		"health":      map[string]any{"enabled": true},
		"log":         map[string]any{"level": "error"},
		"usage_stats": map[string]any{"disabled": true},
		"client": map[string]any{
			"token":                                 map[string]any{"hmac_secret_key": tokenSecret},
			"allowed_origins":                       []string{"*"},
			"allow_anonymous_connect_without_token": true,
		},
		"channel": map[string]any{"without_namespace": withoutNamespace, "namespaces": namespaces},
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", file)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // ends with a test killed by its timeout
	// Its error log (every API error is one) goes to a file in dir.
	logFile, err := os.Create(filepath.Join(dir, "centrifugo.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "centrifugo", base: fmt.Sprintf("http://127.0.0.1:%d", port),
		ws: fmt.Sprintf("ws://127.0.0.1:%d/connection/websocket", port)}
	s.stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("Centrifugo did not answer /health within 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
