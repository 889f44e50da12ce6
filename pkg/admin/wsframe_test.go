package admin

import (
	"bufio"
	"errors"

	"github.com/xh-control/gateway/internal/wstest"
)

// The test client's framing is internal/wstest, written from RFC 6455
// section 5.2 independently of pkg/codec (which is what the server uses).

// maskedFrame encodes one final, masked client frame (section 5.3).
func maskedFrame(op byte, payload []byte) []byte {
	return wstest.AppendFrame(nil, true, 0, op, [4]byte{0x37, 0xfa, 0x21, 0x3d}, payload)
}

// readServerFrame reads one unmasked server frame of up to 16 MiB; the
// admin endpoint negotiates no extension, so no reserved bit may be set.
func readServerFrame(br *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	h, payload, err := wstest.ReadFrame(br, 16<<20)
	if err != nil {
		return false, 0, nil, err
	}
	if h.Rsv != 0 {
		return false, 0, nil, errors.New("server set reserved bits")
	}
	return h.Fin, h.Op, payload, nil
}
