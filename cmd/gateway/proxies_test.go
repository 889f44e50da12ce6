package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/ratelimit"
)

// TestProxiesFromYAML: channels.proxy.* and the client limits reach the
// node's Proxies and Config.
func TestProxiesFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(path, []byte(`
channels:
  client:
    command_rate: 50
    command_rate_burst: 70
    command_rate_action: disconnect
    user_connection_limit: 3
    max_publish_size: 100
  proxy:
    connect: {endpoint: "http://127.0.0.1:9000/connect", timeout: 2s, http_headers: [Cookie], static_headers: {X-Key: k}}
    rpc: {endpoint: "http://127.0.0.1:9000/rpc"}
    rpc_routes:
      - {pattern: "billing.*", proxy: {endpoint: "http://127.0.0.1:9001/rpc"}}
`), 0o600)
	cfg, _, err := loadConfig([]string{"-config", path}, env(map[string]string{"GATEWAY_CHANNELS_PROXY_PUBLISH_ENDPOINT": "http://127.0.0.1:9000/publish"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := cfg.Channels.Proxy.build()
	if err != nil {
		t.Fatal(err)
	}
	if ps.Connect == nil || ps.Connect.Config().Timeout != 2*time.Second || ps.Connect.Config().StaticHeaders["X-Key"] != "k" ||
		ps.Publish == nil || ps.Subscribe != nil || len(ps.RPC) != 2 || ps.RPC[0].Pattern != "billing.*" || ps.RPC[1].Pattern != "" {
		t.Fatalf("proxies %+v", ps)
	}
	var nc channels.Config
	cfg.Channels.Client.applyLimits(&nc)
	if nc.CommandRate != (ratelimit.Limit{Rate: 50, Burst: 70}) || !nc.CommandRateDisconnect || nc.UserConnectionLimit != 3 || nc.MaxPublishSize != 100 {
		t.Fatalf("limits %+v", nc)
	}

	for _, bad := range []string{
		`{channels: {proxy: {connect: {endpoint: "ftp://x"}}}}`,
		`{channels: {client: {command_rate_action: close}}}`,
		`{channels: {proxy: {rpc_routes: [{pattern: "a.*"}]}}}`,
	} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, _, err := loadConfig([]string{"-config", path}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "channels.") {
			t.Errorf("%s: got %v, want an error naming the key", bad, err)
		}
	}
}

// TestConnectProxyProcess: the binary, configured by environment, asks a
// real backend about a connect and forwards the listed upgrade header.
func TestConnectProxyProcess(t *testing.T) {
	cookies := make(chan string, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookies <- r.Header.Get("Cookie")
		io.WriteString(w, `{"result":{"user":"proc-user","data":{"ok":true}}}`)
	}))
	defer be.Close()
	p := startGatewayEnv(t, []string{
		"GATEWAY_CHANNELS_PROXY_CONNECT_ENDPOINT=" + be.URL,
		"GATEWAY_CHANNELS_PROXY_CONNECT_HTTP_HEADERS=Cookie",
	})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr+"/connection/websocket", http.Header{"Cookie": {"session=s1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{}}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), `{"id":1,"connect":{"client":"`) || !strings.Contains(string(msg), `"data":{"ok":true}`) {
		t.Fatalf("connect reply %s", msg)
	}
	if got := <-cookies; got != "session=s1" {
		t.Fatalf("backend saw Cookie %q", got)
	}
}
