package poller

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzParseRequest feeds arbitrary request heads to the handshake parser:
// it must never panic, every slice it returns must point into the head, and
// a head it accepts must survive the client-IP and origin logic.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(handshakeRequest("/ws", "Origin: https://app.example.com\r\n", "X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n")))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET /ws?x=1 HTTP/1.1\nHost: [::1]:80\nX-Real-IP: [::1]\n\n"))
	f.Add([]byte("POST /ws HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n\r\n"))
	trusted, _ := ParseTrustedProxies([]string{"127.0.0.0/8", "10.0.0.0/8"})
	origins, _ := NewOriginPolicy([]string{"https://app.example.com", "*.example.org"}, false, true)
	f.Fuzz(func(t *testing.T, head []byte) {
		end := headEnd(head, 0)
		if end < 0 {
			return
		}
		head = head[:end]
		var r request
		if parseRequest(head, &r) != nil {
			return
		}
		for _, s := range [][]byte{r.method, r.target, r.path, r.host, r.upgrade, r.connection, r.key, r.origin, r.realIP} {
			if len(s) > 0 && !within(head, s) {
				t.Fatalf(
					"a parsed field does not alias the head: %q",
					s,
				)
			}
		}
		trusted.clientIP(netip.MustParseAddr("127.0.0.1"), &r)
		origins.Allow(r.origin, r.originSeen, r.host)
		hasToken(r.connection, "upgrade")
		validKey(r.key)
	})
}

func within(outer, inner []byte) bool {
	return len(inner) <= len(outer) && bytes.Contains(outer, inner)
}
