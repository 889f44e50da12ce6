package codec

import (
	"strings"
	"testing"
)

// benchParse parses one masked frame per iteration. The frame is restored
// from a pristine copy first, because parsing unmasks in place; the copy is
// part of the measured time (it is what reading from a socket costs anyway).
func benchParse(b *testing.B, op OpCode, payload string) {
	pristine := frame(true, op, payload)
	buf := make([]byte, len(pristine))
	p := NewParser(ParserOptions{MaxMessageSize: 1 << 20})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, pristine)
		rest := buf
		for len(rest) > 0 {
			n, _, _, err := p.Next(rest)
			if err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
}

func BenchmarkParseBinary64(b *testing.B)  { benchParse(b, OpBinary, strings.Repeat("b", 64)) }
func BenchmarkParseBinary1K(b *testing.B)  { benchParse(b, OpBinary, strings.Repeat("b", 1024)) }
func BenchmarkParseBinary64K(b *testing.B) { benchParse(b, OpBinary, strings.Repeat("b", 65536)) }
func BenchmarkParseText64(b *testing.B)    { benchParse(b, OpText, strings.Repeat("t", 64)) }
func BenchmarkParseText1K(b *testing.B)    { benchParse(b, OpText, strings.Repeat("t", 1024)) }
func BenchmarkParseTextUTF8(b *testing.B) {
	benchParse(b, OpText, strings.Repeat("κόσμε 中文 ", 64))
}

func benchUnmask(b *testing.B, n int) {
	p := make([]byte, n)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		Unmask(p, testMask, 1)
	}
}

func BenchmarkUnmask64(b *testing.B)  { benchUnmask(b, 64) }
func BenchmarkUnmask1K(b *testing.B)  { benchUnmask(b, 1024) }
func BenchmarkUnmask64K(b *testing.B) { benchUnmask(b, 65536) }

func benchUTF8(b *testing.B, s string, pieces int) {
	in := []byte(s)
	step := len(in)/pieces + 1
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var v UTF8Validator
		for i := 0; i < len(in); i += step {
			v.Write(in[i:min(i+step, len(in))])
		}
		if !v.Complete() {
			b.Fatal("incomplete")
		}
	}
}

func BenchmarkUTF8ASCII1K(b *testing.B)    { benchUTF8(b, strings.Repeat("a", 1024), 1) }
func BenchmarkUTF8Mixed1K(b *testing.B)    { benchUTF8(b, strings.Repeat("κόσμε abc ", 73), 1) }
func BenchmarkUTF8Mixed1KIn7(b *testing.B) { benchUTF8(b, strings.Repeat("κόσμε abc ", 73), 7) }

func benchAppendFrame(b *testing.B, n int) {
	payload := make([]byte, n)
	dst := make([]byte, 0, n+MaxServerHeaderSize)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], OpBinary, payload)
	}
}

func BenchmarkAppendFrame64(b *testing.B) { benchAppendFrame(b, 64) }
func BenchmarkAppendFrame1K(b *testing.B) { benchAppendFrame(b, 1024) }

// TestHotPathDoesNotAllocate turns the zero-allocation claim into a test
// result: parsing, unmasking, validating and writing frames must not
// allocate.
func TestHotPathDoesNotAllocate(t *testing.T) {
	pristine := frame(true, OpText, strings.Repeat("κόσμε abc ", 20))
	buf := make([]byte, len(pristine))
	p := NewParser(ParserOptions{MaxMessageSize: 1 << 20})
	dst := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf, pristine)
		rest := buf
		for len(rest) > 0 {
			n, c, _, err := p.Next(rest)
			if err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			dst = AppendFrame(dst[:0], c.OpCode, c.Payload)
		}
	})
	if allocs != 0 {
		t.Fatalf(
			"parse+write allocates %.1f times per message, want 0",
			allocs,
		)
	}
}
