// Package sdk runs the official Centrifugo SDKs, unmodified, against the
// real gateway binary: npm centrifuge 5.x in Node (on the ws library, JSON
// and Protobuf, with and without permessage-deflate; also behind the
// proxies with examples/backend) and in headless Chromium on the demo page. Tokens are signed here (HS256); publications
// go through the server API; a TCP proxy between the SDK and the gateway
// lets a test cut the connection as a network failure would.
//
// A missing program or npm package is skipped with a message saying how to
// install it, or fails the test when CI is set (.ci/run installs them all).
package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

const (
	apiKey      = "sdk-test-api-key"
	tokenSecret = "sdk-test-hmac-secret-0123456789abcdef"
)

var (
	gw       *gatewaytest.Process
	bin      string // the gateway binary, for tests that start their own
	cfgFile  string // gatewayConfig as YAML
	repoRoot string
	nodeDir  string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	nodeDir = filepath.Join(repoRoot, "test", "sdk", "node")
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var cleanup func()
	var err error
	bin, cleanup, err = gatewaytest.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	dir, err := os.MkdirTemp("", "gateway-sdk")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfgFile = filepath.Join(dir, "gateway.yaml")
	data, _ := json.MarshalIndent(gatewayConfig(), "", "  ") // JSON is YAML
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gw, err = gatewaytest.Start(bin, nil, "-config", cfgFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer gw.Stop()
	return m.Run()
}

// chatOptions are the demo's chat namespace options (cmd/gateway's embedded
// defaults), for clients with a token.
func chatOptions(name string, historySize int) map[string]any {
	return map[string]any{
		"name":                          name,
		"allow_subscribe_for_client":    true,
		"allow_publish_for_subscriber":  true,
		"allow_presence_for_subscriber": true,
		"allow_history_for_subscriber":  true,
		"history_size":                  historySize,
		"history_ttl":                   "300s",
		"force_recovery":                true,
		"presence":                      true,
		"join_leave":                    true,
		"force_push_join_leave":         true,
	}
}

// gatewayConfig: tokens required (HS256), compression offered to clients
// that ask, expiry closes two seconds after exp, namespaces chat (history
// 100: recovery of 50 fits), brief (history 10: it does not) and secret
// (private channels "$secret:...": a subscription token is required).
func gatewayConfig() map[string]any {
	secret := chatOptions("secret", 10)
	secret["allow_subscribe_for_client"] = false
	return map[string]any{
		"log":         map[string]any{"level": "info"}, // gatewaytest reads the "listening" lines
		"origins":     map[string]any{"allowed": []string{"*"}},
		"admin":       map[string]any{"listen": "127.0.0.1:0"},
		"api":         map[string]any{"key": apiKey},
		"compression": map[string]any{"enabled": true, "min_size": 64},
		"channels": map[string]any{
			"enabled": true,
			"path":    "/connection/websocket",
			"client": map[string]any{
				"allow_anonymous_connect_without_token": false,
				// The SDKs refresh ttl whole seconds after the reply, up to
				// a second past exp: the delay leaves them time to.
				"expired_close_delay":     "2s",
				"expired_sub_close_delay": "2s",
				"token":                   map[string]any{"hmac_secret_key": tokenSecret},
			},
			"channel": map[string]any{"namespaces": []map[string]any{
				chatOptions("chat", 100), chatOptions("brief", 10), secret,
			}},
		},
	}
}

// need skips the test when a program or package is missing, or fails it
// under CI, where .ci/run is expected to have installed everything.
func need(t *testing.T, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing, and CI is set: %s", what, install)
	}
	t.Skipf("%s is missing; to run this test: %s", what, install)
}

func nodeModule(pkg string) bool {
	_, err := os.Stat(filepath.Join(nodeDir, "node_modules", pkg, "package.json"))
	return err == nil
}
