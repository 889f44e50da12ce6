package poller

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The test side's WebSocket framing, written from RFC 6455 section 5.2 and
// RFC 7692 section 7.2 independently of pkg/codec: the gateway's masking,
// framing and inflating are what the tests check, so they must not be the
// tests' own tools as well.

// Opcodes (RFC 6455 section 11.8).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xA

	rsv1Bit byte = 0x4 // the RSV1 bit within the three reserved bits
)

// clientMask is the masking key of the raw client's frames: four distinct
// bytes, so that a key applied at the wrong offset shows.
var clientMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// clientFrame encodes one masked client frame: FIN, RSV (rsv1Bit etc.),
// opcode, the shortest payload length form, the key, and the payload XORed
// with key[i%4] (section 5.3).
func clientFrame(fin bool, rsv, op byte, payload []byte) []byte {
	b0 := rsv<<4 | op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = binary.BigEndian.AppendUint16(append(out, 0x80|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, 0x80|127), uint64(n))
	}
	out = append(out, clientMask[:]...)
	for i, b := range payload {
		out = append(out, b^clientMask[i%4])
	}
	return out
}

// closePayload is a close frame's body: the code, big-endian, then reason.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

type frameHeader struct {
	fin bool
	rsv byte
	op  byte
}

// readServerFrame reads one frame; server frames must not be masked
// (section 5.1).
func readServerFrame(br *bufio.Reader) (frameHeader, []byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return frameHeader{}, nil, err
	}
	h := frameHeader{fin: hdr[0]&0x80 != 0, rsv: hdr[0] >> 4 & 7, op: hdr[0] & 0xF}
	if hdr[1]&0x80 != 0 {
		return h, nil, errors.New("server sent a masked frame")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return h, nil, fmt.Errorf("server used 16 bits for length %d", n)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
		if n <= 0xFFFF {
			return h, nil, fmt.Errorf("server used 64 bits for length %d", n)
		}
	}
	if n > 64<<20 {
		return h, nil, fmt.Errorf("server announced %d bytes", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h, p, err
}

// deflated compresses p the way a client does (RFC 7692 section 7.2.1):
// a sync flush, then the trailing 00 00 ff ff removed.
func deflated(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflated decompresses a compressed message with compress/flate, appending
// 00 00 ff ff as RFC 7692 section 7.2.2 says (and a final empty stored block
// so the reader ends cleanly).
func inflated(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	return io.ReadAll(r)
}

// diff describes the first difference between got and want, briefly.
func diff(got, want []byte) string {
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

// maskedFrame is clientFrame without reserved bits.
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	return clientFrame(fin, 0, op, payload)
}
