package poller

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/codec"
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
	c.send(string(withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpText, clientMask, []byte("x")))))
	c.expectClose(codec.StatusProtocolError)
}

func withRSV1(f []byte) []byte {
	f[0] |= 0x40
	return f
}

// deflated compresses p the way a client does: sync flush, tail stripped.
func deflated(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func TestDeflateMessages(t *testing.T) {
	_, addr := startServer(t, Options{MaxMessageSize: 1 << 20, Compression: CompressionOptions{Enabled: true, MinSize: 64}}, handler.Echo{})
	open := func(t *testing.T) *rawClient {
		c := dialRaw(t, addr)
		c.upgrade("/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
		c.parser.Reset(codec.ParserOptions{Client: true, Compression: true})
		return c
	}
	t.Run("compressed echo both ways", func(t *testing.T) {
		c := open(t)
		text := strings.Repeat("compressible text κόσμε ", 100)
		c.send(string(withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpText, clientMask, deflated([]byte(text))))))
		f, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codec.NewDecompressor().Append(nil, f.payload, 0)
		if err != nil || string(got) != text || len(f.payload) >= len(text) {
			t.Fatalf(
				"echo: %d compressed bytes, %v",
				len(f.payload), err,
			)
		}
	})
	t.Run("compressed message in fragments", func(t *testing.T) {
		c := open(t)
		z := deflated([]byte(strings.Repeat("fragmented ", 200)))
		c.send(string(withRSV1(codec.AppendMaskedFrame(nil, false, codec.OpText, clientMask, z[:10]))))
		c.writeFrame(true, codec.OpContinuation, z[10:])
		if _, err := c.readFrame(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("small messages are sent plain", func(t *testing.T) {
		c := open(t)
		c.writeFrame(true, codec.OpText, []byte("short"))
		f, err := c.readFrame(5 * time.Second)
		if err != nil || string(f.payload) != "short" {
			t.Fatalf(
				"got %q %v",
				f.payload, err,
			)
		}
	})
	cases := []struct {
		name  string
		frame []byte
		code  codec.StatusCode
	}{
		{name: "deflate bomb", frame: withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpBinary, clientMask, deflated(make([]byte, 50<<20)))), code: 1009},
		{name: "corrupt data", frame: withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpBinary, clientMask, []byte{0xff, 0xff, 0xff, 1})), code: 1007},
		{name: "invalid utf-8 inside", frame: withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpText, clientMask, deflated([]byte("ok \xff")))), code: 1007},
		{name: "rsv1 on continuation", frame: append(codec.AppendMaskedFrame(nil, false, codec.OpText, clientMask, []byte("a")), withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpContinuation, clientMask, []byte("b")))...), code: 1002},
		{name: "rsv1 on ping", frame: withRSV1(codec.AppendMaskedFrame(nil, true, codec.OpPing, clientMask, nil)), code: 1002},
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
