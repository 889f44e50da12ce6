package conformance

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
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
	"unicode/utf8"

	"github.com/xh-control/gateway/internal/wstest"
)

// peer is a WebSocket client written from RFC 6455 for this suite.
type peer struct {
	t       *testing.T
	conn    net.Conn
	br      *bufio.Reader
	deflate bool   // permessage-deflate negotiated
	ext     string // the server's Sec-WebSocket-Extensions
}

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dial opens a connection and performs the opening handshake, checking the
// server's answer as RFC 6455 section 4.1 requires of a client.
func dial(t *testing.T, addr string, headers ...string) *peer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" + strings.Join(headers, "") + "\r\n"
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf(
			"handshake: %v",
			err,
		)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		t.Fatalf(
			"handshake: status %s",
			resp.Status,
		)
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		t.Fatalf(
			"handshake: Upgrade %q",
			resp.Header.Get("Upgrade"),
		)
	case !strings.EqualFold(resp.Header.Get("Connection"), "upgrade"):
		t.Fatalf(
			"handshake: Connection %q",
			resp.Header.Get("Connection"),
		)
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		t.Fatalf(
			"handshake: wrong Sec-WebSocket-Accept %q",
			resp.Header.Get("Sec-WebSocket-Accept"),
		)
	}
	conn.SetDeadline(time.Time{})
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	return &peer{t: t, conn: conn, br: br, ext: ext, deflate: strings.Contains(ext, "permessage-deflate")}
}

// Opcodes and reserved bits, from internal/wstest: spelled out from RFC
// 6455 independently of the gateway.
const (
	opCont   = wstest.OpContinuation
	opText   = wstest.OpText
	opBinary = wstest.OpBinary
	opClose  = wstest.OpClose
	opPing   = wstest.OpPing
	opPong   = wstest.OpPong

	rsv1 = wstest.RSV1
	rsv2 = wstest.RSV2
	rsv3 = wstest.RSV3
)

// frame encodes one client frame with a fresh random mask. rsv holds the
// three reserved bits (rsv1 = 4, rsv2 = 2, rsv3 = 1).
func frame(fin bool, rsv, op byte, payload []byte) []byte {
	return wstest.AppendFrame(nil, fin, rsv, op, wstest.RandomKey(), payload)
}

func closeBody(code int, reason string) []byte { return wstest.ClosePayload(code, reason) }

func (p *peer) send(b ...[]byte) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.conn.Write(bytes.Join(b, nil)); err != nil {
		p.t.Fatalf(
			"send: %v",
			err,
		)
	}
}

// sendChopped writes b in pieces of chop bytes, pausing between them.
func (p *peer) sendChopped(b []byte, chop int, pause time.Duration) {
	p.t.Helper()
	for len(b) > 0 {
		n := min(chop, len(b))
		p.send(b[:n])
		b = b[n:]
		if pause > 0 && len(b) > 0 {
			time.Sleep(pause)
		}
	}
}

// message encodes a data message in frames of at most fragment bytes (0:
// one frame), compressed when compress is set.
func (p *peer) message(op byte, payload []byte, fragment int, compress bool) []byte {
	rsv := byte(0)
	if compress {
		payload, rsv = deflate(payload), rsv1
	}
	if fragment <= 0 || fragment >= len(payload) {
		return frame(true, rsv, op, payload)
	}
	var out []byte
	for first := true; len(payload) > 0; first = false {
		n := min(fragment, len(payload))
		fop, frsv := byte(opCont), byte(0)
		if first {
			fop, frsv = op, rsv
		}
		out = append(out, frame(n == len(payload), frsv, fop, payload[:n])...)
		payload = payload[n:]
	}
	return out
}

// deflate compresses a message as RFC 7692 section 7.2.1 says. No context
// takeover: every message starts afresh, as the gateway demands.
func deflate(p []byte) []byte { return wstest.Deflate(p, flate.DefaultCompression) }

func inflate(p []byte) ([]byte, error) { return wstest.Inflate(p) }

// rawFrame is one frame from the server.
type rawFrame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// readFrame reads one server frame, checking what a client must check:
// server frames are unmasked and use only RSV1, and only when compression
// was negotiated.
func (p *peer) readFrame(timeout time.Duration) (rawFrame, error) {
	p.conn.SetReadDeadline(time.Now().Add(timeout))
	h, payload, err := wstest.ReadFrame(p.br, 64<<20)
	f := rawFrame{fin: h.Fin, rsv: h.Rsv, op: h.Op, payload: payload}
	if err != nil {
		return f, err
	}
	if f.rsv&^rsv1 != 0 || (f.rsv == rsv1 && !p.deflate) {
		return f, fmt.Errorf("server set reserved bits %03b", f.rsv)
	}
	return f, nil
}

// event is what the application of a client sees: a whole message, a
// control frame, or the end of the connection.
type event struct {
	kind    string // "message", "ping", "pong", "close", "eof"
	op      byte
	payload []byte
	code    int // close code; 1005 for a close without one
	// compressed: the message came with RSV1 set (RFC 7692 section 6);
	// payload is what compress/flate inflated.
	compressed bool
}

func (e event) String() string {
	p := e.payload
	if len(p) > 40 {
		p = append(p[:40:40], "..."...)
	}
	return fmt.Sprintf("%s(op %d, %d bytes %q, code %d, compressed %v)", e.kind, e.op, len(e.payload), p, e.code, e.compressed)
}

// next reads the next event, assembling fragmented messages and inflating
// compressed ones.
func (p *peer) next(timeout time.Duration) (event, error) {
	var msg []byte
	var msgOp byte
	compressed, inMessage := false, false
	for {
		f, err := p.readFrame(timeout)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
				return event{kind: "eof"}, nil
			}
			return event{}, err
		}
		switch {
		case f.op >= opClose:
			if !f.fin || len(f.payload) > 125 {
				return event{}, errors.New("server sent an invalid control frame")
			}
			switch f.op {
			case opPing:
				return event{kind: "ping", op: f.op, payload: f.payload}, nil
			case opPong:
				return event{kind: "pong", op: f.op, payload: f.payload}, nil
			case opClose:
				code := 1005
				if len(f.payload) >= 2 {
					code = int(binary.BigEndian.Uint16(f.payload))
				}
				if len(f.payload) == 1 {
					return event{}, errors.New("server sent a 1-byte close payload")
				}
				return event{kind: "close", op: f.op, payload: f.payload, code: code}, nil
			}
			return event{}, fmt.Errorf("server sent reserved opcode %d", f.op)
		case f.op == opCont:
			if !inMessage {
				return event{}, errors.New("server sent a continuation without a message")
			}
			if f.rsv != 0 {
				return event{}, errors.New("server set RSV1 on a continuation frame")
			}
		case f.op == opText || f.op == opBinary:
			if inMessage {
				return event{}, errors.New("server interleaved two data messages")
			}
			inMessage, msgOp, compressed = true, f.op, f.rsv == rsv1
		default:
			return event{}, fmt.Errorf("server sent reserved opcode %d", f.op)
		}
		msg = append(msg, f.payload...)
		if !f.fin {
			continue
		}
		if compressed {
			if msg, err = inflate(msg); err != nil {
				return event{}, fmt.Errorf("server sent undecodable compressed data: %w", err)
			}
		}
		if msgOp == opText && !utf8.Valid(msg) {
			return event{}, errors.New("server sent invalid UTF-8 in a text message")
		}
		return event{kind: "message", op: msgOp, payload: msg, compressed: compressed}, nil
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func (p *peer) mustNext(timeout time.Duration) event {
	p.t.Helper()
	e, err := p.next(timeout)
	if err != nil {
		p.t.Fatalf(
			"protocol violation by the server: %v",
			err,
		)
	}
	return e
}

// expectMessage checks that the next event is a data message equal to the
// one given (the echo), every byte of it.
func (p *peer) expectMessage(op byte, payload []byte) {
	p.t.Helper()
	e := p.mustNext(10 * time.Second)
	if e.kind != "message" || e.op != op || !bytes.Equal(e.payload, payload) {
		p.t.Fatalf(
			"got %v, want message(op %d, %d bytes): %s",
			e, op, len(payload), diff(e.payload, payload),
		)
	}
}

// compressAtLeast is the size from which the compressing gateway must send
// the test's text payloads (JSON, with many repeats) compressed. The gateway
// sends a message plain when compressing would not make it smaller, which at
// flate level 1 (matches only) is the case for the binary payloads, noise
// without repeats.
const compressAtLeast = 1024

// expectCompressed is expectMessage for the compressing gateway: text
// payloads of compressAtLeast bytes or more must come with RSV1 set, and
// every payload, inflated by compress/flate where compressed, must equal
// the one given.
func (p *peer) expectCompressed(op byte, payload []byte) {
	p.t.Helper()
	e := p.mustNext(10 * time.Second)
	mustCompress := op == opText && len(payload) >= compressAtLeast
	if e.kind != "message" || e.op != op || (mustCompress && !e.compressed) || !bytes.Equal(e.payload, payload) {
		p.t.Fatalf(
			"got %v, want compressed message(op %d, %d bytes): %s",
			e, op, len(payload), diff(e.payload, payload),
		)
	}
}

// diff describes the first difference between got and want, briefly.
func diff(got, want []byte) string { return wstest.Diff(got, want) }

func (p *peer) expectPong(payload []byte) {
	p.t.Helper()
	e := p.mustNext(5 * time.Second)
	if e.kind != "pong" || !bytes.Equal(e.payload, payload) {
		p.t.Fatalf(
			"got %v, want pong %q",
			e, payload,
		)
	}
}

// expectSilence checks that nothing arrives for d.
func (p *peer) expectSilence(d time.Duration) {
	p.t.Helper()
	e, err := p.next(d)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	p.t.Fatalf(
		"expected nothing, got %v %v",
		e, err,
	)
}

// expectFail checks that the server fails the connection: a close frame
// with one of codes, then the end of the TCP connection. The peer answers
// the close frame as a client should.
func (p *peer) expectFail(codes ...int) {
	p.t.Helper()
	for {
		e := p.mustNext(5 * time.Second)
		switch e.kind {
		case "message", "pong":
			continue // sent before the failure
		case "eof":
			p.t.Fatalf(
				"connection dropped without a close frame; want close %v",
				codes,
			)
		case "close":
			if !contains(codes, e.code) {
				p.t.Fatalf(
					"close code %d (%q), want one of %v",
					e.code, e.payload, codes,
				)
			}
			p.send(frame(true, 0, opClose, e.payload[:min(2, len(e.payload))]))
			p.expectEOF()
			return
		}
	}
}

// closeNormally performs the closing handshake from the client side: close
// with code, expect the same code back (or none for 1005), and that the
// server then closes the TCP connection (it should close first).
func (p *peer) closeNormally(code int) {
	p.t.Helper()
	body := []byte(nil)
	if code != 1005 {
		body = closeBody(code, "")
	}
	p.send(frame(true, 0, opClose, body))
	p.expectClose(code)
}

// expectClose reads until the server's close frame, checks its code, and
// that the server ends the TCP connection.
func (p *peer) expectClose(codes ...int) {
	p.t.Helper()
	for {
		e := p.mustNext(5 * time.Second)
		if e.kind == "message" || e.kind == "pong" {
			continue
		}
		if e.kind != "close" || !contains(codes, e.code) {
			p.t.Fatalf(
				"got %v, want close %v",
				e, codes,
			)
		}
		p.expectEOF()
		return
	}
}

// expectEOF checks that the server closes the TCP connection promptly.
func (p *peer) expectEOF() {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := p.br.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			p.t.Fatal("the server did not close the TCP connection")
		}
		return
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func repeat(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }

func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
