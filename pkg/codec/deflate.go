package codec

import (
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction: every message is compressed on its own, so compressors and
// decompressors are borrowed from pools for one message and idle
// connections hold none. (A flate writer is about 640 KiB; keeping one per
// connection would cost more than everything else together.)

// deflateTail is the empty stored block a sender strips from the end of a
// compressed message and a receiver appends before inflating (section 7.2).
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// Window sizes of permessage-deflate, as the base-2 logarithm
// (server_max_window_bits, section 7.1.2).
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// Compressor compresses message payloads. It is safe for concurrent use.
// Compression uses klauspost/compress, which, unlike the standard library,
// can keep back-references within a window smaller than 32 KiB, as a client
// may demand with server_max_window_bits.
type Compressor struct {
	level int
	pools [MaxWindowBits - MinWindowBits + 1]sync.Pool // *compressor, by window bits
}

type compressor struct {
	w   *flate.Writer
	out appendWriter
}

type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// NewCompressor returns a compressor for a flate level from 1 (fastest) to
// 9 (smallest); other values select 1. The level applies to the full 32 KiB
// window; smaller windows use klauspost's windowed compressor.
func NewCompressor(level int) *Compressor {
	if level < flate.BestSpeed || level > flate.BestCompression {
		level = flate.BestSpeed
	}
	c := &Compressor{level: level}
	for i := range c.pools {
		bits := MinWindowBits + i
		c.pools[i].New = func() any {
			cc := &compressor{}
			if bits == MaxWindowBits {
				cc.w, _ = flate.NewWriter(&cc.out, level)
			} else {
				cc.w, _ = flate.NewWriterWindow(&cc.out, 1<<bits)
			}
			return cc
		}
	}
	return c
}

// Append compresses payload as one message, with back-references no further
// than 2^windowBits bytes (MinWindowBits to MaxWindowBits; 0 means
// MaxWindowBits), and appends the result, tail stripped, to dst.
func (c *Compressor) Append(dst, payload []byte, windowBits int) []byte {
	if windowBits < MinWindowBits || windowBits > MaxWindowBits {
		windowBits = MaxWindowBits
	}
	pool := &c.pools[windowBits-MinWindowBits]
	cc := pool.Get().(*compressor)
	cc.out.b = dst
	cc.w.Reset(&cc.out)
	cc.w.Write(payload)
	cc.w.Flush() // a sync flush ends with the tail
	out := cc.out.b
	cc.out.b = nil
	pool.Put(cc)
	if n := len(out); n >= len(dst)+4 && [4]byte(out[n-4:]) == deflateTail {
		out = out[:n-4]
	}
	return out
}

// Decompressor inflates message payloads. It is safe for concurrent use.
type Decompressor struct {
	pool sync.Pool // *decompressor
}

type decompressor struct {
	r   io.ReadCloser
	src tailedReader
}

// tailedReader yields a message's compressed bytes and then the tail. It is
// an io.ByteReader, so flate does not wrap it in a bufio.Reader of its own.
type tailedReader struct {
	p    []byte
	tail int
}

func (t *tailedReader) Read(b []byte) (int, error) {
	if len(t.p) > 0 {
		n := copy(b, t.p)
		t.p = t.p[n:]
		return n, nil
	}
	if t.tail < len(deflateTail) {
		n := copy(b, deflateTail[t.tail:])
		t.tail += n
		return n, nil
	}
	return 0, io.EOF
}

func (t *tailedReader) ReadByte() (byte, error) {
	if len(t.p) > 0 {
		c := t.p[0]
		t.p = t.p[1:]
		return c, nil
	}
	if t.tail < len(deflateTail) {
		c := deflateTail[t.tail]
		t.tail++
		return c, nil
	}
	return 0, io.EOF
}

func (t *tailedReader) done() bool { return len(t.p) == 0 && t.tail == len(deflateTail) }

// NewDecompressor returns a decompressor.
func NewDecompressor() *Decompressor {
	d := &Decompressor{}
	d.pool.New = func() any {
		dd := &decompressor{}
		dd.r = flate.NewReader(&dd.src)
		return dd
	}
	return d
}

// Append inflates one compressed message and appends it to dst. Output
// beyond max bytes (0: no limit) fails with ErrMessageTooBig as soon as it
// is produced, so a small message that inflates to gigabytes (a deflate
// bomb) costs at most max bytes. Corrupt input fails with
// ErrInvalidCompressedData.
func (d *Decompressor) Append(dst, compressed []byte, max int64) ([]byte, error) {
	dd := d.pool.Get().(*decompressor)
	defer d.pool.Put(dd)
	dd.src = tailedReader{p: compressed}
	dd.r.(flate.Resetter).Reset(&dd.src, nil)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			grow := max64(512, int64(cap(dst)-start))
			if max > 0 {
				grow = min(grow, max+1-int64(len(dst)-start))
			}
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		n, err := dd.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if max > 0 && int64(len(dst)-start) > max {
			return dst[:start], ErrMessageTooBig
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF) && dd.src.done():
			return dst, nil // the stream ended with a final block, or with the tail
		}
		return dst[:start], ErrInvalidCompressedData
	}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
