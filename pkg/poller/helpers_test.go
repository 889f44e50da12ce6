package poller

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/xh-control/gateway/pkg/session"
)

// startServer serves handler on a fresh loopback port and shuts the server
// down when the test ends.
func startServer(t testing.TB, opts Options, handler session.Handler) (*Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	srv := New(opts, handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-errc; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf(
				"Serve: %v",
				err,
			)
		}
	})
	waitUntil(t, "server ready", srv.Ready)
	return srv, ln.Addr().String()
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(
				"timed out waiting for %s",
				what,
			)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawClient speaks WebSocket byte by byte, so that tests can send what no
// well-behaved client library would. Its framing and masking are written
// from RFC 6455 in wsframe_test.go, not taken from pkg/codec, so that a bug
// in the gateway's codec cannot cancel out on the test's side.
type rawClient struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	deflate bool // permessage-deflate negotiated: RSV1 allowed on server frames
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, br: bufio.NewReader(c)}
}

func newKey() string {
	var k [16]byte
	rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

func handshakeRequest(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + newKey() + "\r\nSec-WebSocket-Version: 13\r\n" + strings.Join(extra, "") + "\r\n"
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// response reads an HTTP response head and body.
func (c *rawClient) response() (*http.Response, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf(
			"reading response: %v",
			err,
		)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// upgrade performs a valid handshake.
func (c *rawClient) upgrade(path string, extra ...string) {
	c.t.Helper()
	c.send(handshakeRequest(path, extra...))
	resp, body := c.response()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.t.Fatalf(
			"handshake: %s %s",
			resp.Status, body,
		)
	}
	c.deflate = strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

func (c *rawClient) writeFrame(fin bool, op byte, payload []byte) {
	c.t.Helper()
	c.send(string(clientFrame(fin, 0, op, payload)))
}

// serverFrame is one whole message (fragments joined) or control frame.
type serverFrame struct {
	op         byte
	payload    []byte // as sent: still compressed when compressed is set
	compressed bool   // RSV1 on the first frame (RFC 7692 section 6)
	frames     int    // how many frames carried it
}

// closeCode is the close frame's status code (RFC 6455 section 5.5.1), or
// 1005 when it has none.
func (f serverFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// readFrame reads the next complete message or control frame, checking what
// a client must check of the server's frames.
func (c *rawClient) readFrame(timeout time.Duration) (serverFrame, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var msg serverFrame
	inMessage := false
	for {
		h, payload, err := readServerFrame(c.br)
		if err != nil {
			return serverFrame{}, err
		}
		if h.Rsv&^rsv1Bit != 0 || (h.Rsv != 0 && !c.deflate) {
			return serverFrame{}, fmt.Errorf("server set reserved bits %03b", h.Rsv)
		}
		switch {
		case h.Op >= 0x8:
			if !h.Fin || len(payload) > 125 || h.Rsv != 0 {
				return serverFrame{}, fmt.Errorf("server sent an invalid control frame %+v", h)
			}
			return serverFrame{op: h.Op, payload: payload, frames: 1}, nil
		case h.Op == opContinuation:
			if !inMessage || h.Rsv != 0 {
				return serverFrame{}, fmt.Errorf("server sent a bad continuation %+v", h)
			}
		case h.Op == opText || h.Op == opBinary:
			if inMessage {
				return serverFrame{}, errors.New("server interleaved two messages")
			}
			inMessage = true
			msg.op, msg.compressed = h.Op, h.Rsv == rsv1Bit
		default:
			return serverFrame{}, fmt.Errorf("server sent reserved opcode %d", h.Op)
		}
		msg.payload = append(msg.payload, payload...)
		msg.frames++
		if h.Fin {
			if msg.payload == nil {
				msg.payload = []byte{}
			}
			return msg, nil
		}
	}
}

// expectClose reads until a close frame arrives and checks its code, then
// checks that the server closes the TCP connection.
func (c *rawClient) expectClose(want int) {
	c.t.Helper()
	for {
		f, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf(
				"waiting for close %d: %v",
				want, err,
			)
		}
		if f.op != opClose {
			continue
		}
		if got := f.closeCode(); got != want {
			c.t.Fatalf(
				"close code %d (%q), want %d",
				got, f.payload, want,
			)
		}
		break
	}
	c.expectEOF()
}

// expectEOF checks that the server ends the connection (FIN or reset).
func (c *rawClient) expectEOF() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := c.br.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("server did not close the connection")
		}
		return
	}
}
