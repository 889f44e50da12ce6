package codec

import (
	"fmt"
	"testing"
	"unicode/utf8"
)

// FuzzParser checks that the parser never panics and that its result does
// not depend on how the stream is split: parsing the input whole and parsing
// it cut at two arbitrary points must give the same messages and error.
func FuzzParser(f *testing.F) {
	for _, seed := range parserSeeds() {
		f.Add(seed, uint16(1), uint16(7), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut1, cut2 uint16, compression bool) {
		opts := ParserOptions{MaxMessageSize: 1 << 16, Compression: compression}
		i := int(cut1) % (len(in) + 1)
		j := i + int(cut2)%(len(in)-i+1)
		whole, errWhole := collect(opts, in)
		split, errSplit := collect(opts, in, i, j)
		if errWhole != errSplit {
			t.Fatalf(
				"error depends on split %d,%d: whole %v, split %v",
				i, j, errWhole, errSplit,
			)
		}
		if fmt.Sprint(whole) != fmt.Sprint(split) {
			t.Fatalf(
				"messages depend on split %d,%d:\n whole %v\n split %v",
				i, j, whole, split,
			)
		}
		for _, e := range whole {
			if e.op == OpText && !e.compressed && !utf8.ValidString(e.payload) {
				t.Fatalf(
					"invalid UTF-8 delivered: %q",
					e.payload,
				)
			}
			if e.op.IsControl() && len(e.payload) > MaxControlPayload {
				t.Fatalf(
					"control payload of %d bytes delivered",
					len(e.payload),
				)
			}
		}
	})
}

// FuzzUTF8Validator checks the incremental validator against the standard
// library for every input and split.
func FuzzUTF8Validator(f *testing.F) {
	for _, tc := range utf8Cases {
		f.Add([]byte(tc.in), uint16(1), uint16(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut1, cut2 uint16) {
		i := int(cut1) % (len(in) + 1)
		j := i + int(cut2)%(len(in)-i+1)
		if got, want := validateSplit(in, i, j), utf8.Valid(in); got != want {
			t.Fatalf(
				"%q cut at %d,%d: got %v, want %v",
				in, i, j, got, want,
			)
		}
	})
}

// FuzzParseClose checks that close payload validation never panics and only
// accepts codes allowed on the wire with UTF-8 reasons.
func FuzzParseClose(f *testing.F) {
	f.Add([]byte("\x03\xe8bye"))
	f.Add([]byte("\x03"))
	f.Add([]byte("\x03\xedno"))
	f.Fuzz(func(t *testing.T, in []byte) {
		code, reason, err := ParseClose(in)
		if err != nil {
			return
		}
		if len(in) > 0 && (!code.ValidOnWire() || !utf8.Valid(reason)) {
			t.Fatalf(
				"accepted code %d reason %q",
				code, reason,
			)
		}
	})
}

func parserSeeds() [][]byte {
	return [][]byte{
		frame(true, OpText, "Hello"),
		frame(true, OpBinary, string(make([]byte, 200))),
		concat(frame(false, OpText, "frag"), frame(true, OpPing, "p"), frame(true, OpContinuation, "ment")),
		frame(true, OpClose, "\x03\xe8bye"),
		withRsv(frame(true, OpText, "\xff"), bitRsv1),
		frame(true, OpText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
		AppendFrame(nil, OpText, []byte("unmasked")),
		{0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
	}
}
