package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

// wsClient is the load tool's WebSocket client: one connection, framed
// with the codec's client-side helpers, reading in large chunks so that a
// subscriber can keep up with a broadcast of a million messages a second.
type wsClient struct {
	conn   net.Conn
	parser *codec.Parser
	buf    []byte // read buffer
	pend   []byte // unparsed bytes in buf
	msg    []byte // a message split across reads
	wbuf   []byte
	mask   [4]byte
}

// dialWS connects from src (a loopback address, so that many connections do
// not exhaust one address's ephemeral ports) and performs the handshake. It
// returns the time the TCP connect and the handshake took together.
func dialWS(addr, path string, src net.IP, timeout time.Duration) (*wsClient, time.Duration, error) {
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	var nonce [16]byte
	rand.Read(nonce[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(nonce[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, 0, err
	}
	c := &wsClient{conn: conn, parser: codec.NewParser(codec.ParserOptions{Client: true}), buf: make([]byte, 16<<10)}
	rand.Read(c.mask[:])
	var head []byte
	for {
		n, err := conn.Read(c.buf)
		if err != nil {
			conn.Close()
			return nil, 0, err
		}
		head = append(head, c.buf[:n]...)
		if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
				conn.Close()
				status := "?"
				if len(head) >= 12 {
					status = string(head[9:12])
				}
				return nil, 0, &httpError{status: status, retryAfter: retryAfter(head[:i])}
			}
			c.pend = append(c.buf[:0], head[i+4:]...) // frames sent right after the 101
			break
		}
		if len(head) > 8192 {
			conn.Close()
			return nil, 0, errors.New("handshake response too long")
		}
	}
	conn.SetDeadline(time.Time{})
	return c, time.Since(start), nil
}

type httpError struct {
	status     string
	retryAfter time.Duration // the response's Retry-After, in whole seconds; 0 if none
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(head []byte) time.Duration {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(name), "Retry-After") {
			if n, err := strconv.Atoi(strings.TrimSpace(string(value))); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

func (e *httpError) Error() string { return "HTTP " + e.status }

// send writes one masked frame.
func (c *wsClient) send(op codec.OpCode, payload []byte) error {
	c.wbuf = codec.AppendMaskedFrame(c.wbuf[:0], true, op, c.mask, payload)
	_, err := c.conn.Write(c.wbuf)
	return err
}

// next returns the next complete data message (answering nothing: the load
// tool does not need pongs, the servers under test do not ping within a
// run). The payload is valid until the next call.
func (c *wsClient) next() (codec.OpCode, []byte, error) {
	for {
		for len(c.pend) > 0 {
			n, ch, ok, err := c.parser.Next(c.pend)
			if err != nil {
				return 0, nil, err
			}
			c.pend = c.pend[n:]
			if !ok {
				continue
			}
			if ch.OpCode == codec.OpClose {
				code, _, _ := codec.ParseClose(ch.Payload)
				return 0, nil, &closeError{code: int(code)}
			}
			if ch.IsControl() {
				continue
			}
			if ch.First && ch.Final {
				return ch.OpCode, ch.Payload, nil
			}
			if ch.First {
				c.msg = c.msg[:0]
			}
			c.msg = append(c.msg, ch.Payload...)
			if ch.Final {
				return ch.OpCode, c.msg, nil
			}
		}
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return 0, nil, err
		}
		c.pend = c.buf[:n]
	}
}

type closeError struct{ code int }

func (e *closeError) Error() string { return "close " + strconv.Itoa(e.code) }

func (c *wsClient) close() { c.conn.Close() }

// errorReason classifies a failure for the report.
func errorReason(err error) string {
	var he *httpError
	var ce *closeError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &he):
		return "http_" + he.status
	case errors.As(err, &ce):
		return "closed_" + strconv.Itoa(ce.code)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_source_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_files"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return fmt.Sprintf("other: %.60s", err.Error())
}

// sourceIP spreads connections over 127.0.0.2 to 127.0.0.(1+sources), at
// most 250 addresses: each has its own range of ephemeral ports.
func sourceIP(i, sources int) net.IP {
	if sources <= 0 {
		return nil
	}
	sources = min(sources, 250)
	return net.IPv4(127, 0, 0, byte(2+i%sources)).To4()
}
