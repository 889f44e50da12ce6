package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

func TestAPIKeyFromEnvIsNeverPrinted(t *testing.T) {
	const key = "k-very-secret-42"
	cfg, _, err := loadConfig([]string{"-api.error-mode", "transport", "-api.insecure=false"}, env(map[string]string{"GATEWAY_API_KEY": key}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Key != key || cfg.API.ErrorMode != "transport" {
		t.Fatalf("api config %+v", cfg.API)
	}
	var out bytes.Buffer
	printConfig(&out, cfg)
	if strings.Contains(out.String(), key) || !strings.Contains(out.String(), "key: <redacted>") {
		t.Fatalf("-print-config shows the API key or no key line:\n%s", out.String())
	}
	out.Reset()
	loadConfig([]string{"-h"}, env(map[string]string{"GATEWAY_API_KEY": key}), &out)
	if strings.Contains(out.String(), key) || !strings.Contains(out.String(), "api.key") {
		t.Fatalf("-h shows the API key or does not document api.key:\n%s", out.String())
	}
	if _, _, err := loadConfig([]string{"-api.error-mode", "http"}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "api.error_mode") {
		t.Fatalf("bad error mode: %v", err)
	}
}

type infoNode struct{ serverapi.Node }

func (infoNode) Info(context.Context) ([]serverapi.NodeInfo, error) {
	return []serverapi.NodeInfo{{UID: "u", Name: "n"}}, nil
}

func (infoNode) Presence(context.Context, string) (map[string]*broker.ClientInfo, error) {
	return nil, nil
}

// The admin listener routes /api/v1/ to the push API of the raw sessions
// and the rest of /api to the server API.
func TestServerAPIBesidePushAPI(t *testing.T) {
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "admin "+r.URL.Path) })
	cfg := &Config{API: APIConfig{Key: "k"}}
	if h := withServerAPI(cfg, admin, nil, serverapi.NewMetrics(), zap.NewNop()); h == nil {
		t.Fatal("nil handler without a node")
	}
	srv := httptest.NewServer(withServerAPI(cfg, admin, infoNode{}, serverapi.NewMetrics(), zap.NewNop()))
	defer srv.Close()
	for _, c := range []struct{ path, header, want string }{
		{"/api/v1/stats", "", "admin /api/v1/stats"},
		{"/metrics", "", "admin /metrics"},
		{"/api/info", "k", `{"result":{"nodes":[{"uid":"u","name":"n","version":"","num_clients":0,"num_users":0,"num_channels":0,"num_subs":0}]}}`},
		{"/api", "k", `{"result":{"nodes":[{"uid":"u","name":"n","version":"","num_clients":0,"num_users":0,"num_channels":0,"num_subs":0}]}}`},
		{"/api/presence", "k", `{"result":{"presence":{}}}`},
		{"/api/info", "", ``},
	} {
		body := `{}`
		if c.path == "/api" {
			body = `{"method":"info","params":{}}`
		}
		if c.path == "/api/presence" {
			body = `{"channel":"x"}`
		}
		req, _ := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(body))
		req.Header.Set("X-API-Key", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != c.want {
			t.Errorf("%s: got %d %s, want %s", c.path, resp.StatusCode, b, c.want)
		}
	}
}
