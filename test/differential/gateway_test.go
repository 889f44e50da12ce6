package differential

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

// startGateway builds cmd/gateway and starts it with the configuration
// that matches Centrifugo's (the same namespaces in the same option names,
// the same API key and token secret), or says why it cannot.
func startGateway() (*server, string) {
	bin, cleanup, err := gatewaytest.BuildTemp()
	if err != nil {
		return nil, err.Error()
	}
	dir, err := os.MkdirTemp("", "gateway-diff")
	if err != nil {
		cleanup()
		return nil, err.Error()
	}
	cfg := map[string]any{
		"log":     map[string]any{"level": "info"}, // gatewaytest reads the "listening" lines
		"origins": map[string]any{"allowed": []string{"*"}},
		"admin":   map[string]any{"listen": "127.0.0.1:0"},
		"api":     map[string]any{"key": apiKey},
		"channels": map[string]any{
			"enabled": true,
			"path":    "/connection/websocket",
			"client": map[string]any{
				"allow_anonymous_connect_without_token": true,
				"token":                                 map[string]any{"hmac_secret_key": tokenSecret},
			},
			"channel": map[string]any{"without_namespace": withoutNamespace, "namespaces": namespaces},
		},
	}
	// JSON is YAML.
	data, _ := json.MarshalIndent(cfg, "", "  ")
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		cleanup()
		return nil, err.Error()
	}
	p, err := gatewaytest.Start(bin, nil, "-config", file)
	if err != nil {
		cleanup()
		os.RemoveAll(dir)
		return nil, err.Error()
	}
	return &server{
		name: "gateway",
		base: "http://" + p.AdminAddr,
		ws:   fmt.Sprintf("ws://%s/connection/websocket", p.Addr),
		stop: func() {
			p.Stop()
			cleanup()
			os.RemoveAll(dir)
		},
	}, ""
}
