package sdk

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

// TestNodeSDKExampleBackend runs the README's full loop with npm centrifuge
// in Node: examples/backend built and started as a process, a gateway of its
// own with every proxy pointed at it, and node/backend.mjs checking connect
// (Authorization through the SDK's headers emulation, Cookie in the upgrade
// request), subscribe allowed and refused (403), publications rewritten
// (by: alice) and refused (1000), rpc time and an unknown method (104), and
// a client without credentials closed with 4501 and not reconnecting.
func TestNodeSDKExampleBackend(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	for _, pkg := range []string{"centrifuge", "ws"} {
		need(t, nodeModule(pkg), "the npm package "+pkg, "npm ci --prefix test/sdk/node")
	}
	t.Parallel()
	backend := startExampleBackend(t)
	px := func(path string, extra map[string]any) map[string]any {
		p := map[string]any{"endpoint": backend + path, "timeout": "2s"}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	cfg := map[string]any{
		"log":     map[string]any{"level": "info"},
		"origins": map[string]any{"allowed": []string{"*"}},
		"admin":   map[string]any{"listen": "127.0.0.1:0"},
		"channels": map[string]any{
			"enabled": true,
			"path":    "/connection/websocket",
			"client":  map[string]any{"allow_anonymous_connect_without_token": false},
			"proxy": map[string]any{
				"connect": px("/connect", map[string]any{
					"http_headers":     []string{"Cookie", "Authorization"}, // upgrade request (bob)
					"emulated_headers": []string{"Authorization"},           // the SDK's headers option (alice)
				}),
				"subscribe": px("/subscribe", nil),
				"publish":   px("/publish", nil),
				"rpc":       px("/rpc", nil),
			},
			"channel": map[string]any{
				"without_namespace": map[string]any{"subscribe_proxy_enabled": true},
				"namespaces": []map[string]any{{
					"name": "chat", "subscribe_proxy_enabled": true, "publish_proxy_enabled": true,
				}},
			},
		},
	}
	file := filepath.Join(t.TempDir(), "backends.yaml")
	data, _ := json.MarshalIndent(cfg, "", "  ") // JSON is YAML
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := gatewaytest.Start(bin, nil, "-config", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	opts, _ := json.Marshal(map[string]any{"ws": "ws://" + p.Addr + "/connection/websocket"})
	checkReport(t, splitLines(runNode(t, 20*time.Second, "backend.mjs", string(opts))))
}

// startExampleBackend builds examples/backend and runs it on a free
// loopback port until the test ends; it returns the base URL.
func startExampleBackend(t *testing.T) string {
	t.Helper()
	return gatewaytest.ExampleBackend(t, "go", repoRoot)
}
