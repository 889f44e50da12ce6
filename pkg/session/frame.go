package session

import (
	"sync"
	"sync/atomic"

	"github.com/xh-control/gateway/pkg/codec"
)

// MessageType is the type of a data message.
type MessageType uint8

// Message types, with the values of their RFC 6455 opcodes.
const (
	Text   MessageType = MessageType(codec.OpText)
	Binary MessageType = MessageType(codec.OpBinary)
)

func (t MessageType) String() string { return codec.OpCode(t).String() }

// Frame is an encoded frame, ready for the wire, that any number of session
// queues may share: a broadcast is encoded once and every recipient's queue
// holds the same bytes. Frames are reference counted and their buffers
// pooled; the bytes must not be changed once the frame is built.
type Frame struct {
	buf     []byte
	payload int32 // payload length, for traffic counters
	class   int8  // index into framePools, or -1 when not pooled
	op      codec.OpCode
	raw     bool // not a WebSocket frame (the handshake response): not counted

	// refs changes on every core during a broadcast; it gets its own cache
	// line so that reading buf, which every writer does, stays cheap.
	_    [64]byte
	refs atomic.Int32
	_    [60]byte

	// The permessage-deflate variants, built once per window size on first
	// use, for all recipients that negotiated compression: a broadcast is
	// compressed once, not once per recipient.
	zmu   sync.Mutex
	z     [codec.MaxWindowBits - codec.MinWindowBits + 1]*Frame // nil: not built, or not smaller
	zdone uint8                                                 // bit i: z[i] was built
}

// NewFrame encodes a data message as one frame and returns it with one
// reference, which the caller owns: send it to as many sessions as needed
// with Session.SendFrame, then call Release once.
func NewFrame(t MessageType, payload []byte) *Frame {
	return newFrame(codec.OpCode(t), payload)
}

// Release drops the caller's reference.
func (f *Frame) Release() { f.release(true) }

// Len returns the size of the frame on the wire.
func (f *Frame) Len() int { return len(f.buf) }

func newFrame(op codec.OpCode, payload []byte) *Frame {
	size := codec.HeaderSize(len(payload)) + len(payload)
	f := getFrame(size)
	f.op, f.payload, f.raw = op, int32(len(payload)), false
	f.buf = codec.AppendFrame(f.buf[:0], op, payload)
	f.refs.Store(1)
	return f
}

func newCloseFrame(code codec.StatusCode, reason string) *Frame {
	var body [codec.MaxControlPayload]byte
	return newFrame(codec.OpClose, codec.AppendCloseBody(body[:0], code, reason))
}

func (f *Frame) retain() { f.refs.Add(1) }

// release drops a reference. A frame whose bytes may still be read by the
// kernel (a write was abandoned when the connection closed) is left to the
// garbage collector instead of being recycled.
func (f *Frame) release(recycle bool) {
	if f.refs.Add(-1) != 0 {
		return
	}
	for i, z := range f.z {
		if z != nil {
			z.release(recycle)
			f.z[i] = nil
		}
	}
	f.zdone = 0
	if recycle && f.class >= 0 {
		f.buf = f.buf[:0]
		framePools[f.class].Put(f)
	}
}

// payloadBytes returns the frame's payload.
func (f *Frame) payloadBytes() []byte { return f.buf[len(f.buf)-int(f.payload):] }

// deflated returns the variant of f compressed with a window of 2^bits
// bytes, building it on first use, or nil when compressing does not make
// the message smaller.
func (f *Frame) deflated(c *codec.Compressor, bits uint8) *Frame {
	i := bits - codec.MinWindowBits
	f.zmu.Lock()
	defer f.zmu.Unlock()
	if f.zdone&(1<<i) == 0 {
		f.z[i] = newDeflatedFrame(c, bits, f.op, f.payloadBytes())
		f.zdone |= 1 << i
	}
	return f.z[i]
}

// newDeflatedFrame compresses payload into a frame with RSV1 set, or
// returns nil when the result would not be smaller.
func newDeflatedFrame(c *codec.Compressor, bits uint8, op codec.OpCode, payload []byte) *Frame {
	scratch := scratchPool.Get().(*[]byte)
	z := c.Append((*scratch)[:0], payload, int(bits))
	defer func() { *scratch = z[:0]; scratchPool.Put(scratch) }()
	if len(z) >= len(payload) {
		return nil
	}
	f := getFrame(codec.HeaderSize(len(z)) + len(z))
	f.op, f.payload, f.raw = op, int32(len(payload)), false
	f.buf = append(codec.AppendHeader(f.buf[:0], true, true, op, len(z)), z...)
	f.refs.Store(1)
	return f
}

// frameClasses are the capacities of pooled frame buffers: a payload of a
// power of two from 256 B to 1 MiB plus the largest server frame header, so
// that a frame of 2^k payload bytes (1 KiB, 16 KiB: the sizes clients and
// benchmarks send) takes its own class and no frame holds more than about
// twice its size. With classes of 256 B, 1 KiB, 4 KiB... and no room for
// the header, a 16 KiB echo took a 64 KiB buffer: 200 clients that did not
// read held 4x their queued bytes (bench slow -slow 200). Larger frames are
// allocated and left to the garbage collector.
var frameClasses = func() (c [13]int) {
	for i := range c {
		c[i] = 256<<i + codec.MaxServerHeaderSize
	}
	return c
}()

var framePools [len(frameClasses)]sync.Pool

func init() {
	for i, size := range frameClasses {
		class, size := int8(i), size
		framePools[i].New = func() any {
			return &Frame{buf: make([]byte, 0, size), class: class}
		}
	}
}

func getFrame(size int) *Frame {
	for i, c := range frameClasses {
		if size <= c {
			return framePools[i].Get().(*Frame)
		}
	}
	return &Frame{buf: make([]byte, 0, size), class: -1}
}

// scratchPool holds buffers messages are compressed into before their
// size, and so their header, is known.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
