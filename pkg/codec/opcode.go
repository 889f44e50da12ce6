package codec

// OpCode is the 4-bit frame type of RFC 6455 section 5.2.
type OpCode byte

// Opcodes defined by RFC 6455. Values 0x3-0x7 and 0xB-0xF are reserved.
const (
	OpContinuation OpCode = 0x0
	OpText         OpCode = 0x1
	OpBinary       OpCode = 0x2
	OpClose        OpCode = 0x8
	OpPing         OpCode = 0x9
	OpPong         OpCode = 0xA
)

// IsControl reports whether c is a control opcode (close, ping, pong or a
// reserved control opcode).
func (c OpCode) IsControl() bool { return c&0x8 != 0 }

// IsData reports whether c starts a data message (text or binary).
func (c OpCode) IsData() bool { return c == OpText || c == OpBinary }

// IsReserved reports whether c is one of the opcodes RFC 6455 keeps for
// future use; receiving one fails the connection.
func (c OpCode) IsReserved() bool { return (c > OpBinary && c < OpClose) || c > OpPong }

// String returns the lower-case name of c, as used in logs and metric labels.
func (c OpCode) String() string {
	switch c {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "reserved"
}
