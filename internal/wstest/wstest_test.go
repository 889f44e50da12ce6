package wstest

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
)

// The examples of RFC 6455 section 5.7 and RFC 7692 section 7.2.3.

func TestAppendFrameRFCExample(t *testing.T) {
	got := AppendFrame(nil, true, 0, OpText, [4]byte{0x37, 0xfa, 0x21, 0x3d}, []byte("Hello"))
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
	// Lengths at each form's limit and one past it (section 5.2).
	for _, c := range []struct {
		n    int
		head []byte
	}{
		{125, []byte{0x42, 0x80 | 125}},
		{126, []byte{0x42, 0x80 | 126, 0, 126}},
		{0xFFFF, []byte{0x42, 0x80 | 126, 0xff, 0xff}},
		{0x10000, []byte{0x42, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		f := AppendFrame([]byte("x"), false, RSV1, OpBinary, [4]byte{}, make([]byte, c.n))
		if wantLen := 1 + len(c.head) + 4 + c.n; len(f) != wantLen || !bytes.Equal(f[1:1+len(c.head)], c.head) {
			t.Errorf("length %d: head % x (%d bytes), want % x (%d bytes)", c.n, f[1:1+len(c.head)], len(f), c.head, wantLen)
		}
	}
}

func TestReadFrame(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      []byte
		h       Header
		payload []byte
		err     string
	}{
		{"hello", []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}, Header{Fin: true, Op: OpText}, []byte("Hello"), ""},
		{"fragment rsv1", []byte{0x41, 0x03, 'H', 'e', 'l'}, Header{Rsv: RSV1, Op: OpText}, []byte("Hel"), ""},
		{"16-bit 126", append([]byte{0x82, 0x7E, 0, 126}, make([]byte, 126)...), Header{Fin: true, Op: OpBinary}, make([]byte, 126), ""},
		{"masked", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}, Header{Fin: true, Op: OpText}, nil, "masked"},
		{"16-bit 125", append([]byte{0x82, 0x7E, 0, 125}, make([]byte, 125)...), Header{Fin: true, Op: OpBinary}, nil, "16 bits for length 125"},
		{"64-bit 65535", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, Header{Fin: true, Op: OpBinary}, nil, "64 bits for length 65535"},
		{"over max", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 1}, Header{Fin: true, Op: OpBinary}, nil, "announced 65537 bytes, more than 65536"},
	} {
		h, p, err := ReadFrame(bytes.NewReader(c.in), 0x10000)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one with %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || h != c.h || !bytes.Equal(p, c.payload) {
			t.Errorf("%s: %+v %q %v, want %+v %q", c.name, h, p, err, c.h, c.payload)
		}
	}
}

func TestDeflateInflate(t *testing.T) {
	// RFC 7692 section 7.2.3.1: "Hello" compressed.
	got, err := Inflate([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
	if err != nil || string(got) != "Hello" {
		t.Fatalf("Inflate: %q, %v", got, err)
	}
	msg := bytes.Repeat([]byte("permessage-deflate "), 1000)
	for _, level := range []int{flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		d := Deflate(msg, level)
		if bytes.HasSuffix(d, []byte{0, 0, 0xff, 0xff}) || len(d) >= len(msg) {
			t.Errorf("level %d: %d bytes, ends % x", level, len(d), d[max(0, len(d)-4):])
		}
		out, err := Inflate(d)
		if err != nil || !bytes.Equal(out, msg) {
			t.Errorf("level %d: round trip %s, %v", level, Diff(out, msg), err)
		}
		if _, err := Inflate(d[:len(d)/2]); err == nil {
			t.Errorf("level %d: a truncated message inflated without error", level)
		}
	}
}

func TestDiff(t *testing.T) {
	if got := Diff([]byte("abc"), []byte("abc")); got != "equal" {
		t.Errorf("Diff equal: %q", got)
	}
	if got, want := Diff([]byte("abXd"), []byte("abc")), `4 bytes, want 3; first difference at byte 2: got "Xd", want "c"`; got != want {
		t.Errorf("Diff: %q, want %q", got, want)
	}
	if got, want := Diff([]byte("ab"), []byte("abc")), `2 bytes, want 3; first difference at byte 2: got (end), want "c"`; got != want {
		t.Errorf("Diff: %q, want %q", got, want)
	}
}
