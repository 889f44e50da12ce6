package codec

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDeflateRoundTrip(t *testing.T) {
	c, d := NewCompressor(1), NewDecompressor()
	for _, in := range []string{"", "a", strings.Repeat("hello gateway ", 1000), string(bytes.Repeat([]byte{0, 1, 2, 255}, 70000))} {
		z := c.Append(nil, []byte(in), 0)
		if bytes.HasSuffix(z, deflateTail[:]) {
			t.Fatal("the tail was not stripped")
		}
		out, err := d.Append(nil, z, 0)
		if err != nil || string(out) != in {
			t.Fatalf(
				"round trip of %d bytes: got %d bytes, %v",
				len(in), len(out), err,
			)
		}
	}
}

// TestInflateRFC7692Example inflates the examples of RFC 7692 section 7.2.3.
func TestInflateRFC7692Example(t *testing.T) {
	d := NewDecompressor()
	for _, z := range [][]byte{
		{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},              // "Hello", compressed
		{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'}, // "Hello" in a stored block
		{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},              // "Hello" in a final block (BFINAL set)
	} {
		out, err := d.Append(nil, z, 0)
		if err != nil || string(out) != "Hello" {
			t.Fatalf(
				"inflate %x: %q %v",
				z, out, err,
			)
		}
	}
}

// TestInflateBombStopsAtTheLimit: 10 MiB of zeros compress to about 10 KiB;
// with a 1 MiB limit the decompressor must stop with 1009 having produced
// at most the limit.
func TestInflateBombStopsAtTheLimit(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 10<<20))
	w.Flush()
	bomb := bytes.TrimSuffix(buf.Bytes(), deflateTail[:])
	out, err := NewDecompressor().Append(nil, bomb, 1<<20)
	if err != ErrMessageTooBig {
		t.Fatalf(
			"got %v, want ErrMessageTooBig",
			err,
		)
	}
	if cap(out) > 2<<20 {
		t.Fatalf(
			"allocated %d bytes for a 1 MiB limit",
			cap(out),
		)
	}
}

func TestInflateCorruptData(t *testing.T) {
	_, err := NewDecompressor().Append(nil, []byte{0xff, 0xff, 0xff, 0xff, 0x01}, 0)
	if err != ErrInvalidCompressedData || ErrInvalidCompressedData.Code != StatusInvalidPayload {
		t.Fatalf(
			"got %v",
			err,
		)
	}
}

func FuzzInflate(f *testing.F) {
	c := NewCompressor(1)
	f.Add(c.Append(nil, []byte("hello hello hello"), 0))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'})
	d := NewDecompressor()
	f.Fuzz(func(t *testing.T, z []byte) {
		out, err := d.Append(nil, z, 4096)
		if err == nil && len(out) > 4096 {
			t.Fatalf(
				"%d bytes past a 4096-byte limit",
				len(out),
			)
		}
		if err == nil { // what inflates must survive a round trip
			back, err := d.Append(nil, c.Append(nil, out, 0), 0)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatal("round trip failed")
			}
		}
	})
}

func BenchmarkDeflate1K(b *testing.B) {
	c := NewCompressor(1)
	p := []byte(strings.Repeat("{\"topic\":\"prices\",\"price\":123.45} ", 30))[:1024]
	dst := make([]byte, 0, 2048)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		dst = c.Append(dst[:0], p, 0)
	}
}

func BenchmarkInflate1K(b *testing.B) {
	c, d := NewCompressor(1), NewDecompressor()
	z := c.Append(nil, []byte(strings.Repeat("{\"topic\":\"prices\",\"price\":123.45} ", 30))[:1024], 0)
	dst := make([]byte, 0, 2048)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = d.Append(dst[:0], z, 0)
	}
}

// TestWindowBitsAreHonoured compresses data whose only repetitions are 1000
// bytes apart: a 1 KiB or larger window finds them, a 512-byte window must
// not (that is what server_max_window_bits=9 promises the client).
func TestWindowBitsAreHonoured(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	block := make([]byte, 1000)
	for i := range block {
		block[i] = byte(r.IntN(256))
	}
	data := bytes.Repeat(block, 20)
	c, d := NewCompressor(1), NewDecompressor()
	sizes := map[int]int{}
	for _, bits := range []int{8, 9, 10, 15} {
		z := c.Append(nil, data, bits)
		out, err := d.Append(nil, z, 0)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf(
				"window bits %d: round trip failed: %v",
				bits, err,
			)
		}
		sizes[bits] = len(z)
	}
	if sizes[8] < len(data)*9/10 || sizes[9] < len(data)*9/10 {
		t.Fatalf(
			"windows of 256 and 512 bytes found repeats 1000 bytes back: %v",
			sizes,
		)
	}
	if sizes[10] > len(data)/5 || sizes[15] > len(data)/5 {
		t.Fatalf(
			"windows of 1 KiB and 32 KiB missed the repeats: %v",
			sizes,
		)
	}
}
