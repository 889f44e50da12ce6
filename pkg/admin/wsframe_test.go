package admin

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// The test client's framing, from RFC 6455 section 5.2, independent of
// pkg/codec (which is what the server uses).

// maskedFrame encodes one final, masked client frame (section 5.3).
func maskedFrame(op byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = binary.BigEndian.AppendUint16(append(out, 0x80|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, 0x80|127), uint64(n))
	}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(br *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return false, 0, nil, err
	}
	if hdr[1]&0x80 != 0 {
		return false, 0, nil, errors.New("server sent a masked frame")
	}
	if hdr[0]&0x70 != 0 {
		return false, 0, nil, errors.New("server set reserved bits")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return false, 0, nil, errors.New("frame too large for a test")
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return hdr[0]&0x80 != 0, hdr[0] & 0x0F, payload, err
}
