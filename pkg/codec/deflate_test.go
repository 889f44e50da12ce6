package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
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

// stdDeflate compresses p with the standard library's writer (not ours) as
// RFC 7692 section 7.2.1 says: a sync flush, the 00 00 ff ff tail removed.
func stdDeflate(p []byte, level int) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		panic(err)
	}
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail[:])
}

// stdInflate inflates a message with the standard library's reader after
// appending the tail (section 7.2.2). Like the gateway, it accepts a stream
// that ends with the tail and no final block.
func stdInflate(z []byte) ([]byte, error) {
	src := bytes.NewReader(append(bytes.Clone(z), deflateTail[:]...))
	out, err := io.ReadAll(flate.NewReader(src))
	if errors.Is(err, io.ErrUnexpectedEOF) && src.Len() == 0 {
		err = nil
	}
	return out, err
}

// FuzzInflate checks the inflater against independent implementations:
//   - z as compressed input: whatever the gateway inflates within the limit,
//     compress/flate inflates to the same bytes (or a prefix of them, when
//     it calls the end of the stream corrupt);
//   - z as a message: compress/flate's writer compresses it (at a level
//     taken from the input) and the gateway inflates it back exactly, or
//     fails with ErrMessageTooBig exactly when it is over the limit;
//   - the gateway's compressor's output inflates with compress/flate.
func FuzzInflate(f *testing.F) {
	const limit = 4096
	c := NewCompressor(1)
	f.Add(c.Append(nil, []byte("hello hello hello"), 0))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'})
	f.Add(bytes.Repeat([]byte("z"), limit))
	f.Add(bytes.Repeat([]byte("z"), limit+1))
	d := NewDecompressor()
	levels := []int{flate.HuffmanOnly, flate.NoCompression, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	f.Fuzz(func(t *testing.T, z []byte) {
		out, err := d.Append(nil, z, limit)
		if err == nil {
			if len(out) > limit {
				t.Fatalf(
					"%d bytes past a %d-byte limit",
					len(out), limit,
				)
			}
			// Both decode the same bits in the same order. They may
			// classify a stream that ends inside a block differently (the
			// gateway, after the tail, takes it as the end; compress/flate
			// may call it corrupt), so where compress/flate fails, what it
			// produced must start what the gateway produced.
			want, stdErr := stdInflate(z)
			if (stdErr == nil && !bytes.Equal(out, want)) || (stdErr != nil && !bytes.HasPrefix(out, want)) {
				t.Fatalf(
					"inflated %d bytes; compress/flate: %d bytes, %v",
					len(out), len(want), stdErr,
				)
			}
		}
		level := levels[len(z)%len(levels)]
		back, err := d.Append([]byte("prefix"), stdDeflate(z, level), limit)
		switch {
		case len(z) > limit:
			if err != ErrMessageTooBig || string(back) != "prefix" {
				t.Fatalf(
					"%d bytes with a %d-byte limit: %v, %d bytes; want ErrMessageTooBig and dst untouched",
					len(z), limit, err, len(back),
				)
			}
		case err != nil || !bytes.Equal(back[len("prefix"):], z) || string(back[:len("prefix")]) != "prefix":
			t.Fatalf(
				"compress/flate level %d, %d bytes: inflated %d bytes, %v",
				level, len(z), len(back)-len("prefix"), err,
			)
		}
		for _, bits := range []int{MinWindowBits, 12, MaxWindowBits} {
			got, err := stdInflate(c.Append(nil, z, bits))
			if err != nil || !bytes.Equal(got, z) {
				t.Fatalf(
					"our compressor, window %d bits, %d bytes: compress/flate inflates %d bytes, %v",
					bits, len(z), len(got), err,
				)
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
