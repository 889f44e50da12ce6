package poller

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/session"
)

// TestEchoWithIndependentClient echoes text and binary messages at the
// sizes where the frame length encoding changes, with gorilla/websocket as
// the client.
func TestEchoWithIndependentClient(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf(
			"status %d",
			resp.StatusCode,
		)
	}
	c.SetReadLimit(2 << 20)
	for _, size := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			t.Run(fmt.Sprintf("%d-%d", typ, size), func(t *testing.T) {
				payload := testPayload(typ == websocket.TextMessage, size)
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err := c.WriteMessage(typ, payload); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				gotType, got, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if gotType != typ || !bytes.Equal(got, payload) {
					t.Fatalf(
						"echo of %d bytes type %d: got %d bytes type %d",
						size, typ, len(got), gotType,
					)
				}
			})
		}
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf(
			"close answer: %v, want 1000",
			err,
		)
	}
}

// testPayload returns size bytes: multi-byte UTF-8 text, or binary bytes of
// every value.
func testPayload(text bool, size int) []byte {
	if text {
		p := bytes.Repeat([]byte("é"), size/2)
		return append(p, bytes.Repeat([]byte("a"), size%2)...)
	}
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i % 251)
	}
	return p
}

// TestEchoStreamIntegrity pipelines messages of mixed sizes without waiting
// for their echoes, so that input keeps arriving while the server is busy
// writing: every echo must come back whole and in order.
func TestEchoStreamIntegrity(t *testing.T) {
	// The client writes faster than it reads; a queue that holds the whole
	// run keeps the slow-consumer policy out of this test.
	_, addr := startServer(t, Options{Session: session.Options{QueueMaxBytes: 64 << 20, QueueMaxMessages: 1000}}, handler.Echo{})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const messages = 600
	sizes := make([]int, messages)
	for i := range sizes {
		sizes[i] = []int{0, 1, 125, 126, 4095, 4097, 65535, 65536, 70001}[i%9]
	}
	go func() {
		for i, size := range sizes {
			p := testPayload(false, size)
			if size > 0 {
				p[0] = byte(i)
			}
			if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i, size := range sizes {
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf(
				"echo %d: %v",
				i, err,
			)
		}
		want := testPayload(false, size)
		if size > 0 {
			want[0] = byte(i)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf(
				"echo %d: %d bytes differ from the %d sent",
				i, len(got), size,
			)
		}
	}
}
