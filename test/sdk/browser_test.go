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

// TestChromiumChat opens the demo page (the chat at /) in two headless
// Chromium pages against the gateway with its embedded defaults (the demo
// configuration: anonymous clients in namespace chat), one of them through
// a cuttable proxy: they chat, see each other present, one reloads and sees the
// history, one is cut off and recovers. Screenshots go to $TEST_ARTIFACTS.
func TestChromiumChat(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	need(t, nodeModule("playwright-core"), "playwright-core", "npm ci --prefix test/sdk/node")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err = os.Stat(chromium)
	need(t, err == nil, "Chromium at "+chromium, "apt-get install chromium (or set CHROMIUM)")
	t.Parallel()
	artifacts := os.Getenv("TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(repoRoot, "test-artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	demo, err := gatewaytest.Start(bin, nil, "-admin.listen", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Stop)
	if !demo.Logged("namespace open to anonymous clients") {
		t.Fatal("the embedded defaults do not open a namespace to anonymous clients: the demo page needs one")
	}
	proxy := newCutProxy(t, demo.Addr)
	backend := newBackend(t, proxy)
	shots := filepath.Join(artifacts, "chat-demo")
	for _, s := range []string{"-alice.png", "-bob.png"} {
		os.Remove(shots + s)
	}
	opts, _ := json.Marshal(map[string]any{
		"page":     "http://" + demo.Addr + "/",
		"cutPage":  "http://" + proxy.addr() + "/",
		"backend":  backend.URL,
		"room":     "sdk-test",
		"shots":    shots,
		"chromium": chromium,
	})
	out := runNode(t, 90*time.Second, "chat.mjs", string(opts))
	checkReport(t, splitLines(out))
	for _, s := range []string{"-alice.png", "-bob.png"} {
		if st, err := os.Stat(shots + s); err != nil || st.Size() < 5000 {
			t.Errorf("no screenshot at %s: %v", shots+s, err)
		}
	}
	t.Logf("screenshots: %s-{alice,bob}.png", shots)
}
