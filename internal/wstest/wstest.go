// Package wstest is the tests' own WebSocket framing, written from RFC 6455
// section 5 and RFC 7692 section 7.2 with the standard library only. It
// imports no package of the gateway: pkg/codec's masking, framing and
// inflating are what the tests check, so they must not be the tests' tools
// as well, or a bug could cancel out on both sides.
package wstest

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcodes (RFC 6455 section 11.8).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// The reserved bits as AppendFrame's rsv and Header.Rsv hold them: the
// three bits after FIN, RSV1 the highest (RFC 6455 section 5.2; RSV1 is
// permessage-deflate's "compressed" bit, RFC 7692 section 6).
const (
	RSV1 byte = 0x4
	RSV2 byte = 0x2
	RSV3 byte = 0x1
)

// AppendFrame appends one masked client frame to dst (RFC 6455 section
// 5.2): FIN, the reserved bits rsv (RSV1|RSV2|RSV3), opcode; the MASK bit
// and the shortest length form (7, 16 or 64 bits); key; the payload XORed
// with key[i%4] (section 5.3).
func AppendFrame(dst []byte, fin bool, rsv, op byte, key [4]byte, payload []byte) []byte {
	b0 := rsv<<4 | op
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = binary.BigEndian.AppendUint16(append(dst, 0x80|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	dst = append(dst, key[:]...)
	for i, b := range payload {
		dst = append(dst, b^key[i%4])
	}
	return dst
}

// RandomKey is a fresh masking key from crypto/rand, as section 5.3 asks of
// a client.
func RandomKey() [4]byte {
	var k [4]byte
	rand.Read(k[:])
	return k
}

// ClosePayload is a close frame's body (section 5.5.1): the code,
// big-endian, then the reason.
func ClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// Header is the first byte of a frame, split (section 5.2).
type Header struct {
	Fin bool
	Rsv byte // the three reserved bits, RSV1 = 4
	Op  byte
}

// ReadFrame reads one server frame. It checks what any client must check of
// the frame's envelope: the frame is unmasked (section 5.1) and its length
// uses the shortest form (section 5.2, "the minimal number of bytes MUST be
// used"); a length over max is refused before anything is allocated. The
// reserved bits and opcode are the caller's to check, since what is allowed
// depends on the negotiated extensions.
func ReadFrame(r io.Reader, max uint64) (Header, []byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Header{}, nil, err
	}
	h := Header{Fin: hdr[0]&0x80 != 0, Rsv: hdr[0] >> 4 & 7, Op: hdr[0] & 0xF}
	if hdr[1]&0x80 != 0 {
		return h, nil, errors.New("server sent a masked frame")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return h, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return h, nil, fmt.Errorf("server used 16 bits for length %d", n)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return h, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
		if n <= 0xFFFF {
			return h, nil, fmt.Errorf("server used 64 bits for length %d", n)
		}
	}
	if n > max {
		return h, nil, fmt.Errorf("server announced %d bytes, more than %d", n, max)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return h, p, err
}

// Deflate compresses one message the way a client with no context takeover
// does (RFC 7692 section 7.2.1): a fresh raw DEFLATE stream at level (a
// compress/flate level), sync-flushed, the trailing 00 00 ff ff removed.
func Deflate(p []byte, level int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, level)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// Inflate decompresses one compressed message with compress/flate: it
// appends the 00 00 ff ff that RFC 7692 section 7.2.2 says to, then a
// final empty stored block, so that a whole message ends the stream cleanly
// and a truncated one is an error.
func Inflate(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	return io.ReadAll(r)
}

// Diff describes the first difference between got and want, briefly;
// "equal" when there is none.
func Diff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return "equal"
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	show := func(p []byte) string {
		if i >= len(p) {
			return "(end)"
		}
		return fmt.Sprintf("%q", p[i:min(i+16, len(p))])
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d: got %s, want %s", len(got), len(want), i, show(got), show(want))
}
