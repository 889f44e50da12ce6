package poller

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xh-control/gateway/pkg/handler"
)

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// TestHandshakeFormsRealClientsSend sends, over a loopback socket, valid
// handshakes in the forms browsers, proxies and client libraries send: each
// gets a 101 with the right Sec-WebSocket-Accept, then an echo.
func TestHandshakeFormsRealClientsSend(t *testing.T) {
	origins, err := NewOriginPolicy([]string{"https://app.example.com"}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Options{Origins: origins, Compression: CompressionOptions{Enabled: true}}, handler.Echo{})
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	const ws = "Upgrade: websocket\r\n"
	const kv = "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	cases := []struct {
		name, request, extensions string
	}{
		{name: "Connection split over two lines", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "Connection split over two lines, Upgrade first", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n" + ws + "Connection: keep-alive\r\n" + kv + "\r\n"},
		{name: "Upgrade split over two lines", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + kv + "\r\n"},
		{name: "Upgrade as a list", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\n" + kv + "\r\n"},
		{name: "empty list elements", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: ,websocket,\r\nConnection: , keep-alive,, Upgrade ,\r\n" + kv + "\r\n"},
		{name: "folded Connection", request: "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: keep-alive,\r\n Upgrade\r\n" + kv + "\r\n"},
		{name: "lower-case names, odd whitespace", request: "GET /ws HTTP/1.1\r\nhost:localhost\r\nupgrade:\tWebSocket \r\nconnection:  UPGRADE\r\nsec-websocket-key:" + key + "\r\nsec-websocket-version: 13\t\r\n\r\n"},
		{name: "absolute-form http", request: "GET http://127.0.0.1:8080/ws?room=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "absolute-form ws", request: "GET ws://127.0.0.1:8080/ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "absolute-form https", request: "GET https://localhost/ws?x=1 HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "absolute-form wss", request: "GET wss://localhost/ws HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "absolute-form authority is the host for same-origin",
			request: "GET http://chat.example.net/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://chat.example.net\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "query string", request: "GET /ws?token=a%20b&room=1 HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: Upgrade\r\n" + kv + "\r\n"},
		{name: "bare LF line ends", request: "GET /ws HTTP/1.1\nHost: localhost\n" + ws[:len(ws)-2] + "\nConnection: Upgrade\nSec-WebSocket-Key: " + key + "\nSec-WebSocket-Version: 13\n\n"},
		{name: "extensions over two lines", extensions: "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
			request: "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: Upgrade\r\n" + kv +
				"Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"},
		{name: "extensions with an empty element", extensions: "permessage-deflate;server_no_context_takeover;client_no_context_takeover",
			request: "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + ws + "Connection: Upgrade\r\n" + kv + "Sec-WebSocket-Extensions: , permessage-deflate,\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(tc.request)
			resp, body := c.response()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf(
					"status %d: %s",
					resp.StatusCode, strings.TrimSpace(body),
				)
			}
			if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
				t.Fatalf(
					"Sec-WebSocket-Accept %q, want %q",
					got, acceptKey(key),
				)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.extensions {
				t.Fatalf(
					"Sec-WebSocket-Extensions %q, want %q",
					got, tc.extensions,
				)
			}
			if tc.extensions != "" {
				return // the echo would be compressed; deflate_test covers it
			}
			c.writeFrame(true, opText, []byte("hi"))
			f, err := c.readFrame(5 * time.Second)
			if err != nil || f.op != opText || string(f.payload) != "hi" {
				t.Fatalf(
					"echo %v %q %v",
					f.op, f.payload, err,
				)
			}
		})
	}
}

// TestHandshakeRefusesAmbiguousHeads sends, over a loopback socket,
// handshakes that repeat a field RFC 6455 or RFC 9112 allows once, or speak
// the wrong HTTP version: each gets the status and reason stated.
func TestHandshakeRefusesAmbiguousHeads(t *testing.T) {
	origins, err := NewOriginPolicy([]string{"https://app.example.com"}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, Options{Origins: origins}, handler.Echo{})
	const kv = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	cases := []struct {
		name, request string
		status        int
		reason        RejectReason
		body          string // a part of the response body
	}{
		{"two Sec-WebSocket-Key lines", "GET /ws HTTP/1.1\r\nHost: h\r\n" + kv + key + "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n",
			http.StatusBadRequest, RejectBadKey, "Sec-WebSocket-Key appears 2 times; RFC 6455 section 11.3.1 allows one"},
		{"two identical Sec-WebSocket-Key lines", "GET /ws HTTP/1.1\r\nHost: h\r\n" + kv + key + key + "\r\n",
			http.StatusBadRequest, RejectBadKey, "Sec-WebSocket-Key appears 2 times"},
		{"two Sec-WebSocket-Version lines", "GET /ws HTTP/1.1\r\nHost: h\r\n" + kv + key + "Sec-WebSocket-Version: 13\r\n\r\n",
			http.StatusBadRequest, RejectBadVersion, "Sec-WebSocket-Version appears 2 times"},
		{"two Host lines", "GET /ws HTTP/1.1\r\nHost: h\r\nHost: h\r\n" + kv + key + "\r\n",
			http.StatusBadRequest, RejectMalformed, "Host appears more than once (RFC 9112 section 3.2)"},
		{"two Origin lines", "GET /ws HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\nOrigin: https://evil.example\r\n" + kv + key + "\r\n",
			http.StatusBadRequest, RejectBadHandshake, "Origin appears 2 times"},
		{"HTTP/1.0", "GET /ws HTTP/1.0\r\nHost: h\r\n" + kv + key + "\r\n",
			http.StatusBadRequest, RejectMalformed, "WebSocket needs HTTP/1.1 or later (RFC 6455 section 4.1); this request is HTTP/1.0"},
		{"HTTP/2.0", "GET /ws HTTP/2.0\r\nHost: h\r\n" + kv + key + "\r\n",
			http.StatusHTTPVersionNotSupported, RejectMalformed, "HTTP/2 is not supported"},
		{"whitespace before a colon", "GET /ws HTTP/1.1\r\nHost : h\r\n" + kv + key + "\r\n",
			http.StatusBadRequest, RejectMalformed, "whitespace between a header name and its colon"},
		{"userinfo in an absolute-form target", "GET http://u:p@h/ws HTTP/1.1\r\nHost: h\r\n" + kv + key + "\r\n",
			http.StatusBadRequest, RejectMalformed, "userinfo"},
		{"absolute-form authority decides same-origin", "GET http://evil.example/ws HTTP/1.1\r\nHost: h\r\nOrigin: https://h\r\n" + kv + key + "\r\n",
			http.StatusForbidden, RejectOrigin, `origin "https://h" is not allowed`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().Rejections[tc.reason].Load()
			c := dialRaw(t, addr)
			c.send(tc.request)
			resp, body := c.response()
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf(
					"%d %q, want %d with %q",
					resp.StatusCode, body, tc.status, tc.body,
				)
			}
			c.expectEOF()
			if got := srv.Stats().Rejections[tc.reason].Load(); got != before+1 {
				t.Fatalf(
					"rejection %s counted %d times, want 1",
					tc.reason, got-before,
				)
			}
		})
	}
	if n := srv.Hub().Count(); n != 0 {
		t.Fatalf(
			"%d sessions opened",
			n,
		)
	}
}

// TestRefusedOriginIsLogged: the log line of a refused origin names it.
func TestRefusedOriginIsLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	origins, err := NewOriginPolicy([]string{"https://app.example.com"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Options{Origins: origins, Logger: zap.New(core)}, handler.Echo{})
	c := dialRaw(t, addr)
	c.send(handshakeRequest("/ws", "Origin: https://evil.example:8443\r\n"))
	if resp, body := c.response(); resp.StatusCode != http.StatusForbidden || body != "origin \"https://evil.example:8443\" is not allowed\n" {
		t.Fatalf(
			"%d %q",
			resp.StatusCode, body,
		)
	}
	waitUntil(t, "the rejection logged", func() bool { return logs.FilterMessage("handshake rejected").Len() > 0 })
	fields := logs.FilterMessage("handshake rejected").All()[0].ContextMap()
	if fields["origin"] != "https://evil.example:8443" || fields["reason"] != "origin" ||
		fields["detail"] != `origin "https://evil.example:8443" is not allowed` {
		t.Fatalf(
			"log fields %v",
			fields,
		)
	}
}
