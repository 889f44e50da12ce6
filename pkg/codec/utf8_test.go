package codec

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

var utf8Cases = []struct {
	name string
	in   string
}{
	{name: "empty", in: ""},
	{name: "ascii", in: "Hello, World! 0123456789"},
	{name: "two-byte", in: "κόσμε"},
	{name: "three-byte", in: "€ 中文字符"},
	{name: "four-byte", in: "𝄞 😀 \U0010FFFF"},
	{name: "mixed-long", in: "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 " + "abcdefghijklmnopqrstuvwxyz"},
	{name: "overlong-slash", in: "\xc0\xaf"},
	{name: "overlong-3", in: "\xe0\x80\xaf"},
	{name: "overlong-4", in: "\xf0\x80\x80\xaf"},
	{name: "surrogate-high", in: "\xed\xa0\x80"},
	{name: "surrogate-low", in: "\xed\xbf\xbf"},
	{name: "above-max", in: "\xf4\x90\x80\x80"},
	{name: "f5", in: "\xf5\x80\x80\x80"},
	{name: "lone-continuation", in: "a\x80b"},
	{name: "truncated-2", in: "\xce"},
	{name: "truncated-3", in: "\xe2\x82"},
	{name: "truncated-4", in: "\xf0\x9d\x84"},
	{name: "bad-continuation", in: "\xce\x41"},
	{name: "fe", in: "\xfe"},
	{name: "ff", in: "\xff"},
	{name: "valid-then-invalid", in: "κόσμε\xed\xa0\x80edited"},
	{name: "max-bmp", in: "\xef\xbf\xbf"},
	{name: "noncharacter-fffe", in: "\xef\xbf\xbe"},
}

// validateSplit feeds in to a fresh validator cut at the given points.
func validateSplit(in []byte, cuts ...int) bool {
	var v UTF8Validator
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if !v.Write(in[prev:c]) {
			return false
		}
		prev = c
	}
	return v.Complete()
}

func TestUTF8ValidatorMatchesStdlibAtEverySplit(t *testing.T) {
	for _, tc := range utf8Cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			want := utf8.Valid(in)
			if got := validateSplit(in); got != want {
				t.Fatalf(
					"whole %q: got %v, want %v",
					tc.in, got, want,
				)
			}
			for i := 0; i <= len(in); i++ {
				for j := i; j <= len(in); j++ {
					if got := validateSplit(in, i, j); got != want {
						t.Fatalf(
							"%q cut at %d,%d: got %v, want %v",
							tc.in, i, j, got, want,
						)
					}
				}
			}
		})
	}
}

// TestUTF8ValidatorFailsFast checks that an invalid prefix is reported by the
// Write that delivers the offending byte, not at the end of the message.
func TestUTF8ValidatorFailsFast(t *testing.T) {
	cases := []struct {
		name    string
		pieces  []string
		failsAt int // index of the piece whose Write must return false
	}{
		{
			name:    "above-max-second-byte",
			pieces:  []string{"ok \xf4", "\x90", "\x80\x80"},
			failsAt: 1,
		},
		{
			name:    "surrogate-second-byte",
			pieces:  []string{"\xed", "\xa0", "\x80"},
			failsAt: 1,
		},
		{
			name:    "invalid-lead",
			pieces:  []string{"κόσμε", "\xff", "rest"},
			failsAt: 1,
		},
		{
			name:    "autobahn-6.4.1",
			pieces:  []string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\xf4\x90\x80\x80", "\x65\x64\x69\x74\x65\x64"},
			failsAt: 1,
		},
		{
			name:    "overlong-in-tail",
			pieces:  []string{"abc\xe0", "\x80"},
			failsAt: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v UTF8Validator
			for i, p := range tc.pieces {
				ok := v.Write([]byte(p))
				if i < tc.failsAt && !ok {
					t.Fatalf(
						"piece %d (%q) rejected too early",
						i, p,
					)
				}
				if i == tc.failsAt {
					if ok {
						t.Fatalf(
							"piece %d (%q) accepted; want rejection",
							i, p,
						)
					}
					return
				}
			}
		})
	}
}

func TestUTF8ValidatorRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "κ", "€", "𝄞", "\xed\xa0\x80", "\xf4\x90", "\x80", "\xc3", "\xe2\x82", "\xff"}
	for range 20000 {
		var in []byte
		for range r.IntN(8) {
			in = append(in, alphabet[r.IntN(len(alphabet))]...)
		}
		i := r.IntN(len(in) + 1)
		j := i + r.IntN(len(in)-i+1)
		if got, want := validateSplit(in, i, j), utf8.Valid(in); got != want {
			t.Fatalf(
				"%q cut at %d,%d: got %v, want %v",
				in, i, j, got, want,
			)
		}
	}
}
