package web

import (
	"bytes"
	"testing"
)

func TestIndexPointsAtThePath(t *testing.T) {
	page := Index("/socket")
	if !bytes.Contains(page, []byte(`const WS_PATH = "/socket";`)) || bytes.Contains(page, []byte("{{")) {
		t.Fatal("the WebSocket path was not filled in")
	}
	for _, id := range []string{`id="connect"`, `id="disconnect"`, `id="message"`, `id="send"`, `id="log"`, `id="rtt"`} {
		if !bytes.Contains(page, []byte(id)) {
			t.Errorf(
				"page lacks %s",
				id,
			)
		}
	}
}
