package poller

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
)

func TestHandshakeRejections(t *testing.T) {
	origins, err := NewOriginPolicy([]string{"https://app.example.com"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, Options{Origins: origins, MaxHeaderBytes: 1024}, handler.Echo{})
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	origin := "Origin: https://app.example.com\r\n"
	cases := []struct {
		name    string
		request string
		status  int
		header  [2]string // a response header that must be present
		reason  RejectReason
	}{
		{
			name:    "wrong path",
			request: handshakeRequest("/nope", origin),
			status:  http.StatusNotFound,
			reason:  RejectNotFound,
		},
		{
			name:    "not a GET",
			request: strings.Replace(handshakeRequest("/ws", origin), "GET", "POST", 1),
			status:  http.StatusMethodNotAllowed,
			header:  [2]string{"Allow", "GET"},
			reason:  RejectMethod,
		},
		{
			name:    "plain HTTP request",
			request: "GET /ws HTTP/1.1\r\nHost: localhost\r\n" + origin + "\r\n",
			status:  http.StatusUpgradeRequired,
			header:  [2]string{"Upgrade", "websocket"},
			reason:  RejectNotUpgrade,
		},
		{
			name:    "wrong version",
			request: strings.Replace(handshakeRequest("/ws", origin), "Version: 13", "Version: 8", 1),
			status:  http.StatusUpgradeRequired,
			header:  [2]string{"Sec-WebSocket-Version", "13"},
			reason:  RejectBadVersion,
		},
		{
			name:    "missing key",
			request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + origin + "\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectBadKey,
		},
		{
			name:    "key not base64 of 16 bytes",
			request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" + origin + "\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectBadKey,
		},
		{
			name:    "missing Connection: Upgrade",
			request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" + key + origin + "\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectBadHandshake,
		},
		{
			name:    "missing Host",
			request: "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + key + origin + "\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectBadHandshake,
		},
		{
			name:    "origin not allowed",
			request: handshakeRequest("/ws", "Origin: https://evil.example.com\r\n"),
			status:  http.StatusForbidden,
			reason:  RejectOrigin,
		},
		{
			name:    "missing origin not allowed here",
			request: handshakeRequest("/ws"),
			status:  http.StatusForbidden,
			reason:  RejectOrigin,
		},
		// Header lines that must appear once (a second one is ambiguous:
		// which line would be checked and which believed?).
		{
			name:    "allowed origin, then another",
			request: handshakeRequest("/ws", origin, "Origin: https://evil.example.com\r\n"),
			status:  http.StatusBadRequest,
			reason:  RejectBadHandshake,
		},
		{
			name:    "another origin, then the allowed one",
			request: handshakeRequest("/ws", "Origin: https://evil.example.com\r\n", origin),
			status:  http.StatusBadRequest,
			reason:  RejectBadHandshake,
		},
		{
			name:    "two keys",
			request: handshakeRequest("/ws", origin, key),
			status:  http.StatusBadRequest,
			reason:  RejectBadKey,
		},
		{
			name:    "a key, then an empty one",
			request: handshakeRequest("/ws", origin, "Sec-WebSocket-Key:   \r\n"),
			status:  http.StatusBadRequest,
			reason:  RejectBadKey,
		},
		{
			name:    "an empty key, then a key",
			request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key:\r\n" + key + origin + "\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectBadKey,
		},
		{
			name:    "two versions",
			request: handshakeRequest("/ws", origin, "Sec-WebSocket-Version: 13\r\n"),
			status:  http.StatusBadRequest,
			reason:  RejectBadVersion,
		},
		{
			name:    "two hosts",
			request: handshakeRequest("/ws", origin, "Host: other\r\n"),
			status:  http.StatusBadRequest,
			reason:  RejectMalformed,
		},
		{
			name:    "garbage",
			request: "HELLO\r\n\r\n",
			status:  http.StatusBadRequest,
			reason:  RejectMalformed,
		},
		{
			name:    "HTTP/1.0",
			request: strings.Replace(handshakeRequest("/ws", origin), "HTTP/1.1", "HTTP/1.0", 1),
			status:  http.StatusBadRequest,
			reason:  RejectMalformed,
		},
		{
			name:    "head too large",
			request: handshakeRequest("/ws", origin, "X-Padding: "+strings.Repeat("p", 2000)+"\r\n"),
			status:  http.StatusRequestHeaderFieldsTooLarge,
			reason:  RejectHeaderTooLarge,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().Rejections[tc.reason].Load()
			c := dialRaw(t, addr)
			c.send(tc.request)
			resp, body := c.response()
			if resp.StatusCode != tc.status {
				t.Fatalf(
					"status %d (%s), want %d",
					resp.StatusCode, strings.TrimSpace(body), tc.status,
				)
			}
			if h := tc.header; h[0] != "" && !strings.EqualFold(resp.Header.Get(h[0]), h[1]) {
				t.Fatalf(
					"header %s = %q, want %q",
					h[0], resp.Header.Get(h[0]), h[1],
				)
			}
			if body == "" {
				t.Fatal("rejection without a reason in the body")
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
	if srv.Hub().Count() != 0 {
		t.Fatalf(
			"%d sessions opened by rejected handshakes",
			srv.Hub().Count(),
		)
	}
}

// TestHandshakeOneByteAtATime sends the request head, and a first frame, one
// byte per write: the server must assemble them without blocking a worker.
func TestHandshakeOneByteAtATime(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := dialRaw(t, addr)
	req := handshakeRequest("/ws")
	frame := string(maskedFrame(true, opText, []byte("slow")))
	for i := 0; i < len(req); i++ {
		c.send(req[i : i+1])
		time.Sleep(200 * time.Microsecond)
	}
	resp, _ := c.response()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf(
			"status %d",
			resp.StatusCode,
		)
	}
	for i := 0; i < len(frame); i++ {
		c.send(frame[i : i+1])
	}
	f, err := c.readFrame(5 * time.Second)
	if err != nil || string(f.payload) != "slow" {
		t.Fatalf(
			"echo: %q %v",
			f.payload, err,
		)
	}
}

// TestFramesSentWithTheHandshake sends the first frames in the same write as
// the request head; the upgrade must not swallow them.
func TestFramesSentWithTheHandshake(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := dialRaw(t, addr)
	first := maskedFrame(true, opText, []byte("early"))
	second := maskedFrame(true, opBinary, []byte("bird"))
	c.send(handshakeRequest("/ws") + string(first) + string(second))
	resp, _ := c.response()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf(
			"status %d",
			resp.StatusCode,
		)
	}
	for _, want := range []string{"early", "bird"} {
		f, err := c.readFrame(5 * time.Second)
		if err != nil || string(f.payload) != want {
			t.Fatalf(
				"got %q %v, want %q",
				f.payload, err, want,
			)
		}
	}
}

// TestHandshakeDeadline leaves a request head unfinished: the server closes
// the connection at the handshake deadline, with no timer per connection.
func TestHandshakeDeadline(t *testing.T) {
	srv, addr := startServer(t, Options{HandshakeTimeout: 300 * time.Millisecond}, handler.Echo{})
	c := dialRaw(t, addr)
	c.send("GET /ws HTTP/1.1\r\nHost: localhost\r\n") // and nothing more
	idle := dialRaw(t, addr)                          // sends nothing at all
	start := time.Now()
	c.expectEOF()
	idle.expectEOF()
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf(
			"closed after %v, want about 300ms",
			took,
		)
	}
	if srv.Stats().Rejections[RejectTimeout].Load() != 2 || srv.HandshakesInProgress() != 0 {
		t.Fatalf(
			"timeouts counted %d, handshakes left %d",
			srv.Stats().Rejections[RejectTimeout].Load(), srv.HandshakesInProgress(),
		)
	}
}

func TestRealClientIPOnlyFromTrustedProxies(t *testing.T) {
	got := make(chan string, 1)
	record := recordingHandler(func(ip string) { got <- ip })
	// The client wrote the first X-Forwarded-For line and X-Real-IP; the
	// trusted proxy (the loopback peer) appended the last line: 6.6.6.6 and
	// 7.7.7.7 are forged, 203.0.113.7 is what the proxy saw.
	forged := []string{"X-Forwarded-For: 6.6.6.6, 7.7.7.7\r\n", "X-Real-IP: 7.7.7.7\r\n", "X-Forwarded-For: 203.0.113.7\r\n"}
	for _, tc := range []struct {
		name    string
		trusted []string
		headers []string
		want    string
	}{
		{name: "peer is trusted", trusted: []string{"127.0.0.0/8"}, headers: []string{"X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n", "X-Real-IP: 203.0.113.7\r\n"}, want: "203.0.113.7"},
		{name: "peer is not trusted", trusted: []string{"10.0.0.0/8"}, headers: []string{"X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n", "X-Real-IP: 203.0.113.7\r\n"}, want: "127.0.0.1"},
		{name: "the proxy's line beats the client's", trusted: []string{"127.0.0.0/8"}, headers: forged, want: "203.0.113.7"},
		{name: "trusted hops across lines", trusted: []string{"127.0.0.0/8", "10.0.0.0/8"}, headers: append(forged[:3:3], "x-forwarded-for: 10.1.1.1,10.2.2.2\r\n", "X-FORWARDED-FOR: 10.3.3.3\r\n"), want: "203.0.113.7"},
		{name: "several lines from an untrusted peer", trusted: []string{"10.0.0.0/8"}, headers: forged, want: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxies, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			_, addr := startServer(t, Options{TrustedProxies: proxies}, record)
			c := dialRaw(t, addr)
			c.upgrade("/ws", tc.headers...)
			select {
			case ip := <-got:
				if ip != tc.want {
					t.Fatalf(
						"client IP %s, want %s",
						ip, tc.want,
					)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnOpen not called")
			}
		})
	}
}

// TestHeadSizeLimitIsExact: a request head of exactly MaxHeaderBytes
// (through its empty line) is answered, one byte more gets 431; a frame sent
// along with a head at the limit is not counted as part of the head.
func TestHeadSizeLimitIsExact(t *testing.T) {
	const limit = 1024
	_, addr := startServer(t, Options{MaxHeaderBytes: limit}, handler.Echo{})
	headOf := func(size int) string {
		base := handshakeRequest("/ws", "X-Padding: \r\n")
		pad := size - len(base)
		if pad < 0 {
			t.Fatalf(
				"base head is %d bytes",
				len(base),
			)
		}
		h := handshakeRequest("/ws", "X-Padding: "+strings.Repeat("p", pad)+"\r\n")
		if len(h) != size {
			t.Fatalf(
				"built a %d-byte head, want %d",
				len(h), size,
			)
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		size   int
		frame  bool
		status int
	}{
		{name: "at the limit", size: limit, status: http.StatusSwitchingProtocols},
		{name: "at the limit, a frame along", size: limit, frame: true, status: http.StatusSwitchingProtocols},
		{name: "one byte over", size: limit + 1, status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "one byte over, a frame along", size: limit + 1, frame: true, status: http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			req := headOf(tc.size)
			if tc.frame {
				req += string(maskedFrame(true, opText, []byte("along")))
			}
			c.send(req)
			resp, body := c.response()
			if resp.StatusCode != tc.status {
				t.Fatalf(
					"status %d (%s), want %d",
					resp.StatusCode, strings.TrimSpace(body), tc.status,
				)
			}
			if tc.status == http.StatusSwitchingProtocols && tc.frame {
				if f, err := c.readFrame(5 * time.Second); err != nil || string(f.payload) != "along" {
					t.Fatalf(
						"echo of the frame sent along: %q %v",
						f.payload, err,
					)
				}
			}
		})
	}
}
