package codec

import "encoding/binary"

// Bits of the first two header bytes (RFC 6455 section 5.2).
const (
	bitFin  = 0x80
	bitRsv1 = 0x40
	bitRsv2 = 0x20
	bitRsv3 = 0x10
	bitMask = 0x80

	// MaxHeaderSize is the longest frame header: 2 bytes, an 8-byte
	// extended length and a 4-byte masking key.
	MaxHeaderSize = 14
	// MaxServerHeaderSize is the longest header of an unmasked frame.
	MaxServerHeaderSize = 10
	// MaxControlPayload is the largest payload a control frame may carry.
	MaxControlPayload = 125
)

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Rsv1   bool // per-message compressed (RFC 7692) when negotiated
	Rsv2   bool
	Rsv3   bool
	OpCode OpCode
	Masked bool
	Mask   [4]byte
	Length int64
}

// HeaderSize returns the number of bytes the header of an unmasked frame
// with a payload of n bytes occupies.
func HeaderSize(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// AppendHeader appends the header of an unmasked (server) frame to dst.
func AppendHeader(dst []byte, fin, rsv1 bool, op OpCode, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	if rsv1 {
		b0 |= bitRsv1
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
}

// AppendFrame appends a complete, unfragmented, unmasked frame to dst.
func AppendFrame(dst []byte, op OpCode, payload []byte) []byte {
	dst = AppendHeader(dst, true, false, op, len(payload))
	return append(dst, payload...)
}

// AppendMaskedFrame appends a masked frame, as a client sends it, to dst.
// The gateway itself never sends masked frames; tests and the load tool do.
func AppendMaskedFrame(dst []byte, fin bool, op OpCode, mask [4]byte, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, b0, bitMask|byte(n))
	case n <= 0xFFFF:
		dst = binary.BigEndian.AppendUint16(append(dst, b0, bitMask|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, b0, bitMask|127), uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	Unmask(dst[start:], mask, 0)
	return dst
}

// parseHeader decodes a header from p, which must hold at least two bytes.
// It returns the header size, or 0 when p is too short for the whole header.
func parseHeader(p []byte) (h Header, size int) {
	b0, b1 := p[0], p[1]
	h.Fin = b0&bitFin != 0
	h.Rsv1 = b0&bitRsv1 != 0
	h.Rsv2 = b0&bitRsv2 != 0
	h.Rsv3 = b0&bitRsv3 != 0
	h.OpCode = OpCode(b0 & 0x0F)
	h.Masked = b1&bitMask != 0
	size = 2
	switch l := b1 & 0x7F; l {
	case 126:
		size += 2
	case 127:
		size += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		size += 4
	}
	if len(p) < size {
		return h, 0
	}
	switch size - boolInt(h.Masked)*4 {
	case 4:
		h.Length = int64(binary.BigEndian.Uint16(p[2:]))
	case 10:
		h.Length = int64(binary.BigEndian.Uint64(p[2:])) // MSB checked by the caller
	}
	if h.Masked {
		copy(h.Mask[:], p[size-4:size])
	}
	return h, size
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
