package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string, header http.Header) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBackendDecisions(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()

	cookie := http.Header{"Cookie": {"session=alice-secret"}}
	got := post(t, srv.URL+"/connect", `{"client":"c1","transport":"websocket","protocol":"json","encoding":"json"}`, cookie)
	res, _ := got["result"].(map[string]any)
	if res["user"] != "alice" || res["info"].(map[string]any)["name"] != "Alice" || res["expire_at"].(float64) == 0 {
		t.Errorf("connect with cookie: %v", got)
	}
	got = post(t, srv.URL+"/connect", `{}`, http.Header{"Authorization": {"Bearer bob-secret"}})
	if got["result"].(map[string]any)["user"] != "bob" {
		t.Errorf("connect with bearer: %v", got)
	}
	got = post(t, srv.URL+"/connect", `{}`, http.Header{"Cookie": {"session=nope"}})
	if d, _ := got["disconnect"].(map[string]any); d["code"] != 4501.0 {
		t.Errorf("unknown user: %v", got)
	}

	if got = post(t, srv.URL+"/subscribe", `{"user":"bob","channel":"chat:1"}`, nil); got["result"] == nil {
		t.Errorf("bob chat:1: %v", got)
	}
	if got = post(t, srv.URL+"/subscribe", `{"user":"bob","channel":"news"}`, nil); got["error"].(map[string]any)["code"] != 403.0 {
		t.Errorf("bob news: %v", got)
	}

	got = post(t, srv.URL+"/publish", `{"user":"bob","channel":"chat:1","data":{"text":"hello"}}`, nil)
	data := got["result"].(map[string]any)["data"].(map[string]any)
	if data["text"] != "hello" || data["by"] != "bob" {
		t.Errorf("publish rewrite: %v", got)
	}
	if got = post(t, srv.URL+"/publish", `{"user":"bob","channel":"chat:1","data":{"text":"buy SPAM"}}`, nil); got["error"].(map[string]any)["code"] != 1000.0 {
		t.Errorf("forbidden word: %v", got)
	}

	if got = post(t, srv.URL+"/rpc", `{"user":"bob","method":"time"}`, nil); got["result"].(map[string]any)["data"].(map[string]any)["unix"] == nil {
		t.Errorf("rpc time: %v", got)
	}
	if got = post(t, srv.URL+"/rpc", `{"user":"bob","method":"nope"}`, nil); got["error"].(map[string]any)["code"] != 104.0 {
		t.Errorf("rpc unknown: %v", got)
	}
}
