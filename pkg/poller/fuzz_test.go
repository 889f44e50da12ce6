package poller

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"unsafe"
)

// FuzzParseRequest feeds arbitrary request heads to the handshake parser.
// Properties: it never panics; every slice it returns points into the head;
// a head it accepts survives the client-IP and origin logic; the head it
// hands gobwas/ws (appendUpgradeHead) parses back to the same path, query,
// host, key and lists and normalizes to itself; and gobwas/ws accepts that
// head exactly when the handshake's own checks pass, answering with the
// Sec-WebSocket-Accept of the key this parser read.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(handshakeRequest("/ws", "Origin: https://app.example.com\r\n", "X-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n")))
	f.Add([]byte(handshakeRequest("/ws", "X-Forwarded-For: 6.6.6.6\r\n", "X-Real-IP: 7.7.7.7\r\n", "x-forwarded-for: 203.0.113.7, [2001:db8::1]:80\r\n", "X-FORWARDED-FOR: 10.0.0.1\r\n")))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET /ws?x=1 HTTP/1.1\nHost: [::1]:80\nX-Real-IP: [::1]\n\n"))
	f.Add([]byte("POST /ws HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n\r\n"))
	f.Add([]byte("GET ws://h:1/ws?r=1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: ,Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,\r\n b\r\n" +
		"Sec-WebSocket-Extensions: x; q=\"1,2\"\r\n\r\n"))
	trusted, _ := ParseTrustedProxies([]string{"127.0.0.0/8", "10.0.0.0/8"})
	origins, _ := NewOriginPolicy([]string{"https://app.example.com", "*.example.org"}, false, true)
	f.Fuzz(func(t *testing.T, head []byte) {
		end := headEnd(head, 0)
		if end < 0 {
			return
		}
		head = bytes.Clone(head[:end]) // parseRequest unfolds obs-fold in place; the engine's input must stay as it is
		var r request
		if parseRequest(head, &r) != nil {
			return
		}
		fields := [][]byte{r.method, r.target, r.query, r.host, r.key, r.version, r.origin, r.realIP}
		if len(r.path) == 0 {
			t.Fatal("accepted a request with an empty path")
		}
		if &r.path[0] != &rootPath[0] {
			fields = append(fields, r.path)
		}
		for _, l := range []*fieldLines{&r.upgrade, &r.connection, &r.extensions, &r.protocols} {
			fields = append(fields, l.line[:l.n]...)
		}
		fields = append(fields, r.forwarded[:r.nForwarded]...)
		for i, s := range fields {
			if len(s) > 0 && !within(head, s) {
				t.Fatalf(
					"parsed field %d (%q) does not point into the head",
					i, s,
				)
			}
		}
		if &r.path[0] != &rootPath[0] && !within(r.target, r.path) {
			t.Fatalf(
				"path %q is not part of the target %q",
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
		validKey(r.key)

		norm := r.appendUpgradeHead(nil)
		var again request
		if err := parseRequest(bytes.Clone(norm), &again); err != nil {
			t.Fatalf(
				"the upgrade head of %q does not parse: %v\n%q",
				head, err, norm,
			)
		}
		if a, b := upgradeView(&r), upgradeView(&again); a != b {
			t.Fatalf(
				"upgrade head reads differently:\n%s\nwant\n%s",
				b, a,
			)
		}
		if norm2 := again.appendUpgradeHead(nil); !bytes.Equal(norm, norm2) {
			t.Fatalf(
				"upgrade head is not stable:\n%q\n%q",
				norm, norm2,
			)
		}
		ours := string(r.method) == http.MethodGet && r.major == 1 && r.minor >= 1 && r.hostSeen &&
			r.upgrade.hasToken("websocket") && r.connection.hasToken("upgrade") &&
			r.keyLines == 1 && r.versionLines == 1 && string(r.version) == "13" && validKey(r.key)
		if !ours {
			return
		}
		var out bytes.Buffer
		_, err := ws.Upgrader{}.Upgrade(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(norm), &out})
		if err != nil {
			t.Fatalf(
				"gobwas/ws refuses a head the handshake accepted: %v\n%q",
				err, norm,
			)
		}
		resp, err := http.ReadResponse(bufio.NewReader(&out), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols ||
			resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(string(r.key)) {
			t.Fatalf(
				"gobwas/ws answered %v %v",
				resp, err,
			)
		}
	})
}

// FuzzRequestSpellings renders one handshake in the spellings HTTP allows,
// choosing each by the fuzzer's bytes: header name case, field order, list
// fields split over repeated lines, empty list elements, optional
// whitespace, obsolete line folding, LF or CRLF line ends, origin-form or
// absolute-form target. Every spelling must read as the canonical request.
func FuzzRequestSpellings(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 100, 50, 25})
	f.Add(bytes.Repeat([]byte{0xff, 0x55}, 64))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	type field struct {
		name  string
		elems []string // one element for a singleton field
		list  bool
	}
	fields := []field{
		{"Host", []string{"example.com:8080"}, false},
		{"Upgrade", []string{"websocket"}, true},
		{"Connection", []string{"keep-alive", "Upgrade"}, true},
		{"Sec-WebSocket-Key", []string{key}, false},
		{"Sec-WebSocket-Version", []string{"13"}, false},
		{"Origin", []string{"https://example.com"}, false},
		{"Sec-WebSocket-Extensions", []string{"permessage-deflate; client_max_window_bits", `x-foo; a="b, c"`}, true},
		{"Sec-WebSocket-Protocol", []string{"chat", "superchat", "v2.centrifuge"}, true},
	}
	var canonical strings.Builder
	canonical.WriteString("GET /ws?room=1 HTTP/1.1\r\n")
	for _, fd := range fields {
		canonical.WriteString(fd.name + ": " + strings.Join(fd.elems, ", ") + "\r\n")
	}
	canonical.WriteString("\r\n")
	var want request
	if err := parseRequest([]byte(canonical.String()), &want); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, choices []byte) {
		pick := func(n int) int {
			if len(choices) == 0 {
				return 0
			}
			c := int(choices[0])
			choices = choices[1:]
			return c % n
		}
		ows := func() string { return []string{"", "", " ", "\t", "  \t "}[pick(5)] }
		eol := func() string { return []string{"\r\n", "\n"}[pick(2)] }
		var b strings.Builder
		target := "/ws?room=1"
		if pick(3) == 0 {
			target = []string{"http", "https", "ws", "wss", "HTTP", "Ws"}[pick(6)] + "://example.com:8080" + target
		}
		b.WriteString("GET " + target + " HTTP/1.1" + eol())
		var lines [][]string // per field, its lines
		for _, fd := range fields {
			name := []byte(fd.name)
			for i := range name {
				if pick(2) == 1 {
					name[i] ^= 0x20 * byte(bool2int(name[i] >= 'A' && name[i] <= 'Z' || name[i] >= 'a' && name[i] <= 'z'))
				}
			}
			var fl []string
			cur := string(name) + ":" + ows()
			for i, e := range fd.elems {
				if fd.list && pick(4) == 0 {
					cur += "," + ows() // an empty element
				}
				cur += e
				if i == len(fd.elems)-1 {
					break
				}
				switch pick(4) {
				case 0: // a new line of the same field
					fl = append(fl, cur+ows())
					cur = string(name) + ":" + ows()
				case 1: // obs-fold after the comma
					cur += "," + eol() + []string{" ", "\t", "  "}[pick(3)]
				default:
					cur += ows() + "," + ows()
				}
			}
			if fd.list && pick(4) == 0 {
				cur += ows() + ","
			}
			lines = append(lines, append(fl, cur+ows()))
		}
		if target[0] != '/' {
			lines[0][0] = lines[0][0][:strings.IndexByte(lines[0][0], ':')+1] + " proxy.internal" // the authority wins
		}
		for remaining := len(fields); remaining > 0; { // interleave, keeping each field's own order
			i := pick(len(lines))
			for len(lines[i]) == 0 {
				i = (i + 1) % len(lines)
			}
			b.WriteString(lines[i][0] + eol())
			if lines[i] = lines[i][1:]; len(lines[i]) == 0 {
				remaining--
			}
		}
		b.WriteString(eol())
		head := []byte(b.String())
		if end := headEnd(head, 0); end != len(head) {
			t.Fatalf(
				"head ends at %d of %d: %q",
				end, len(head), head,
			)
		}
		var r request
		if err := parseRequest(head, &r); err != nil {
			t.Fatalf(
				"%v\n%s",
				err, b.String(),
			)
		}
		if got, w := view(&r), view(&want); got != w {
			t.Fatalf(
				"%q\nreads as\n%s\nwant\n%s",
				b.String(), got, w,
			)
		}
	})
}

// upgradeView is the part of view that the upgrade head carries.
func upgradeView(r *request) string {
	var b strings.Builder
	for _, line := range strings.Split(view(r), "\n") {
		for _, p := range []string{"path=", "query=", "extensions=", "protocols="} {
			if strings.HasPrefix(line, p) {
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String() + "host=" + string(r.host) + "\nkey=" + string(r.key)
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
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
