package sdk

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

// TestNodeSDKShutdown stops a gateway of its own with SIGTERM under a
// connected and subscribed npm centrifuge client (JSON): the client is
// closed with 3001 (shutdown) and keeps reconnecting, its subscription kept.
func TestNodeSDKShutdown(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	need(t, nodeModule("centrifuge"), "the npm package centrifuge", "npm ci --prefix test/sdk/node")
	t.Parallel()
	p, err := gatewaytest.Start(bin, nil, "-config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	proxy := newCutProxy(t, p.Addr)
	backend := newBackend(t, proxy, func(mux *http.ServeMux) {
		mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) { p.Signal(syscall.SIGTERM) })
	})
	opts, _ := json.Marshal(map[string]any{
		"api":     "http://" + p.AdminAddr + "/api",
		"apiKey":  apiKey,
		"format":  "json",
		"deflate": true,
		"room":    "shutdown",
		"runs": map[string]any{"shutdown": map[string]string{
			"ws":      "ws://" + proxy.addr() + "/connection/websocket",
			"backend": backend.URL,
		}},
	})
	checkReport(t, splitLines(runNode(t, 30*time.Second, "scenario.mjs", string(opts))))
	if code, err := p.Wait(10 * time.Second); err != nil || code != 0 {
		t.Errorf("the gateway's exit after SIGTERM: code %d, %v", code, err)
	}
}
