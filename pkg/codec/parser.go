package codec

// ParserOptions configure a Parser. The zero value parses server-side frames
// (masking required) with no message size limit and no extension.
type ParserOptions struct {
	// MaxMessageSize limits the payload of one message, summed over its
	// fragments; a larger message fails with ErrMessageTooBig (1009) as soon as
	// a frame header announces it, before any of its payload is buffered.
	// Zero means no limit. For compressed messages this bounds the bytes on
	// the wire; the inflated size must be bounded by the decompressor.
	MaxMessageSize int64
	// Compression allows RSV1 on the first frame of a data message: set it
	// when permessage-deflate (RFC 7692) was negotiated.
	Compression bool
	// Client parses frames sent by a server: they must not be masked.
	Client bool
}

// Chunk is a piece of payload produced by Parser.Next.
type Chunk struct {
	// OpCode is the message type: OpText or OpBinary for data, also for the
	// payload of continuation frames, or the opcode of a control frame.
	OpCode OpCode
	// Payload is unmasked and aliases the bytes passed to Next.
	Payload []byte
	// First marks the first chunk of a data message or of a control frame.
	First bool
	// Final marks the last chunk of a data message or of a control frame.
	// A chunk with First and Final set is a whole message (or control frame).
	Final bool
	// Compressed reports that the data message carries RSV1: its payload
	// must be inflated (and only then checked for UTF-8).
	Compressed bool
}

// IsControl reports whether the chunk belongs to a control frame.
func (c *Chunk) IsControl() bool { return c.OpCode.IsControl() }

type parserState uint8

const (
	stateHeader parserState = iota
	statePayload
	stateFailed
)

// Parser decodes a stream of WebSocket frames that may be split anywhere. It
// checks every RFC 6455 rule that can be checked without the application:
// masking, reserved bits and opcodes, control frame limits, the
// fragmentation sequence, the message size limit and, for uncompressed text,
// UTF-8, which is checked as bytes arrive so that a bad message fails before
// its end. Close frame payloads are checked by ParseClose once complete.
//
// A Parser holds about 64 bytes of state and no buffers. It is not safe for
// concurrent use.
type Parser struct {
	opts      ParserOptions
	err       error
	state     parserState
	hdrLen    uint8
	hdr       [MaxHeaderSize]byte // a header split across calls
	frame     Header
	remaining int64 // payload bytes of the current frame not yet returned
	maskPos   int   // position in the masking key for the next byte
	first     bool  // next chunk of the current frame is its first

	msgOp         OpCode // data message in progress, or 0
	msgFirst      bool   // no chunk of the message returned yet
	msgSize       int64
	msgCompressed bool
	utf8          UTF8Validator
}

// NewParser returns a Parser with the given options.
func NewParser(opts ParserOptions) *Parser {
	p := &Parser{}
	p.Reset(opts)
	return p
}

// Reset discards all state and applies opts, so that a Parser can be reused
// for a new connection.
func (p *Parser) Reset(opts ParserOptions) {
	*p = Parser{opts: opts}
}

// Err returns the error that stopped the parser, if any.
func (p *Parser) Err() error { return p.err }

// Idle reports whether the parser sits between frames with no fragmented
// message in progress and no error: its state is then the zero state, and a
// caller may drop it (back to a pool) and start a fresh one later.
func (p *Parser) Idle() bool {
	return p.state == stateHeader && p.hdrLen == 0 && p.msgOp == 0
}

// Next consumes bytes from b and returns how many it consumed. When ok is
// true, c holds the next chunk of payload; its Payload aliases b and has been
// unmasked in place. When ok is false and err is nil, all of b was consumed
// and more bytes are needed. Callers loop until b is used up:
//
//	for len(b) > 0 {
//		n, c, ok, err := p.Next(b)
//		if err != nil { ... fail the connection with err's code ... }
//		b = b[n:]
//		if ok { ... handle c ... }
//	}
//
// Frames with an empty payload produce an empty chunk, so that every frame
// that completes a message or a control frame yields a Final chunk. After an
// error the parser returns the same error forever.
func (p *Parser) Next(b []byte) (n int, c Chunk, ok bool, err error) {
	switch p.state {
	case stateFailed:
		return 0, c, false, p.err
	case stateHeader:
		var done bool
		if n, done = p.readHeader(b); !done {
			return n, c, false, nil
		}
		if err = p.checkHeader(); err != nil {
			return n, c, false, p.fail(err)
		}
		p.state, p.first, p.maskPos = statePayload, true, 0
		p.remaining = p.frame.Length
	}
	rest := b[n:]
	if len(rest) == 0 && p.remaining > 0 {
		return n, c, false, nil // no payload bytes yet: no empty chunk
	}
	c, err = p.payload(rest)
	if err != nil {
		return n, Chunk{}, false, err
	}
	return n + len(c.Payload), c, true, nil
}

func (p *Parser) fail(err error) error {
	p.state, p.err = stateFailed, err
	return err
}

// readHeader collects header bytes from b, buffering a header that is split
// across calls. It reports how many bytes it consumed and whether the header
// is complete.
func (p *Parser) readHeader(b []byte) (int, bool) {
	if p.hdrLen == 0 && len(b) >= MaxHeaderSize { // fast path: whole header in b
		h, size := parseHeader(b)
		p.frame = h
		return size, true
	}
	n := copy(p.hdr[p.hdrLen:], b)
	have := int(p.hdrLen) + n
	if have < 2 {
		p.hdrLen = uint8(have)
		return n, false
	}
	h, size := parseHeader(p.hdr[:have])
	if size == 0 {
		p.hdrLen = uint8(have)
		return n, false
	}
	used := size - int(p.hdrLen) // bytes of b that belong to the header
	p.hdrLen = 0
	p.frame = h
	return used, true
}

// checkHeader applies the rules of RFC 6455 section 5 (and 7692 for RSV1)
// to the header just read and updates the message state.
func (p *Parser) checkHeader() error {
	h := &p.frame
	if h.Masked == p.opts.Client {
		if p.opts.Client {
			return ErrMasked
		}
		return ErrUnmasked
	}
	if h.Rsv2 || h.Rsv3 { // no extension this parser knows defines them
		return ErrReservedBits
	}
	if h.Length < 0 {
		return ErrLengthMSB
	}
	op := h.OpCode
	if op.IsReserved() {
		return ErrReservedOpCode
	}
	if op.IsControl() {
		switch {
		case !h.Fin:
			return ErrControlFragmented
		case h.Length > MaxControlPayload:
			return ErrControlTooLong
		case h.Rsv1:
			return ErrCompressedControl
		}
		return nil
	}
	if op == OpContinuation {
		if p.msgOp == 0 {
			return ErrUnexpectedContinue
		}
		if h.Rsv1 {
			return ErrCompressedContinue
		}
	} else {
		if p.msgOp != 0 {
			return ErrExpectedContinue
		}
		if h.Rsv1 && !p.opts.Compression {
			return ErrReservedBits
		}
		p.msgOp, p.msgFirst, p.msgSize, p.msgCompressed = op, true, 0, h.Rsv1
		p.utf8.Reset()
	}
	if max := p.opts.MaxMessageSize; max > 0 && h.Length > max-p.msgSize {
		return ErrMessageTooBig
	}
	p.msgSize += h.Length
	return nil
}

// payload returns the next chunk of the current frame's payload from b.
func (p *Parser) payload(b []byte) (Chunk, error) {
	n := int64(len(b))
	if n > p.remaining {
		n = p.remaining
	}
	data := b[:n]
	if p.frame.Masked {
		Unmask(data, p.frame.Mask, p.maskPos)
		p.maskPos = (p.maskPos + int(n)) & 3
	}
	p.remaining -= n
	frameDone := p.remaining == 0
	c := Chunk{Payload: data, First: p.first}
	p.first = false
	if p.frame.OpCode.IsControl() {
		c.OpCode, c.Final = p.frame.OpCode, frameDone
	} else {
		c.OpCode, c.Compressed = p.msgOp, p.msgCompressed
		c.First, p.msgFirst = p.msgFirst, false
		c.Final = frameDone && p.frame.Fin
		if c.OpCode == OpText && !c.Compressed && !p.validText(data, c.Final) {
			return Chunk{}, p.fail(ErrInvalidUTF8)
		}
		if c.Final {
			p.msgOp = 0
		}
	}
	if frameDone {
		p.state = stateHeader
	}
	return c, nil
}

func (p *Parser) validText(data []byte, final bool) bool {
	return p.utf8.Write(data) && (!final || p.utf8.Complete())
}
