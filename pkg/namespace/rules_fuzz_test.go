package namespace

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzResolve checks Resolve's contract on arbitrary names, under the default
// separators and under custom multi-byte ones. Properties: no panic; a name
// that resolves is non-empty, ASCII and at most MaxLength bytes; its namespace
// is "" or configured and is what precedes the first boundary after an
// optional private prefix; re-resolving gives the same answer; an error is
// exactly ErrUnknownChannel or ErrBadChannel; UserAllowed accepts every user
// listed after the last user boundary.
func FuzzResolve(f *testing.F) {
	rules := []*Rules{
		mustNew(f, Config{Namespaces: []Namespace{{Name: "chat"}, {Name: "a.b"}, {Name: "-_"}}, MaxLength: 40}),
		mustNew(f, Config{Namespaces: []Namespace{{Name: "chat"}}, PrivatePrefix: "$$", NamespaceBoundary: "::", UserBoundary: "#!", UserSeparator: ",,"}),
	}
	for _, s := range []string{"news", "$news", "chat:index", "$chat:a:b", "a#1,2", "chat:d#42,43", ":x", "a.b:", "ünïcode", "$$chat::x#!1,,2", strings.Repeat("a", 41), "x:y", "\x00", "#", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ch string) {
		for _, r := range rules {
			opts, ns, err := r.Resolve(ch)
			if err != nil {
				if err != ErrUnknownChannel && err != ErrBadChannel {
					t.Fatalf("Resolve(%q): unexpected error %v", ch, err)
				}
				if opts != nil || ns != "" {
					t.Fatalf("Resolve(%q): results with an error", ch)
				}
			} else {
				if ch == "" || len(ch) > r.maxLength || !isASCIIRef(ch) {
					t.Fatalf("Resolve(%q) accepted an empty, long or non-ASCII name", ch)
				}
				want, ok := r.Namespace(ns)
				if !ok || want != opts {
					t.Fatalf("Resolve(%q) = namespace %q, options not that namespace's", ch, ns)
				}
				rest := strings.TrimPrefix(ch, r.cfg.PrivatePrefix)
				if b := strings.Index(rest, r.cfg.NamespaceBoundary); b >= 0 && rest[:b] != ns || b < 0 && ns != "" {
					t.Fatalf("Resolve(%q) namespace %q is not the part before the boundary", ch, ns)
				}
			}
			opts2, ns2, err2 := r.Resolve(ch)
			if opts2 != opts || ns2 != ns || err2 != err {
				t.Fatalf("Resolve(%q) not stable", ch)
			}
			if i := strings.LastIndex(ch, r.cfg.UserBoundary); i >= 0 {
				for _, u := range strings.Split(ch[i+len(r.cfg.UserBoundary):], r.cfg.UserSeparator) {
					if !r.UserAllowed(ch, u) {
						t.Fatalf("UserAllowed(%q, %q) = false for a listed user", ch, u)
					}
				}
				if r.UserAllowed(ch, ch+"x") { // longer than any listed user
					t.Fatalf("UserAllowed(%q) allowed an unlisted user", ch)
				}
			} else if !r.UserAllowed(ch, "anyone") {
				t.Fatalf("UserAllowed(%q) refused on a channel without user boundary", ch)
			}
		}
	})
}

// isASCIIRef is the rule stated byte by byte, independent of isASCII.
func isASCIIRef(s string) bool {
	return utf8.ValidString(s) && len([]rune(s)) == len(s)
}
