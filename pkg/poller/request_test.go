package poller

import (
	"fmt"
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
		"upgrade": {string(r.upgrade), "WebSocket"},
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
	if r.major != 1 || r.minor != 1 || r.nForwarded != 2 || !hasToken(r.connection, "upgrade") || !validKey(r.key) {
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
		"GET /ws HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
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
