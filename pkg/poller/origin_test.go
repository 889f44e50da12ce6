package poller

import "testing"

func TestOriginPolicy(t *testing.T) {
	p, err := NewOriginPolicy([]string{
		"https://app.example.com",
		"http://localhost:3000",
		"*.example.org",
		"https://*.secure.net:8443",
	}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		origin  string
		present bool
		host    string
		want    bool
	}{
		{origin: "https://app.example.com", present: true, want: true},
		{origin: "https://APP.Example.com:443", present: true, want: true},
		{origin: "http://app.example.com", present: true, want: false},
		{origin: "https://app.example.com:8443", present: true, want: false},
		{origin: "https://evil.com", present: true, want: false},
		{origin: "https://app.example.com.evil.com", present: true, want: false},
		{origin: "http://localhost:3000", present: true, want: true},
		{origin: "http://localhost:3001", present: true, want: false},
		{origin: "https://a.example.org", present: true, want: true},
		{origin: "http://a.b.example.org", present: true, want: true},
		{origin: "https://example.org", present: true, want: false},
		{origin: "https://badexample.org", present: true, want: false},
		{origin: "ftp://a.example.org", present: true, want: false},
		{origin: "https://x.secure.net:8443", present: true, want: true},
		{origin: "https://x.secure.net", present: true, want: false},
		{origin: "null", present: true, want: false},
		{origin: "", present: false, want: false},
		{origin: "http://gw.local:8080", present: true, host: "gw.local:8080", want: true},
		{origin: "https://gw.local", present: true, host: "gw.local", want: true},
		{origin: "http://other.local:8080", present: true, host: "gw.local:8080", want: false},
		{origin: "http://[::1]:8080", present: true, host: "[::1]:8080", want: true},
		// Several values in one line (RFC 6454's origin-list, or a list a
		// proxy joined): never one allowed origin, whichever comes first.
		{origin: "https://app.example.com https://evil.com", present: true, want: false},
		{origin: "https://evil.com https://app.example.com", present: true, want: false},
		{origin: "https://app.example.com, https://evil.com", present: true, want: false},
		{origin: "https://evil.com, https://app.example.com", present: true, want: false},
		{origin: "https://app.example.com, https://app.example.com", present: true, want: false},
		{origin: "http://gw.local:8080, http://other.local", present: true, host: "gw.local:8080", want: false},
	}
	for _, tc := range cases {
		if got := p.Allow([]byte(tc.origin), tc.present, []byte(tc.host)); got != tc.want {
			t.Errorf(
				"Allow(%q, host %q) = %v, want %v",
				tc.origin, tc.host, got, tc.want,
			)
		}
	}
}

func TestOriginPolicyMissingAndAny(t *testing.T) {
	p, _ := NewOriginPolicy(nil, true, false)
	if !p.Allow(nil, false, nil) {
		t.Error("missing origin refused although allowed")
	}
	if p.Allow([]byte("http://a.com"), true, []byte("a.com")) {
		t.Error("same origin allowed although disabled")
	}
	any, _ := NewOriginPolicy([]string{"*"}, false, false)
	if !any.Allow([]byte("https://whatever.example"), true, nil) {
		t.Error("* does not allow everything")
	}
}

func TestOriginPolicyAcceptsEveryOriginShape(t *testing.T) {
	for _, good := range []string{"https://a.com", "http://a.com:8080", "https://[::1]:8443", "http://127.0.0.1",
		"capacitor://localhost", "chrome-extension://abcdefghijklmnop", "ftp://a.com", "https://xn--bcher-kva.example", "https://a_b.example",
		"*.example.com", "https://*.example.com:8443", "*.example.com:8080"} {
		if _, err := NewOriginPolicy([]string{good}, true, true); err != nil {
			t.Errorf("entry %q refused: %v", good, err)
		}
	}
}

func TestOriginPolicyRejectsBadEntries(t *testing.T) {
	for _, bad := range []string{"example.com", "https://a.*.com", "*.", "https://",
		"ht!tp://a.com", "ht!tp://[x", "1http://a.com", "https://a.com:99999", "https://a.com:0", "https://a.com:8x",
		"https://[x]", "https://[::1", "https://a!b.com",
		"https://*.a.com:99999", "ht!tp://*.a.com", "*.a!b.com"} {
		if _, err := NewOriginPolicy([]string{bad}, true, true); err == nil {
			t.Errorf(
				"entry %q accepted",
				bad,
			)
		}
	}
}
