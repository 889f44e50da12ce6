package poller

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// This file is a WebSocket client written from RFC 6455 and RFC 7692 in a
// few lines, independent of pkg/codec, so that the tests of the gateway's
// read and write path do not share the code they test.

// Opcodes, RFC 6455 section 5.2.
const (
	wsCont   = 0x0
	wsText   = 0x1
	wsBinary = 0x2
	wsClose  = 0x8
	wsPing   = 0x9
	wsPong   = 0xA
)

// wsFrame appends a masked client frame (RFC 6455 section 5.2: FIN, RSV1,
// opcode; MASK bit and 7/16/64-bit length; masking key; masked payload).
func wsFrame(dst []byte, fin, rsv1 bool, op byte, key [4]byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// wsDeflate compresses one message for permessage-deflate with no context
// takeover: a raw DEFLATE stream, flushed, without its trailing
// 00 00 FF FF (RFC 7692 section 7.2.1).
func wsDeflate(p []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// wsInflate reverses wsDeflate (RFC 7692 section 7.2.2).
func wsInflate(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the stream is flushed, not finished
	}
	return out, err
}

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
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return wsMessage{}, err
		}
		fin, rsv1, op := h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0F
		if h[1]&0x80 != 0 {
			return wsMessage{}, errors.New("server frame is masked")
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(c.br, l[:]); err != nil {
				return wsMessage{}, err
			}
			n = uint64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(c.br, l[:]); err != nil {
				return wsMessage{}, err
			}
			n = binary.BigEndian.Uint64(l[:])
		}
		if n > 64<<20 {
			return wsMessage{}, fmt.Errorf("frame of %d bytes", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return wsMessage{}, err
		}
		if op >= wsClose {
			return wsMessage{op: op, payload: payload}, nil
		}
		if op != wsCont {
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
			out, err := wsInflate(msg)
			if err != nil {
				return wsMessage{}, err
			}
			msg = out
		}
		return wsMessage{op: msgOp, payload: append([]byte(nil), msg...)}, nil
	}
}
