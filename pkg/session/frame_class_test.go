package session

import (
	"testing"

	"github.com/xh-control/gateway/pkg/codec"
)

// A frame's pooled buffer is never more than about twice the frame: a
// payload of exactly a power of two, with its header, fits the class of
// that size (issue #9: 16 KiB echoes held 64 KiB buffers).
func TestFrameBufferFitsItsSize(t *testing.T) {
	if got, want := frameClasses[len(frameClasses)-1], 1<<20+codec.MaxServerHeaderSize; got != want {
		t.Fatalf("largest class %d, want %d (a 1 MiB message, the default limit, is pooled)", got, want)
	}
	for _, n := range []int{0, 1, 125, 126, 255, 256, 257, 1000, 1024, 1025, 4096, 16 << 10, 16<<10 + 1, 64 << 10, 1 << 20} {
		f := NewFrame(Binary, make([]byte, n))
		size, capacity := f.Len(), cap(f.buf)
		f.Release()
		if size != codec.HeaderSize(n)+n {
			t.Fatalf("payload %d: frame of %d bytes, want %d", n, size, codec.HeaderSize(n)+n)
		}
		if limit := max(2*size, 256+codec.MaxServerHeaderSize); capacity > limit {
			t.Errorf("payload %d: a %d-byte frame holds a %d-byte buffer, more than %d", n, size, capacity, limit)
		}
	}
}
