package codec

import (
	"encoding/binary"
)

// StatusCode is a close status code (RFC 6455 section 7.4).
type StatusCode uint16

// Status codes of RFC 6455 section 7.4.1 and the IANA registry.
// StatusNoStatusReceived, StatusAbnormalClosure and StatusTLSHandshake are
// reported locally and never sent on the wire.
const (
	StatusNormalClosure      StatusCode = 1000
	StatusGoingAway          StatusCode = 1001
	StatusProtocolError      StatusCode = 1002
	StatusUnsupportedData    StatusCode = 1003
	StatusNoStatusReceived   StatusCode = 1005
	StatusAbnormalClosure    StatusCode = 1006
	StatusInvalidPayload     StatusCode = 1007
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
	StatusTLSHandshake       StatusCode = 1015
	maxReasonLength                     = 123 // 125-byte control payload minus the code
)

// ValidOnWire reports whether c may appear in a close frame: the codes RFC
// 6455 and the IANA registry define for use on the wire, and the ranges
// 3000-3999 (registered) and 4000-4999 (private use).
func (c StatusCode) ValidOnWire() bool {
	switch {
	case c >= 3000 && c <= 4999:
		return true
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	}
	return false
}

// ParseClose validates a complete close frame payload and returns its code
// and reason. An empty payload yields StatusNoStatusReceived. The reason
// aliases p.
func ParseClose(p []byte) (StatusCode, []byte, error) {
	switch len(p) {
	case 0:
		return StatusNoStatusReceived, nil, nil
	case 1:
		return 0, nil, ErrCloseLength
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, nil, ErrCloseCode
	}
	reason := p[2:]
	if !ValidUTF8(reason) {
		return 0, nil, ErrInvalidCloseUTF8
	}
	return code, reason, nil
}

// AppendCloseBody appends the payload of a close frame with code and reason
// to dst. The reason is cut to the 123 bytes a control frame allows, at a
// rune boundary so that it stays valid UTF-8. StatusNoStatusReceived yields
// an empty payload.
func AppendCloseBody(dst []byte, code StatusCode, reason string) []byte {
	if code == StatusNoStatusReceived {
		return dst
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, truncateReason(reason)...)
}

func truncateReason(reason string) string {
	if len(reason) <= maxReasonLength {
		return reason
	}
	cut := maxReasonLength
	for cut > 0 && reason[cut]&0xC0 == 0x80 { // do not split a rune
		cut--
	}
	return reason[:cut]
}
