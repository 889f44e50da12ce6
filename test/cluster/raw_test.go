package cluster

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pushAPI calls the raw push API (/api/v1) of node n.
func pushAPI(t *testing.T, n *node, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on node %d: %v", method, path, n.id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rawForwarding: a /ws session on node 2 gets a message sent, and is then
// kicked, through node 1's /api/v1 (forwarded by the session ID's node
// prefix); an unknown node's session ID is answered 404.
func rawForwarding(t *testing.T, nodes []*node) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+nodes[1].addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	code, body := pushAPI(t, nodes[1], "GET", "/api/v1/sessions?limit=1000", "")
	var list struct {
		Sessions []struct {
			ID     string `json:"id"`
			Remote string `json:"remote"`
		} `json:"sessions"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("session list on node 2: %d %s", code, body)
	}
	id := ""
	for _, s := range list.Sessions {
		if s.Remote == ws.LocalAddr().String() {
			id = s.ID
		}
	}
	if !strings.HasPrefix(id, "0002") {
		t.Fatalf("no session of node 2 for %s in %s", ws.LocalAddr(), body)
	}
	if code, body := pushAPI(t, nodes[0], "POST", "/api/v1/sessions/"+id+"/send", "hello from node 1"); code != http.StatusAccepted {
		t.Fatalf("send through node 1: %d %s, want 202", code, body)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "hello from node 1" {
		t.Fatalf("the node 2 session read %q, %v; want the message sent through node 1", m, err)
	}
	if code, body := pushAPI(t, nodes[0], "DELETE", "/api/v1/sessions/"+id+"?code=4001&reason=moved", ""); code != http.StatusAccepted {
		t.Fatalf("kick through node 1: %d %s, want 202", code, body)
	}
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "moved" {
		t.Fatalf("the kicked session read %v, want close 4001 moved", err)
	}
	if code, body := pushAPI(t, nodes[0], "DELETE", "/api/v1/sessions/00ff000000000001", ""); code != http.StatusNotFound {
		t.Fatalf("kick of a session of node 255 (not live): %d %s, want 404", code, body)
	}
}
