package poller

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/handler"
)

func TestDeflateNegotiation(t *testing.T) {
	_, addr := startServer(t, Options{Compression: CompressionOptions{Enabled: true}}, handler.Echo{})
	const accepted = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"
	cases := []struct {
		offer string
		want  string
	}{
		{offer: "permessage-deflate", want: accepted},
		{offer: "permessage-deflate; client_max_window_bits", want: accepted},
		{offer: "permessage-deflate; client_max_window_bits=10", want: accepted},
		{offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover", want: accepted},
		{offer: "permessage-deflate; server_max_window_bits=15", want: accepted + ";server_max_window_bits=15"},
		{offer: "permessage-deflate; server_max_window_bits=8", want: accepted + ";server_max_window_bits=8"},
		{offer: "permessage-deflate; server_max_window_bits=10; server_no_context_takeover", want: accepted + ";server_max_window_bits=10"},
		{offer: "permessage-deflate; server_max_window_bits=7", want: ""},
		{offer: "permessage-deflate; server_max_window_bits=7, permessage-deflate", want: accepted},
		{offer: "permessage-deflate; server_max_window_bits", want: ""},
		{offer: "permessage-deflate; unknown_param", want: ""},
		{offer: "permessage-deflate; client_no_context_takeover; client_no_context_takeover", want: ""},
		{offer: "x-webkit-deflate-frame", want: ""},
		{offer: "x-webkit-deflate-frame, permessage-deflate", want: accepted},
	}
	for _, tc := range cases {
		t.Run(tc.offer, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(handshakeRequest("/ws", "Sec-WebSocket-Extensions: "+tc.offer+"\r\n"))
			resp, body := c.response()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf(
					"status %d %s",
					resp.StatusCode, body,
				)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
				t.Fatalf(
					"response %q, want %q",
					got, tc.want,
				)
			}
		})
	}
}

// TestDeflateNegotiationOverSeveralLines: offers split over several
// Sec-WebSocket-Extensions lines form one list in line order (RFC 7230
// section 3.2.2), and the first acceptable offer wins.
func TestDeflateNegotiationOverSeveralLines(t *testing.T) {
	_, addr := startServer(t, Options{Compression: CompressionOptions{Enabled: true}}, handler.Echo{})
	const accepted = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"
	cases := []struct {
		lines []string
		want  string
	}{
		{lines: []string{"x-webkit-deflate-frame", "permessage-deflate"}, want: accepted},
		{lines: []string{"permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=10"}, want: accepted + ";server_max_window_bits=9"},
		{lines: []string{"permessage-deflate; server_max_window_bits=7", "permessage-deflate; server_max_window_bits=10"}, want: accepted + ";server_max_window_bits=10"},
		{lines: []string{"foo, permessage-deflate; server_max_window_bits=11", "permessage-deflate"}, want: accepted + ";server_max_window_bits=11"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.lines, " | "), func(t *testing.T) {
			var extra []string
			for _, l := range tc.lines {
				extra = append(extra, "Sec-WebSocket-Extensions: "+l+"\r\n")
			}
			c := dialRaw(t, addr)
			c.send(handshakeRequest("/ws", extra...))
			resp, body := c.response()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf(
					"status %d %s",
					resp.StatusCode, body,
				)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
				t.Fatalf(
					"response %q, want %q",
					got, tc.want,
				)
			}
		})
	}
}

func TestDeflateNotOfferedWhenDisabled(t *testing.T) {
	_, addr := startServer(t, Options{}, handler.Echo{})
	c := dialRaw(t, addr)
	c.send(handshakeRequest("/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n"))
	resp, _ := c.response()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf(
			"compression negotiated although disabled: %q",
			ext,
		)
	}
	c.send(string(clientFrame(true, rsv1Bit, opText, []byte("x"))))
	c.expectClose(1002)
}

// TestDeflateMessages checks compression on the wire: the server's frames
// carry RSV1 and inflate with compress/flate (not the gateway's inflater) to
// the full message; fragmented compressed messages are accepted; the
// inflated size limit is exact; small messages go out plain.
func TestDeflateMessages(t *testing.T) {
	const limit = 64 << 10
	_, addr := startServer(t, Options{MaxMessageSize: limit, Compression: CompressionOptions{Enabled: true, MinSize: 64}}, handler.Echo{})
	open := func(t *testing.T) *rawClient {
		c := dialRaw(t, addr)
		c.upgrade("/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
		if !c.deflate {
			t.Fatal("compression not negotiated")
		}
		return c
	}
	// expectCompressedEcho reads one message and checks it came compressed
	// and inflates to want, in full.
	expectCompressedEcho := func(t *testing.T, c *rawClient, op byte, want []byte) {
		t.Helper()
		f, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.op != op || !f.compressed {
			t.Fatalf(
				"got op %d compressed %v (%d bytes %q), want a compressed op %d",
				f.op, f.compressed, len(f.payload), f.payload[:min(len(f.payload), 40)], op,
			)
		}
		got, err := inflated(f.payload)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf(
				"inflated echo: %v: %s",
				err, diff(got, want),
			)
		}
	}
	t.Run("compressed echo both ways", func(t *testing.T) {
		c := open(t)
		text := []byte(strings.Repeat("compressible text κόσμε ", 100))
		c.send(string(clientFrame(true, rsv1Bit, opText, deflated(text))))
		expectCompressedEcho(t, c, opText, text)
	})
	t.Run("plain message compressed by the server", func(t *testing.T) {
		c := open(t)
		p := bytes.Repeat([]byte("0123456789abcdef"), 300)
		c.writeFrame(true, opBinary, p)
		expectCompressedEcho(t, c, opBinary, p)
	})
	t.Run("compressed message in fragments", func(t *testing.T) {
		c := open(t)
		text := []byte(strings.Repeat("fragmented ", 200))
		z := deflated(text)
		c.send(string(clientFrame(false, rsv1Bit, opText, z[:10])))
		c.writeFrame(false, opContinuation, z[10:20])
		c.writeFrame(true, opContinuation, z[20:])
		expectCompressedEcho(t, c, opText, text)
	})
	t.Run("inflated size exactly at the limit", func(t *testing.T) {
		c := open(t)
		p := bytes.Repeat([]byte("z"), limit)
		c.send(string(clientFrame(true, rsv1Bit, opBinary, deflated(p))))
		expectCompressedEcho(t, c, opBinary, p)
	})
	t.Run("inflated size one byte over the limit", func(t *testing.T) {
		c := open(t)
		c.send(string(clientFrame(true, rsv1Bit, opBinary, deflated(make([]byte, limit+1)))))
		c.expectClose(1009)
	})
	t.Run("small messages are sent plain", func(t *testing.T) {
		c := open(t)
		for _, n := range []int{0, 5, 63} {
			p := bytes.Repeat([]byte("s"), n)
			c.writeFrame(true, opText, p)
			f, err := c.readFrame(5 * time.Second)
			if err != nil || f.compressed || !bytes.Equal(f.payload, p) {
				t.Fatalf(
					"%d bytes: compressed %v, %s, %v",
					n, f.compressed, diff(f.payload, p), err,
				)
			}
		}
		p := bytes.Repeat([]byte("s"), 64) // MinSize: compressed
		c.writeFrame(true, opText, p)
		expectCompressedEcho(t, c, opText, p)
	})
	cases := []struct {
		name  string
		frame []byte
		code  int
	}{
		{name: "deflate bomb", frame: clientFrame(true, rsv1Bit, opBinary, deflated(make([]byte, 50<<20))), code: 1009},
		{name: "corrupt data", frame: clientFrame(true, rsv1Bit, opBinary, []byte{0xff, 0xff, 0xff, 1}), code: 1007},
		{name: "invalid utf-8 inside", frame: clientFrame(true, rsv1Bit, opText, deflated([]byte("ok \xff"))), code: 1007},
		{name: "rsv1 on continuation", frame: append(maskedFrame(false, opText, []byte("a")), clientFrame(true, rsv1Bit, opContinuation, []byte("b"))...), code: 1002},
		{name: "rsv1 on ping", frame: clientFrame(true, rsv1Bit, opPing, nil), code: 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t)
			c.send(string(tc.frame))
			c.expectClose(tc.code)
		})
	}
}

// TestDeflateWithIndependentClient: gorilla/websocket negotiates
// permessage-deflate and exchanges messages of every size.
func TestDeflateWithIndependentClient(t *testing.T) {
	_, addr := startServer(t, Options{Compression: CompressionOptions{Enabled: true}}, handler.Echo{})
	d := websocket.Dialer{EnableCompression: true}
	c, resp, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatal("compression not negotiated")
	}
	c.EnableWriteCompression(true)
	c.SetReadLimit(2 << 20)
	for _, size := range []int{0, 100, 600, 65536, 1 << 20} {
		for _, text := range []bool{true, false} {
			p := testPayload(text, size)
			typ := websocket.BinaryMessage
			if text {
				typ = websocket.TextMessage
			}
			if err := c.WriteMessage(typ, p); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			gotType, got, err := c.ReadMessage()
			if err != nil || gotType != typ || !bytes.Equal(got, p) {
				t.Fatalf(
					"size %d text %v: %v",
					size, text, err,
				)
			}
		}
	}
}
