package poller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestHeadEnd(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", want: 27},
		{in: "GET / HTTP/1.1\r\nHost: a\r\n\r\nextra", want: 27},
		{in: "GET / HTTP/1.1\nHost: a\n\n", want: 24},
		{in: "GET / HTTP/1.1\r\nHost: a\r\n", want: -1},
		{in: "GET / HTTP/1.1\r\nHost: a\r\n\r", want: -1},
		{in: "", want: -1},
	}
	for _, tc := range cases {
		if got := headEnd([]byte(tc.in), 0); got != tc.want {
			t.Errorf(
				"headEnd(%q) = %d, want %d",
				tc.in, got, tc.want,
			)
		}
	}
}

func TestParseRequest(t *testing.T) {
	head := "GET /ws?token=x HTTP/1.1\r\n" +
		"HOST: example.com\r\n" +
		"upgrade: WebSocket\r\n" +
		"Connection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Origin: https://app.example.com\r\n" +
		"X-Forwarded-For: 203.0.113.7, 10.0.0.2\r\n" +
		"X-Forwarded-For: 10.0.0.3\r\n" +
		"X-Real-IP: 203.0.113.7\r\n\r\n"
	var r request
	if err := parseRequest([]byte(head), &r); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"method":  {string(r.method), "GET"},
		"path":    {string(r.path), "/ws"},
		"target":  {string(r.target), "/ws?token=x"},
		"host":    {string(r.host), "example.com"},
		"upgrade": {string(r.upgrade.appendList(nil)), "WebSocket"},
		"key":     {string(r.key), "dGhlIHNhbXBsZSBub25jZQ=="},
		"origin":  {string(r.origin), "https://app.example.com"},
		"xff2":    {string(r.forwarded[1]), "10.0.0.3"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf(
				"%s = %q, want %q",
				name, c[0], c[1],
			)
		}
	}
	if r.major != 1 || r.minor != 1 || r.nForwarded != 2 || !r.connection.hasToken("upgrade") || !validKey(r.key) {
		t.Errorf(
			"parsed %+v",
			r,
		)
	}
}

func TestParseRequestRejectsMalformed(t *testing.T) {
	for _, head := range []string{
		"GET\r\n\r\n",
		"GET /ws\r\n\r\n",
		"GET /ws HTTP/1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"GET /ws HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /ws HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET /ws HTTP/1.1\r\n folded\r\nHost: a\r\n\r\n", // RFC 9112 section 2.2
		"GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost : a\r\n\r\n",           // RFC 9112 section 5.1
		"GET /ws HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", // bare CR
		"GET /ws HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a, b\r\n\r\n",
		"GET /ws#frag HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET ws HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET ftp://a/ws HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http:///ws HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://user@a/ws HTTP/1.1\r\nHost: a\r\n\r\n", // RFC 9110 section 4.2.4
		"G(T /ws HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("Connection: x\r\n", maxFieldLines+1) + "\r\n",
		"GET /ws HTTP/1.1\r\n" + strings.Repeat("X-Forwarded-For: 1.2.3.4\r\n", 9) + "\r\n",
	} {
		var r request
		if err := parseRequest([]byte(head), &r); err == nil {
			t.Errorf(
				"accepted %q",
				head,
			)
		}
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==": true,
		"dGhlIHNhbXBsZSBub25jZQ=":  false,
		"!!!!!!!!!!!!!!!!!!!!!!==": false,
		"dGhlIHNhbXBsZSBub25jZSE=": false, // 17 bytes
		"":                         false,
	} {
		if got := validKey([]byte(key)); got != want {
			t.Errorf(
				"validKey(%q) = %v",
				key, got,
			)
		}
	}
}

// view renders what the handshake reads from a parsed request, one field a
// line, lists as their elements: two spellings of one request must have
// the same view.
func view(r *request) string {
	list := func(f *fieldLines) string {
		var elems []string
		f.each(func(e []byte) bool { elems = append(elems, strings.ToLower(string(e))); return true })
		if f == &r.connection {
			slices.Sort(elems) // connection options have no order
		}
		return strings.Join(elems, "|")
	}
	return strings.Join([]string{
		"method=" + string(r.method), "path=" + string(r.path), "query=" + string(r.query),
		fmt.Sprintf("version=%d.%d", r.major, r.minor),
		fmt.Sprintf("host=%s seen=%v", r.host, r.hostSeen),
		"upgrade=" + list(&r.upgrade), "connection=" + list(&r.connection),
		"extensions=" + list(&r.extensions), "protocols=" + list(&r.protocols),
		fmt.Sprintf("key=%s x%d", r.key, r.keyLines), fmt.Sprintf("ws-version=%s x%d", r.version, r.versionLines),
		fmt.Sprintf("origin=%s x%d", r.origin, r.originLines),
	}, "\n")
}

// TestParseRequestSpellings parses spellings of one handshake that real
// clients and proxies send; each must read as the canonical one.
func TestParseRequestSpellings(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	canonical := "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a=\"b,c\"\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n\r\n"
	rest := "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a=\"b,c\"\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n\r\n"
	var want request
	if err := parseRequest([]byte(canonical), &want); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"connection over two lines":                "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: keep-alive\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + rest,
		"connection over two lines, upgrade first": "GET /ws?room=1 HTTP/1.1\r\nConnection: Upgrade\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" + rest,
		"upgrade over two lines with an empty one": "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: \r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" + rest,
		"header names in any case": "get /ws?room=1 HTTP/1.1\r\nhOST: example.com:8080\r\nUPGRADE: WebSocket\r\nconnection: Keep-Alive, upgrade\r\n" +
			strings.NewReplacer("Sec-WebSocket-Key", "sec-websocket-key", "Sec-WebSocket-Version", "SEC-WEBSOCKET-VERSION",
				"Sec-WebSocket-Extensions", "sec-WebSocket-extensions", "Sec-WebSocket-Protocol", "SEC-websocket-PROTOCOL",
				"Origin", "origin").Replace(rest),
		"whitespace around values": "GET /ws?room=1 HTTP/1.1\r\nHost:example.com:8080\r\nUpgrade:\t websocket \t\r\nConnection:   keep-alive ,\tUpgrade   \r\n" + rest,
		"empty list elements": "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: , websocket,\r\nConnection: ,, keep-alive,,Upgrade, ,\r\n" +
			strings.NewReplacer("client_max_window_bits, x-foo; a=\"b,c\"", "client_max_window_bits,, , x-foo; a=\"b,c\" ,", "chat, superchat", ",chat,,superchat").Replace(rest),
		"extensions and protocols over several lines": "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
			strings.NewReplacer("client_max_window_bits, x-foo", "client_max_window_bits\r\nSec-WebSocket-Extensions: x-foo",
				"chat, superchat", "chat\r\nSec-WebSocket-Protocol: superchat").Replace(rest),
		"folded value (obs-fold, read as spaces)": "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive,\r\n Upgrade\r\n" + rest,
		"folded over two lines with tabs":         "GET /ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\t,\r\n \t Upgrade\r\n" + rest,
		"bare LF line ends":                       strings.ReplaceAll(canonical, "\r\n", "\n"),
		"absolute-form http":                      "GET http://example.com:8080/ws?room=1 HTTP/1.1\r\nHost: other.example\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" + rest,
		"absolute-form ws, scheme in capitals":    "GET WS://example.com:8080/ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" + rest,
		"absolute-form https":                     "GET https://example.com:8080/ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" + rest,
		"absolute-form wss":                       "GET wss://example.com:8080/ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" + rest,
	}
	for name, head := range cases {
		t.Run(name, func(t *testing.T) {
			var r request
			if err := parseRequest([]byte(head), &r); err != nil {
				t.Fatalf(
					"%v\n%s",
					err, head,
				)
			}
			got, w := view(&r), view(&want)
			if name == "header names in any case" {
				w = strings.Replace(w, "method=GET", "method=get", 1)
			}
			if got != w {
				t.Fatalf(
					"read as\n%s\nwant\n%s",
					got, w,
				)
			}
		})
	}
}

// TestParseRequestTargets checks the request-target forms of RFC 9112
// section 3.2 and where the path, query and host come from.
func TestParseRequestTargets(t *testing.T) {
	for _, tc := range []struct{ target, path, query, host string }{
		{"/ws", "/ws", "", "h"},
		{"/ws?", "/ws", "?", "h"},
		{"/ws?room=1&x=%20y", "/ws", "?room=1&x=%20y", "h"},
		{"/?a=/b", "/", "?a=/b", "h"},
		{"http://127.0.0.1:8080/ws?room=1", "/ws", "?room=1", "127.0.0.1:8080"},
		{"ws://[::1]:8080/ws", "/ws", "", "[::1]:8080"},
		{"https://example.com", "/", "", "example.com"},
		{"wss://example.com?x=1", "/", "?x=1", "example.com"},
		{"http://example.com/a/b?c=http://d/", "/a/b", "?c=http://d/", "example.com"},
		{"*", "*", "", "h"},
	} {
		head := "GET " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n"
		var r request
		if err := parseRequest([]byte(head), &r); err != nil {
			t.Errorf(
				"%s: %v",
				tc.target, err,
			)
			continue
		}
		if string(r.path) != tc.path || string(r.query) != tc.query || string(r.host) != tc.host {
			t.Errorf(
				"%s: path %q query %q host %q, want %q %q %q",
				tc.target, r.path, r.query, r.host, tc.path, tc.query, tc.host,
			)
		}
	}
}

// TestUpgradeHead checks the head gobwas/ws is given: fields it reads, one
// line each, lists joined without empty elements.
func TestUpgradeHead(t *testing.T) {
	head := "GET http://example.com/ws?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: , WebSocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: a; p=\"1,2\",\r\n" +
		"Sec-WebSocket-Extensions: ,b\r\nSec-WebSocket-Protocol: ,\r\nOrigin: https://example.com\r\n\r\n"
	var r request
	if err := parseRequest([]byte(head), &r); err != nil {
		t.Fatal(err)
	}
	want := "GET /ws?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: a; p=\"1,2\", b\r\n\r\n"
	if got := string(r.appendUpgradeHead(nil)); got != want {
		t.Fatalf(
			"upgrade head\n%q\nwant\n%q",
			got, want,
		)
	}
}

var benchHead = []byte("GET http://example.com:8080/ws?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: Mozilla/5.0\r\n" +
	"Connection: keep-alive\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"X-Forwarded-For: 203.0.113.7\r\n\r\n")

// parseAndNormalize is the handshake's parsing work for one request.
func parseAndNormalize(head, dst []byte) []byte {
	var r request
	if parseRequest(head, &r) != nil || !r.connection.hasToken("upgrade") || !r.upgrade.hasToken("websocket") {
		panic("bench head refused")
	}
	return r.appendUpgradeHead(dst[:0])
}

// TestParseRequestAllocations: parsing a head and building the upgrade head
// into a pooled buffer allocate nothing.
func TestParseRequestAllocations(t *testing.T) {
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { dst = parseAndNormalize(benchHead, dst) }); n != 0 {
		t.Fatalf(
			"%v allocations per request",
			n,
		)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHead)))
	for b.Loop() {
		dst = parseAndNormalize(benchHead, dst)
	}
}

// TestForwardedLinesLimitIsExact: maxForwardedHeaders X-Forwarded-For lines
// are kept in order; one more fails the request.
func TestForwardedLinesLimitIsExact(t *testing.T) {
	head := func(lines int) []byte {
		h := "GET /ws HTTP/1.1\r\nHost: x\r\n"
		for i := range lines {
			h += fmt.Sprintf("X-Forwarded-For: 10.0.0.%d\r\n", i+1)
		}
		return []byte(h + "\r\n")
	}
	var r request
	if err := parseRequest(head(maxForwardedHeaders), &r); err != nil || r.nForwarded != maxForwardedHeaders {
		t.Fatalf(
			"%d lines: %v, kept %d",
			maxForwardedHeaders, err, r.nForwarded,
		)
	}
	for i := range maxForwardedHeaders {
		if want := fmt.Sprintf("10.0.0.%d", i+1); string(r.forwarded[i]) != want {
			t.Fatalf(
				"line %d kept as %q, want %q",
				i, r.forwarded[i], want,
			)
		}
	}
	r = request{}
	if err := parseRequest(head(maxForwardedHeaders+1), &r); err == nil {
		t.Fatalf(
			"%d lines accepted",
			maxForwardedHeaders+1,
		)
	}
}
