package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{
		{"", "", true}, {"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*", "bac", false},
		{"*c", "abc", true}, {"*c", "abcd", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"chat:*:x", "chat:1:x", true}, {"chat:*:x", "chat:1:y", false}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false}, {"abc", "abc", true}, {"abc", "abcd", false}, {"?", "", false},
		{"", "a", false}, {"**", "", true}, {"a*", "a", true}, {"*a*a", "aaba", true}, {"*a*a", "aab", false},
		{"?*", "", false}, {"*?", "x", true},
	} {
		if got := Match(c.p, c.s); got != c.ok {
			t.Errorf("Match(%q, %q) = %v, want %v", c.p, c.s, got, c.ok)
		}
	}
}
