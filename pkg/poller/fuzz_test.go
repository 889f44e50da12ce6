package poller

import (
	"bytes"
	"net/netip"
	"testing"
	"unsafe"
)

// FuzzParseRequest feeds arbitrary request heads to the handshake parser:
// it must never panic, every slice it returns must point into the head, and
// a head it accepts must survive the client-IP and origin logic.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(handshakeRequest("/ws", "Origin: https://app.example.com\r\n", "X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n")))
	f.Add([]byte(handshakeRequest("/ws", "X-Forwarded-For: 6.6.6.6\r\n", "X-Real-IP: 7.7.7.7\r\n", "x-forwarded-for: 203.0.113.7, [2001:db8::1]:80\r\n", "X-FORWARDED-FOR: 10.0.0.1\r\n")))
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
		fields := [][]byte{r.method, r.target, r.path, r.host, r.upgrade, r.connection, r.key, r.version, r.origin, r.realIP}
		fields = append(fields, r.forwarded[:r.nForwarded]...)
		for i, s := range fields {
			if len(s) > 0 && !within(head, s) {
				t.Fatalf(
					"parsed field %d (%q) does not point into the head",
					i, s,
				)
			}
		}
		if !bytes.HasPrefix(r.target, r.path) {
			t.Fatalf(
				"path %q is not a prefix of the target %q",
				r.path, r.target,
			)
		}
		// An untrusted peer's headers are never believed.
		if got, peer := trusted.clientIP(netip.MustParseAddr("192.0.2.1"), &r), netip.MustParseAddr("192.0.2.1"); got != peer {
			t.Fatalf(
				"untrusted peer: client IP %v, want %v",
				got, peer,
			)
		}
		if got := trusted.clientIP(netip.MustParseAddr("127.0.0.1"), &r); !got.IsValid() {
			t.Fatal("trusted peer: invalid client IP")
		}
		origins.Allow(r.origin, r.originSeen, r.host)
		hasToken(r.connection, "upgrade")
		validKey(r.key)
	})
}

// within reports whether inner's bytes lie inside outer's memory: an
// alias, not a copy (equal bytes elsewhere do not count).
func within(outer, inner []byte) bool {
	if len(inner) == 0 || len(outer) == 0 {
		return len(inner) == 0
	}
	o := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	i := uintptr(unsafe.Pointer(unsafe.SliceData(inner)))
	return i >= o && i+uintptr(len(inner)) <= o+uintptr(len(outer))
}

// TestWithinIsByAddress: the aliasing check looks at memory, so a copy of
// the same bytes fails it.
func TestWithinIsByAddress(t *testing.T) {
	head := []byte("GET /ws HTTP/1.1\r\n")
	if !within(head, head[4:7]) || !within(head, head) || within(head, bytes.Clone(head[4:7])) || within(head[:5], head[4:7]) {
		t.Fatal("within does not compare addresses")
	}
}
