package codec

// ProtocolError is a violation of RFC 6455 by the peer. Code is the status
// code the connection must be closed with; Reason is the close reason sent to
// the peer and logged. Both fit a control frame (Reason is at most 123 bytes).
type ProtocolError struct {
	Code   StatusCode
	Reason string
}

func (e *ProtocolError) Error() string { return "websocket: " + e.Reason }

func protocolError(reason string) *ProtocolError {
	return &ProtocolError{Code: StatusProtocolError, Reason: reason}
}

// Errors returned by Parser.Next and ParseClose. They are values, so callers
// may compare them with ==, and each names the rule that was broken.
var (
	ErrReservedBits          = protocolError("reserved bits set without a negotiated extension")
	ErrCompressedControl     = protocolError("control frames must not be compressed")
	ErrCompressedContinue    = protocolError("RSV1 is only allowed on the first frame of a message")
	ErrReservedOpCode        = protocolError("reserved opcode")
	ErrControlTooLong        = protocolError("control frame payload longer than 125 bytes")
	ErrControlFragmented     = protocolError("control frames must not be fragmented")
	ErrUnmasked              = protocolError("client frames must be masked")
	ErrMasked                = protocolError("server frames must not be masked")
	ErrLengthMSB             = protocolError("the most significant bit of a 64-bit length must be 0")
	ErrUnexpectedContinue    = protocolError("continuation frame without a message in progress")
	ErrExpectedContinue      = protocolError("new data frame while a fragmented message is in progress")
	ErrCloseLength           = protocolError("close payload of 1 byte")
	ErrCloseCode             = protocolError("close code not allowed on the wire")
	ErrInvalidUTF8           = &ProtocolError{Code: StatusInvalidPayload, Reason: "invalid UTF-8 in text message"}
	ErrInvalidCloseUTF8      = &ProtocolError{Code: StatusInvalidPayload, Reason: "invalid UTF-8 in close reason"}
	ErrMessageTooBig         = &ProtocolError{Code: StatusMessageTooBig, Reason: "message too big"}
	ErrInvalidCompressedData = &ProtocolError{Code: StatusInvalidPayload, Reason: "invalid compressed data"}
)
