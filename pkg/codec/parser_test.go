package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds one masked client frame, written here from RFC 6455 section
// 5.2 rather than with AppendMaskedFrame and Unmask, which are under test.
func frame(fin bool, op OpCode, payload string) []byte {
	return maskedFrameRFC(fin, byte(op), testMask, []byte(payload))
}

// maskedFrameRFC encodes a masked frame byte by byte: FIN and opcode, the
// shortest length form with the mask bit, the key, payload[i]^key[i%4].
func maskedFrameRFC(fin bool, op byte, key [4]byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		for i := 56; i >= 0; i -= 8 {
			out = append(out, byte(uint64(n)>>i))
		}
	}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

func withRsv(f []byte, bits byte) []byte {
	f[0] |= bits
	return f
}

func concat(frames ...[]byte) []byte {
	return bytes.Join(frames, nil)
}

// event is what a receiver sees: a whole message or a whole control frame.
type event struct {
	op         OpCode
	payload    string
	compressed bool
}

// String is for failure messages only; comparisons use diffEvents, which
// looks at every byte.
func (e event) String() string {
	payload := e.payload
	if len(payload) > 64 {
		payload = fmt.Sprintf("%s...(%d bytes)", payload[:32], len(payload))
	}
	return fmt.Sprintf("%s(%q,z=%v)", e.op, payload, e.compressed)
}

// diffEvents compares two event lists in full and describes the first
// difference briefly, or returns "".
func diffEvents(got, want []event) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			return fmt.Sprintf("%d events, want %d", len(got), len(want))
		}
		g, w := got[i], want[i]
		if g.op != w.op || g.compressed != w.compressed {
			return fmt.Sprintf("event %d: %v, want %v", i, g, w)
		}
		if g.payload != w.payload {
			j := 0
			for j < len(g.payload) && j < len(w.payload) && g.payload[j] == w.payload[j] {
				j++
			}
			return fmt.Sprintf("event %d: payload %d bytes, want %d; first difference at byte %d: %q, want %q",
				i, len(g.payload), len(w.payload), j, g.payload[j:min(j+16, len(g.payload))], w.payload[j:min(j+16, len(w.payload))])
		}
	}
	return ""
}

// collect runs a parser over a copy of in (parsing unmasks in place), cut at
// the given points, and assembles the chunks into events the way the gateway
// does.
func collect(opts ParserOptions, in []byte, cuts ...int) ([]event, error) {
	in = bytes.Clone(in)
	p := NewParser(opts)
	var (
		events   []event
		msg, ctl []byte
	)
	prev := 0
	for _, cut := range append(cuts, len(in)) {
		b := in[prev:cut]
		prev = cut
		for len(b) > 0 {
			n, c, ok, err := p.Next(b)
			if err != nil {
				return events, err
			}
			if n == 0 && !ok {
				return events, errors.New("parser made no progress")
			}
			b = b[n:]
			if !ok {
				continue
			}
			buf := &msg
			if c.IsControl() {
				buf = &ctl
			}
			if c.First {
				*buf = (*buf)[:0]
			}
			*buf = append(*buf, c.Payload...)
			if c.Final {
				events = append(events, event{op: c.OpCode, payload: string(*buf), compressed: c.Compressed})
			}
		}
	}
	return events, nil
}

func TestParserValidStreams(t *testing.T) {
	long := strings.Repeat("x", 70000)
	cases := []struct {
		name string
		opts ParserOptions
		in   []byte
		want []event
	}{
		{
			name: "empty text",
			in:   frame(true, OpText, ""),
			want: []event{{op: OpText}},
		},
		{
			name: "text 125",
			in:   frame(true, OpText, strings.Repeat("a", 125)),
			want: []event{{op: OpText, payload: strings.Repeat("a", 125)}},
		},
		{
			name: "binary 126 uses 16-bit length",
			in:   frame(true, OpBinary, strings.Repeat("\x00", 126)),
			want: []event{{op: OpBinary, payload: strings.Repeat("\x00", 126)}},
		},
		{
			name: "binary 65536 uses 64-bit length",
			in:   frame(true, OpBinary, long),
			want: []event{{op: OpBinary, payload: long}},
		},
		{
			name: "fragmented text with interleaved ping",
			in: concat(
				frame(false, OpText, "frag"),
				frame(true, OpPing, "p"),
				frame(false, OpContinuation, "men"),
				frame(true, OpContinuation, "ted κ"),
			),
			want: []event{{op: OpPing, payload: "p"}, {op: OpText, payload: "fragmented κ"}},
		},
		{
			name: "empty fragments",
			in: concat(
				frame(false, OpBinary, ""),
				frame(false, OpContinuation, ""),
				frame(true, OpContinuation, ""),
			),
			want: []event{{op: OpBinary}},
		},
		{
			name: "utf-8 rune split across fragments",
			in: concat(
				frame(false, OpText, "\xce"),
				frame(true, OpContinuation, "\xba"),
			),
			want: []event{{op: OpText, payload: "κ"}},
		},
		{
			name: "close pong ping",
			in: concat(
				frame(true, OpPong, ""),
				frame(true, OpPing, strings.Repeat("p", 125)),
				frame(true, OpClose, "\x03\xe8bye"),
			),
			want: []event{{op: OpPong}, {op: OpPing, payload: strings.Repeat("p", 125)}, {op: OpClose, payload: "\x03\xe8bye"}},
		},
		{
			name: "rsv1 with compression marks message compressed and skips utf-8",
			opts: ParserOptions{Compression: true},
			in: concat(
				withRsv(frame(false, OpText, "\xff"), bitRsv1),
				frame(true, OpContinuation, "\xfe"),
			),
			want: []event{{op: OpText, payload: "\xff\xfe", compressed: true}},
		},
		{
			name: "message exactly at the size limit",
			opts: ParserOptions{MaxMessageSize: 10},
			in: concat(
				frame(false, OpText, "01234"),
				frame(true, OpContinuation, "56789"),
			),
			want: []event{{op: OpText, payload: "0123456789"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every split into three pieces must give the same result; for long
			// inputs try the cuts around the headers only.
			points := allPoints(len(tc.in), 40)
			for _, i := range points {
				for _, j := range points {
					if j < i {
						continue
					}
					got, err := collect(tc.opts, tc.in, i, j)
					if err != nil {
						t.Fatalf(
							"cut %d,%d: unexpected error %v",
							i, j, err,
						)
					}
					if d := diffEvents(got, tc.want); d != "" {
						t.Fatalf(
							"cut %d,%d: %s",
							i, j, d,
						)
					}
				}
			}
		})
	}
}

// allPoints returns every offset up to max and the last max offsets of an
// input of length n.
func allPoints(n, max int) []int {
	var p []int
	for i := 0; i <= n; i++ {
		if i < max || i > n-max {
			p = append(p, i)
		}
	}
	return p
}

func TestParserErrors(t *testing.T) {
	big := make([]byte, 10)
	big[0], big[1] = 0x82, 0xff // binary, masked, 64-bit length
	binary.BigEndian.PutUint64(big[2:], 1<<62)
	big = append(big, testMask[:]...)
	msb := bytes.Clone(big)
	msb[2] = 0x80

	cases := []struct {
		name string
		opts ParserOptions
		in   []byte
		want *ProtocolError
		code StatusCode
	}{
		{name: "unmasked", in: AppendFrame(nil, OpText, []byte("hi")), want: ErrUnmasked, code: 1002},
		{name: "rsv1 not negotiated", in: withRsv(frame(true, OpText, "a"), bitRsv1), want: ErrReservedBits, code: 1002},
		{name: "rsv2", in: withRsv(frame(true, OpText, "a"), bitRsv2), want: ErrReservedBits, code: 1002},
		{name: "rsv3 on ping", in: withRsv(frame(true, OpPing, ""), bitRsv3), want: ErrReservedBits, code: 1002},
		{
			name: "rsv2 even with compression",
			opts: ParserOptions{Compression: true},
			in:   withRsv(frame(true, OpBinary, "a"), bitRsv2),
			want: ErrReservedBits,
			code: 1002,
		},
		{
			name: "rsv1 on continuation",
			opts: ParserOptions{Compression: true},
			in:   concat(frame(false, OpText, "a"), withRsv(frame(true, OpContinuation, "b"), bitRsv1)),
			want: ErrCompressedContinue,
			code: 1002,
		},
		{
			name: "rsv1 on control",
			opts: ParserOptions{Compression: true},
			in:   withRsv(frame(true, OpPing, ""), bitRsv1),
			want: ErrCompressedControl,
			code: 1002,
		},
		{name: "opcode 3", in: frame(true, 3, ""), want: ErrReservedOpCode, code: 1002},
		{name: "opcode 7", in: frame(true, 7, ""), want: ErrReservedOpCode, code: 1002},
		{name: "opcode 11", in: frame(true, 11, ""), want: ErrReservedOpCode, code: 1002},
		{name: "opcode 15", in: frame(true, 15, ""), want: ErrReservedOpCode, code: 1002},
		{name: "ping 126", in: frame(true, OpPing, strings.Repeat("p", 126)), want: ErrControlTooLong, code: 1002},
		{name: "close 126", in: frame(true, OpClose, strings.Repeat("p", 126)), want: ErrControlTooLong, code: 1002},
		{name: "fragmented ping", in: frame(false, OpPing, ""), want: ErrControlFragmented, code: 1002},
		{name: "lone continuation", in: frame(true, OpContinuation, "x"), want: ErrUnexpectedContinue, code: 1002},
		{
			name: "text inside fragmented message",
			in:   concat(frame(false, OpText, "a"), frame(true, OpText, "b")),
			want: ErrExpectedContinue,
			code: 1002,
		},
		{name: "64-bit length msb", in: msb, want: ErrLengthMSB, code: 1002},
		{name: "2^62 bytes announced", opts: ParserOptions{MaxMessageSize: 1 << 20}, in: big, want: ErrMessageTooBig, code: 1009},
		{
			name: "fragments over the limit",
			opts: ParserOptions{MaxMessageSize: 9},
			in:   concat(frame(false, OpText, "01234"), frame(true, OpContinuation, "56789")),
			want: ErrMessageTooBig,
			code: 1009,
		},
		{name: "invalid utf-8", in: frame(true, OpText, "\xff"), want: ErrInvalidUTF8, code: 1007},
		{name: "truncated utf-8 at end", in: frame(true, OpText, "ok\xce"), want: ErrInvalidUTF8, code: 1007},
		{
			name: "invalid utf-8 in first fragment",
			in:   concat(frame(false, OpText, "\xed\xa0\x80"), frame(true, OpContinuation, "ok")),
			want: ErrInvalidUTF8,
			code: 1007,
		},
		{
			name: "server frame parsed as client must not be masked",
			opts: ParserOptions{Client: true},
			in:   frame(true, OpText, "x"),
			want: ErrMasked,
			code: 1002,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, i := range allPoints(len(tc.in), 20) {
				_, err := collect(tc.opts, tc.in, i)
				if err != tc.want {
					t.Fatalf(
						"cut %d: got error %v, want %v",
						i, err, tc.want,
					)
				}
				if err.(*ProtocolError).Code != tc.code {
					t.Fatalf(
						"close code %d, want %d",
						err.(*ProtocolError).Code, tc.code,
					)
				}
			}
		})
	}
}

// TestParserFailsBeforeMessageEnds checks the fail-fast behaviour: invalid
// UTF-8 in the first fragment is reported before the next one arrives, and a
// too-large frame is refused on its header alone.
func TestParserFailsBeforeMessageEnds(t *testing.T) {
	p := NewParser(ParserOptions{MaxMessageSize: 1 << 20})
	b := frame(false, OpText, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80")
	for len(b) > 0 {
		n, _, _, err := p.Next(b)
		if err != nil {
			if err != ErrInvalidUTF8 {
				t.Fatalf(
					"got %v, want ErrInvalidUTF8",
					err,
				)
			}
			return
		}
		b = b[n:]
	}
	t.Fatal("invalid first fragment accepted")
}

func TestParserHeaderOnlyYieldsNoEmptyChunk(t *testing.T) {
	p := NewParser(ParserOptions{})
	f := frame(true, OpBinary, "abc")
	n, _, ok, err := p.Next(f[:6]) // header only
	if err != nil || ok || n != 6 {
		t.Fatalf(
			"header only: n=%d ok=%v err=%v",
			n, ok, err,
		)
	}
	n, c, ok, err := p.Next(f[6:])
	if err != nil || !ok || n != 3 || !c.First || !c.Final || string(c.Payload) != "abc" {
		t.Fatalf(
			"payload: n=%d ok=%v err=%v chunk=%+v",
			n, ok, err, c,
		)
	}
}

func TestParserErrorIsSticky(t *testing.T) {
	p := NewParser(ParserOptions{})
	if _, _, _, err := p.Next(frame(true, 3, "")); err != ErrReservedOpCode {
		t.Fatalf(
			"got %v",
			err,
		)
	}
	if _, _, _, err := p.Next(frame(true, OpText, "fine")); err != ErrReservedOpCode || p.Err() != ErrReservedOpCode {
		t.Fatalf(
			"error not sticky: %v",
			err,
		)
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		payload := bytes.Repeat([]byte{'z'}, n)
		f := AppendFrame(nil, OpBinary, payload)
		if len(f) != HeaderSize(n)+n {
			t.Fatalf(
				"size %d: frame is %d bytes, want %d",
				n, len(f), HeaderSize(n)+n,
			)
		}
		got, err := collect(ParserOptions{Client: true}, f)
		if err != nil || len(got) != 1 || got[0].payload != string(payload) || got[0].op != OpBinary {
			t.Fatalf(
				"size %d: round trip failed: %v %v",
				n, len(got), err,
			)
		}
	}
}
