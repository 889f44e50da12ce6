package codec

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseClose(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		code    StatusCode
		reason  string
		err     error
	}{
		{name: "empty", payload: "", code: StatusNoStatusReceived},
		{name: "one byte", payload: "\x03", err: ErrCloseLength},
		{name: "1000 with reason", payload: "\x03\xe8bye", code: 1000, reason: "bye"},
		{name: "1003", payload: "\x03\xeb", code: 1003},
		{name: "1007", payload: "\x03\xef", code: 1007},
		{name: "1014", payload: "\x03\xf6", code: 1014},
		{name: "3000", payload: "\x0b\xb8", code: 3000},
		{name: "4999", payload: "\x13\x87", code: 4999},
		{name: "0", payload: "\x00\x00", err: ErrCloseCode},
		{name: "999", payload: "\x03\xe7", err: ErrCloseCode},
		{name: "1004", payload: "\x03\xec", err: ErrCloseCode},
		{name: "1005", payload: "\x03\xed", err: ErrCloseCode},
		{name: "1006", payload: "\x03\xee", err: ErrCloseCode},
		{name: "1015", payload: "\x03\xf7", err: ErrCloseCode},
		{name: "1016", payload: "\x03\xf8", err: ErrCloseCode},
		{name: "2999", payload: "\x0b\xb7", err: ErrCloseCode},
		{name: "5000", payload: "\x13\x88", err: ErrCloseCode},
		{name: "65535", payload: "\xff\xff", err: ErrCloseCode},
		{name: "bad utf-8 reason", payload: "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", err: ErrInvalidCloseUTF8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, err := ParseClose([]byte(tc.payload))
			if err != tc.err || code != tc.code || string(reason) != tc.reason {
				t.Fatalf(
					"got (%d, %q, %v), want (%d, %q, %v)",
					code, reason, err, tc.code, tc.reason, tc.err,
				)
			}
		})
	}
}

func TestCloseErrorsCarryTheirCodes(t *testing.T) {
	if ErrInvalidCloseUTF8.Code != StatusInvalidPayload || ErrCloseCode.Code != StatusProtocolError {
		t.Fatal("close payload errors must fail with 1007 (bad UTF-8) and 1002 (bad code)")
	}
}

func TestAppendCloseBody(t *testing.T) {
	if got := AppendCloseBody(nil, StatusNoStatusReceived, "ignored"); len(got) != 0 {
		t.Fatalf(
			"1005 must give an empty payload, got %q",
			got,
		)
	}
	got := AppendCloseBody(nil, StatusGoingAway, "going away")
	if string(got) != "\x03\xe9going away" {
		t.Fatalf(
			"got %q",
			got,
		)
	}
	// A long reason is cut to 123 bytes without splitting a rune.
	long := strings.Repeat("é", 100) // 200 bytes
	got = AppendCloseBody(nil, StatusPolicyViolation, long)
	if len(got) > MaxControlPayload || !utf8.Valid(got[2:]) {
		t.Fatalf(
			"long reason: %d bytes, valid=%v",
			len(got), utf8.Valid(got[2:]),
		)
	}
	if code, _, err := ParseClose(got); err != nil || code != StatusPolicyViolation {
		t.Fatalf(
			"truncated close body does not parse: %d %v",
			code, err,
		)
	}
}
