package codec

import (
	"bytes"
	"testing"
)

// unmaskLoop is RFC 6455 section 5.3 as written: octet i is XORed with
// octet (i + offset) mod 4 of the key.
func unmaskLoop(p []byte, key [4]byte, offset int) {
	for i := range p {
		p[i] ^= key[(i+offset)%4]
	}
}

// TestUnmaskMatchesByteLoop compares Unmask with the plain loop for every
// length from 0 to 300 (word and vector paths and their tails), every
// offset 0..7 and several keys, on buffers that start at unaligned
// addresses too.
func TestUnmaskMatchesByteLoop(t *testing.T) {
	keys := [][4]byte{{0x37, 0xfa, 0x21, 0x3d}, {0xff, 0xff, 0xff, 0xff}, {1, 0, 0, 0}, {0, 0, 0, 0x80}}
	src := make([]byte, 300+8)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	for _, key := range keys {
		for n := 0; n <= 300; n++ {
			for offset := range 8 {
				for align := range 3 {
					want := bytes.Clone(src[align : align+n])
					unmaskLoop(want, key, offset)
					buf := bytes.Clone(src[:align+n+1])
					got := buf[align : align+n]
					Unmask(got, key, offset)
					if !bytes.Equal(got, want) {
						i := 0
						for got[i] == want[i] {
							i++
						}
						t.Fatalf(
							"key %x, %d bytes, offset %d, align %d: byte %d is %#x, want %#x",
							key, n, offset, align, i, got[i], want[i],
						)
					}
					if buf[align+n] != src[align+n] {
						t.Fatalf(
							"key %x, %d bytes, offset %d: wrote past the end",
							key, n, offset,
						)
					}
				}
			}
		}
	}
}

// TestUnmaskInPiecesEqualsWhole: unmasking a payload in chunks, each with
// the running offset, gives the whole payload unmasked (the parser does this
// when a frame arrives in several reads).
func TestUnmaskInPiecesEqualsWhole(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	p := make([]byte, 1000)
	for i := range p {
		p[i] = byte(i)
	}
	want := bytes.Clone(p)
	unmaskLoop(want, key, 0)
	for _, chunk := range []int{1, 3, 63, 64, 65, 129, 333} {
		got := bytes.Clone(p)
		for off := 0; off < len(got); off += chunk {
			Unmask(got[off:min(off+chunk, len(got))], key, off)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf(
				"chunks of %d differ from the whole",
				chunk,
			)
		}
	}
}

// TestAppendMaskedFrameMatchesRFC: the exported encoder (used by the load
// tool) produces the same bytes as the test's own RFC encoder.
func TestAppendMaskedFrameMatchesRFC(t *testing.T) {
	for _, n := range []int{0, 1, 64, 65, 125, 126, 300, 65535, 65536, 70000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 13)
		}
		for _, fin := range []bool{true, false} {
			got := AppendMaskedFrame([]byte("x"), fin, OpBinary, testMask, p)
			want := append([]byte("x"), maskedFrameRFC(fin, byte(OpBinary), testMask, p)...)
			if !bytes.Equal(got, want) {
				t.Fatalf(
					"%d bytes, fin %v: frames differ",
					n, fin,
				)
			}
		}
	}
}
