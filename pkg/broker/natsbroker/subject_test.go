package natsbroker

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// validToken reports whether tok may be one token of a NATS subject: not
// empty, no '.', no whitespace or control characters, not a wildcard, ASCII.
func validToken(tok string) bool {
	if tok == "" || tok == "*" || tok == ">" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

var channelClasses = []string{
	"", "a", "news", "ns:chan", "a.b", ".", "..", "a..b", ".a", "a.", "*", ">", "a.*", "a.>", "*.>",
	" ", "a b", "\t", "\n", "\r\n", "\x00", "\x7f", "é", "频道", "🙂", "\xff\xfe", "$JS.API", "a/b", "#",
	"chan\u00a0nbsp", "\u2028", strings.Repeat("x", 255), strings.Repeat(".", 300),
}

func TestTokenEveryClass(t *testing.T) {
	seen := make(map[string]string)
	for _, name := range channelClasses {
		tok := token(name)
		if !validToken(tok) {
			t.Errorf("token(%q) = %q: not a valid subject token", name, tok)
		}
		if back, ok := untoken(tok); !ok || back != name {
			t.Errorf("untoken(token(%q)) = %q, %v", name, back, ok)
		}
		if other, ok := seen[tok]; ok {
			t.Errorf("%q and %q share token %q", name, other, tok)
		}
		seen[tok] = name
	}
}

func TestUntokenRejects(t *testing.T) {
	for _, tok := range []string{"", "x", "YQ", "c=", "c*", "c.a"} {
		if _, ok := untoken(tok); ok {
			t.Errorf("untoken(%q) accepted", tok)
		}
	}
}

// FuzzToken: every name gets a valid token that decodes back to it, and two
// names share a token only if equal.
func FuzzToken(f *testing.F) {
	for i, a := range channelClasses {
		f.Add(a, channelClasses[(i+1)%len(channelClasses)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ta, tb := token(a), token(b)
		if !validToken(ta) || !validToken(tb) {
			t.Fatalf("invalid token for %q or %q", a, b)
		}
		if (ta == tb) != (a == b) {
			t.Fatalf("token(%q)=%q token(%q)=%q", a, ta, b, tb)
		}
		if back, ok := untoken(ta); !ok || back != a {
			t.Fatalf("round trip of %q gave %q", a, back)
		}
		if s := newSubjects("gateway").liveSubject(a); strings.Count(s, ".") != 2 {
			t.Fatalf("subject %q has more than three tokens", s)
		}
	})
}

func TestPresenceKeyShape(t *testing.T) {
	// KV keys: [-/_=.a-zA-Z0-9]+, not starting or ending with '.'.
	for _, ch := range channelClasses {
		k := presenceKey(ch, "0123456789abcdef")
		if k[0] == '.' || k[len(k)-1] == '.' || strings.Count(k, ".") != 1 {
			t.Fatalf("key %q", k)
		}
		for _, r := range k {
			if r >= utf8.RuneSelf || !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-/_=.", r)) {
				t.Fatalf("key %q holds %q", k, r)
			}
		}
	}
}
