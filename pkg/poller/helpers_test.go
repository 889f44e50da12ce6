package poller

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
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

	"github.com/xh-control/gateway/pkg/codec"
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
// well-behaved client library would.
type rawClient struct {
	t      testing.TB
	conn   net.Conn
	br     *bufio.Reader
	parser *codec.Parser
	buf    []byte
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, br: bufio.NewReader(c), parser: codec.NewParser(codec.ParserOptions{Client: true})}
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
}

var clientMask = [4]byte{1, 2, 3, 4}

func (c *rawClient) writeFrame(fin bool, op codec.OpCode, payload []byte) {
	c.t.Helper()
	c.send(string(codec.AppendMaskedFrame(nil, fin, op, clientMask, payload)))
}

type serverFrame struct {
	op      codec.OpCode
	payload []byte
}

func (f serverFrame) closeCode() codec.StatusCode {
	code, _, _ := codec.ParseClose(f.payload)
	return code
}

// readFrame reads the next complete message or control frame.
func (c *rawClient) readFrame(timeout time.Duration) (serverFrame, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var msg []byte
	for {
		for len(c.buf) > 0 {
			n, ch, ok, err := c.parser.Next(c.buf)
			if err != nil {
				return serverFrame{}, fmt.Errorf("server sent an invalid frame: %w", err)
			}
			c.buf = c.buf[n:]
			if !ok {
				continue
			}
			if ch.First {
				msg = msg[:0]
			}
			msg = append(msg, ch.Payload...)
			if ch.Final {
				return serverFrame{op: ch.OpCode, payload: append([]byte(nil), msg...)}, nil
			}
		}
		tmp := make([]byte, 64<<10)
		n, err := c.br.Read(tmp)
		if n > 0 {
			c.buf = append(c.buf, tmp[:n]...)
			continue
		}
		if err != nil {
			return serverFrame{}, err
		}
	}
}

// expectClose reads until a close frame arrives and checks its code, then
// checks that the server closes the TCP connection.
func (c *rawClient) expectClose(want codec.StatusCode) {
	c.t.Helper()
	for {
		f, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf(
				"waiting for close %d: %v",
				want, err,
			)
		}
		if f.op != codec.OpClose {
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
