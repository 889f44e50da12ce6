package poller

import (
	"bufio"
	"compress/flate"

	"github.com/xh-control/gateway/internal/wstest"
)

// The test side's WebSocket framing is internal/wstest, written from RFC
// 6455 section 5.2 and RFC 7692 section 7.2 independently of pkg/codec: the
// gateway's masking, framing and inflating are what the tests check, so
// they must not be the tests' own tools as well. These are its short names
// in this package.

// Opcodes (RFC 6455 section 11.8).
const (
	opContinuation = wstest.OpContinuation
	opText         = wstest.OpText
	opBinary       = wstest.OpBinary
	opClose        = wstest.OpClose
	opPing         = wstest.OpPing
	opPong         = wstest.OpPong

	rsv1Bit = wstest.RSV1 // the RSV1 bit within the three reserved bits
)

// clientMask is the masking key of the raw client's frames: four distinct
// bytes, so that a key applied at the wrong offset shows.
var clientMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// clientFrame encodes one client frame masked with clientMask.
func clientFrame(fin bool, rsv, op byte, payload []byte) []byte {
	return wstest.AppendFrame(nil, fin, rsv, op, clientMask, payload)
}

// maskedFrame is clientFrame without reserved bits.
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	return clientFrame(fin, 0, op, payload)
}

// closePayload is a close frame's body: the code, big-endian, then reason.
func closePayload(code int, reason string) []byte { return wstest.ClosePayload(code, reason) }

type frameHeader = wstest.Header

// readServerFrame reads one frame of up to 64 MiB; server frames must not
// be masked (section 5.1).
func readServerFrame(br *bufio.Reader) (frameHeader, []byte, error) {
	return wstest.ReadFrame(br, 64<<20)
}

// deflated compresses p the way a client does (RFC 7692 section 7.2.1).
func deflated(p []byte) []byte { return wstest.Deflate(p, flate.BestCompression) }

// inflated decompresses a compressed message (RFC 7692 section 7.2.2).
func inflated(p []byte) ([]byte, error) { return wstest.Inflate(p) }

// diff describes the first difference between got and want, briefly.
func diff(got, want []byte) string { return wstest.Diff(got, want) }
