package poller

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		peer   string
		xff    []string
		realIP string
		want   string
	}{
		{name: "untrusted peer ignores headers", peer: "198.51.100.9", xff: []string{"1.2.3.4"}, realIP: "1.2.3.4", want: "198.51.100.9"},
		{name: "trusted peer, one hop", peer: "127.0.0.1", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "forged left entries are skipped", peer: "127.0.0.1", xff: []string{"6.6.6.6, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "chain of trusted proxies", peer: "127.0.0.1", xff: []string{"203.0.113.7, 10.1.1.1, 10.2.2.2"}, want: "203.0.113.7"},
		{name: "several header lines", peer: "10.0.0.5", xff: []string{"203.0.113.7", "10.9.9.9"}, want: "203.0.113.7"},
		// Order matters: the proxy appends its line after the client's, so
		// a walk from the first line would believe the forged one.
		{name: "the proxy's line beats the client's", peer: "127.0.0.1", xff: []string{"6.6.6.6", "203.0.113.7"}, want: "203.0.113.7"},
		{name: "lines and lists, right to left", peer: "127.0.0.1", xff: []string{"6.6.6.6, 7.7.7.7", "203.0.113.7, 10.1.1.1", "10.2.2.2"}, want: "203.0.113.7"},
		{name: "trusted hops span lines", peer: "127.0.0.1", xff: []string{"6.6.6.6", "203.0.113.7", "10.1.1.1, 10.2.2.2", "10.3.3.3"}, want: "203.0.113.7"},
		{name: "garbage in the client's line is never reached", peer: "127.0.0.1", xff: []string{"garbage", "203.0.113.7"}, want: "203.0.113.7"},
		{name: "garbage in the last line stops at the peer", peer: "127.0.0.1", xff: []string{"203.0.113.7", "garbage"}, want: "127.0.0.1"},
		{name: "x-real-ip ignored when a line is there", peer: "127.0.0.1", xff: []string{"10.0.0.9", "10.0.0.8"}, realIP: "203.0.113.8", want: "10.0.0.9"},
		{name: "ports and brackets", peer: "::1", xff: []string{"[2001:db8::1]:4711"}, want: "2001:db8::1"},
		{name: "with port", peer: "::1", xff: []string{"203.0.113.7:4711"}, want: "203.0.113.7"},
		{name: "garbage stops at the last genuine hop", peer: "127.0.0.1", xff: []string{"203.0.113.7, garbage, 10.1.1.1"}, want: "10.1.1.1"},
		{name: "all trusted gives the leftmost", peer: "127.0.0.1", xff: []string{"10.0.0.1, 10.0.0.2"}, want: "10.0.0.1"},
		{name: "x-real-ip without xff", peer: "127.0.0.1", realIP: "203.0.113.8", want: "203.0.113.8"},
		{name: "xff wins over x-real-ip", peer: "127.0.0.1", xff: []string{"203.0.113.7"}, realIP: "203.0.113.8", want: "203.0.113.7"},
		{name: "empty list elements are skipped", peer: "127.0.0.1", xff: []string{"203.0.113.7, ,", ", 10.1.1.1,"}, want: "203.0.113.7"},
		{name: "no headers", peer: "127.0.0.1", want: "127.0.0.1"},
		{name: "ipv4-mapped peer", peer: "::ffff:127.0.0.1", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r request
			for _, x := range tc.xff {
				r.forwarded[r.nForwarded] = []byte(x)
				r.nForwarded++
			}
			r.realIP = []byte(tc.realIP)
			got := trusted.clientIP(netip.MustParseAddr(tc.peer), &r)
			if got.String() != tc.want {
				t.Fatalf(
					"got %s, want %s",
					got, tc.want,
				)
			}
		})
	}
}

func TestParseTrustedProxiesRejectsGarbage(t *testing.T) {
	for _, bad := range []string{"nope", "10.0.0.0/33", "1.2.3"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf(
				"accepted %q",
				bad,
			)
		}
	}
}
