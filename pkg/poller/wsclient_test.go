package poller

import (
	"bufio"
	"compress/flate"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/wstest"
)

// This file is a WebSocket client on internal/wstest, which is written from
// RFC 6455 and RFC 7692 independently of pkg/codec, so that the tests of
// the gateway's read and write path do not share the code they test.

// wsFrame appends a masked client frame (RFC 6455 section 5.2), RSV1 set
// when rsv1 is.
func wsFrame(dst []byte, fin, rsv1 bool, op byte, key [4]byte, payload []byte) []byte {
	var rsv byte
	if rsv1 {
		rsv = wstest.RSV1
	}
	return wstest.AppendFrame(dst, fin, rsv, op, key, payload)
}

// wsDeflate compresses one message for permessage-deflate with no context
// takeover (RFC 7692 section 7.2.1).
func wsDeflate(p []byte) []byte { return wstest.Deflate(p, flate.BestSpeed) }

// wsMessage is what the server sent: a whole data message (reassembled and
// inflated) or a control frame.
type wsMessage struct {
	op      byte
	payload []byte
}

// wsConn is an upgraded client connection.
type wsConn struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	deflate bool
}

// wsDial connects and upgrades; deflate offers permessage-deflate, which
// the server must accept.
func wsDial(t testing.TB, addr string, deflate bool) *wsConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + newKey() + "\r\nSec-WebSocket-Version: 13\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	if got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate"); got != deflate {
		t.Fatalf("permessage-deflate accepted: %v, want %v", got, deflate)
	}
	c.SetDeadline(time.Time{})
	return &wsConn{t: t, conn: c, br: br, deflate: deflate}
}

// next reads the next data message or control frame.
func (c *wsConn) next() (wsMessage, error) {
	var msg []byte
	var msgOp byte
	var compressed bool
	for {
		h, payload, err := wstest.ReadFrame(c.br, 64<<20)
		if err != nil {
			return wsMessage{}, err
		}
		fin, rsv1, op := h.Fin, h.Rsv&wstest.RSV1 != 0, h.Op
		if op >= opClose {
			return wsMessage{op: op, payload: payload}, nil
		}
		if op != opContinuation {
			msgOp, compressed, msg = op, rsv1, msg[:0]
		}
		msg = append(msg, payload...)
		if !fin {
			continue
		}
		if compressed {
			if !c.deflate {
				return wsMessage{}, errors.New("RSV1 without permessage-deflate")
			}
			out, err := wstest.Inflate(msg)
			if err != nil {
				return wsMessage{}, err
			}
			msg = out
		}
		return wsMessage{op: msgOp, payload: append([]byte(nil), msg...)}, nil
	}
}
