package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Section 5: fragmentation.
func TestSection5Fragmentation(t *testing.T) {
	frag1, frag2 := []byte("fragment1"), []byte("fragment2")
	whole := []byte("fragment1fragment2")
	ping := []byte("ping payload")
	// invalidContinuation covers 5.9 to 5.14: a continuation frame (fin or
	// not) with no message in progress, sent whole, chopped or frame-wise.
	invalidContinuation := func(fin bool, chop int) func(p *peer) {
		return func(p *peer) {
			b := append(frame(fin, 0, opCont, []byte("non-continuation payload")), frame(true, 0, opText, []byte("Hello, world!"))...)
			p.sendChopped(b, chop, 0)
			p.expectFail(1002)
		}
	}
	cases := []testCase{
		{id: "5.1", desc: "ping in two fragments", run: func(p *peer) {
			p.send(frame(false, 0, opPing, frag1), frame(true, 0, opCont, frag2))
			p.expectFail(1002)
		}},
		{id: "5.2", desc: "pong in two fragments", run: func(p *peer) {
			p.send(frame(false, 0, opPong, frag1), frame(true, 0, opCont, frag2))
			p.expectFail(1002)
		}},
		{id: "5.3", desc: "text in two fragments", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1), frame(true, 0, opCont, frag2))
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.4", desc: "text in two fragments, sent in 1-byte chops", run: func(p *peer) {
			p.sendChopped(append(frame(false, 0, opText, frag1), frame(true, 0, opCont, frag2)...), 1, 0)
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.5", desc: "text in two fragments with a pause between", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1))
			time.Sleep(100 * time.Millisecond)
			p.send(frame(true, 0, opCont, frag2))
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.6", desc: "ping between two text fragments: pong, then echo", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1), frame(true, 0, opPing, ping), frame(true, 0, opCont, frag2))
			p.expectPong(ping)
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.7", desc: "as 5.6, in 1-byte chops", run: func(p *peer) {
			b := append(append(frame(false, 0, opText, frag1), frame(true, 0, opPing, ping)...), frame(true, 0, opCont, frag2)...)
			p.sendChopped(b, 1, 0)
			p.expectPong(ping)
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.8", desc: "as 5.6, frame by frame with pauses", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1))
			time.Sleep(50 * time.Millisecond)
			p.send(frame(true, 0, opPing, ping))
			p.expectPong(ping)
			time.Sleep(50 * time.Millisecond)
			p.send(frame(true, 0, opCont, frag2))
			p.expectMessage(opText, whole)
			p.closeNormally(1000)
		}},
		{id: "5.9", desc: "final continuation with no message in progress", run: invalidContinuation(true, 1<<20)},
		{id: "5.10", desc: "as 5.9, in 1-byte chops", run: invalidContinuation(true, 1)},
		{id: "5.11", desc: "as 5.9, in 7-byte chops", run: invalidContinuation(true, 7)},
		{id: "5.12", desc: "non-final continuation with no message in progress", run: invalidContinuation(false, 1<<20)},
		{id: "5.13", desc: "as 5.12, in 1-byte chops", run: invalidContinuation(false, 1)},
		{id: "5.14", desc: "as 5.12, in 7-byte chops", run: invalidContinuation(false, 7)},
		{id: "5.15", desc: "text in two fragments, then a continuation without a message", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1), frame(true, 0, opCont, frag2), frame(false, 0, opCont, []byte("fragment3")), frame(true, 0, opCont, []byte("fragment4")))
			p.expectMessage(opText, whole)
			p.expectFail(1002)
		}},
		{id: "5.16", desc: "continuation, then a fragmented message, twice", run: func(p *peer) {
			for range 2 {
				p.send(frame(false, 0, opCont, frag1), frame(false, 0, opText, frag2), frame(true, 0, opCont, []byte("fragment3")))
			}
			p.expectFail(1002)
		}},
		{id: "5.17", desc: "final continuation, then a fragmented message, twice", run: func(p *peer) {
			for range 2 {
				p.send(frame(true, 0, opCont, frag1), frame(false, 0, opText, frag2), frame(true, 0, opCont, []byte("fragment3")))
			}
			p.expectFail(1002)
		}},
		{id: "5.18", desc: "text fragment followed by a new text message", run: func(p *peer) {
			p.send(frame(false, 0, opText, frag1), frame(true, 0, opText, frag2))
			p.expectFail(1002)
		}},
		{id: "5.19", desc: "text in five fragments with pings and pauses between", run: func(p *peer) {
			parts := [][]byte{[]byte("fragment1"), []byte("fragment2"), []byte("fragment3"), []byte("fragment4"), []byte("fragment5")}
			p.send(frame(false, 0, opText, parts[0]), frame(false, 0, opCont, parts[1]), frame(true, 0, opPing, []byte("pongme 1!")))
			p.expectPong([]byte("pongme 1!"))
			time.Sleep(100 * time.Millisecond)
			p.send(frame(false, 0, opCont, parts[2]), frame(false, 0, opCont, parts[3]), frame(true, 0, opPing, []byte("pongme 2!")))
			p.expectPong([]byte("pongme 2!"))
			time.Sleep(100 * time.Millisecond)
			p.send(frame(true, 0, opCont, parts[4]))
			p.expectMessage(opText, []byte("fragment1fragment2fragment3fragment4fragment5"))
			p.closeNormally(1000)
		}},
		{id: "5.20", desc: "as 5.19, each frame sent on its own with pauses", run: func(p *peer) {
			frames := [][]byte{
				frame(false, 0, opText, []byte("fragment1")), frame(false, 0, opCont, []byte("fragment2")),
				frame(true, 0, opPing, []byte("pongme 1!")), frame(false, 0, opCont, []byte("fragment3")),
				frame(false, 0, opCont, []byte("fragment4")), frame(true, 0, opPing, []byte("pongme 2!")),
				frame(true, 0, opCont, []byte("fragment5")),
			}
			for _, f := range frames {
				p.send(f)
				time.Sleep(20 * time.Millisecond)
			}
			p.expectPong([]byte("pongme 1!"))
			p.expectPong([]byte("pongme 2!"))
			p.expectMessage(opText, []byte("fragment1fragment2fragment3fragment4fragment5"))
			p.closeNormally(1000)
		}},
	}
	runCases(t, plainAddr, cases)
}

// Section 6: UTF-8 handling.
func TestSection6UTF8(t *testing.T) {
	hello := []byte("Hello-µ@ßöäüàá-UTF-8!!")
	kosme := []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")
	kosmeInvalid := []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")
	cases := []testCase{
		{id: "6.1.1", desc: "empty text message", run: func(p *peer) {
			p.send(frame(true, 0, opText, nil))
			p.expectMessage(opText, []byte{})
			p.closeNormally(1000)
		}},
		{id: "6.1.2", desc: "empty text message in three empty fragments", run: func(p *peer) {
			p.send(frame(false, 0, opText, nil), frame(false, 0, opCont, nil), frame(true, 0, opCont, nil))
			p.expectMessage(opText, []byte{})
			p.closeNormally(1000)
		}},
		{id: "6.1.3", desc: "text in three fragments, the outer two empty", run: func(p *peer) {
			p.send(frame(false, 0, opText, nil), frame(false, 0, opCont, []byte("middle")), frame(true, 0, opCont, nil))
			p.expectMessage(opText, []byte("middle"))
			p.closeNormally(1000)
		}},
		{id: "6.2.1", desc: "valid UTF-8 in one frame", run: func(p *peer) {
			p.send(frame(true, 0, opText, hello))
			p.expectMessage(opText, hello)
			p.closeNormally(1000)
		}},
		{id: "6.2.2", desc: "valid UTF-8 in two fragments split at a rune boundary", run: func(p *peer) {
			p.send(frame(false, 0, opText, hello[:14]), frame(true, 0, opCont, hello[14:]))
			p.expectMessage(opText, hello)
			p.closeNormally(1000)
		}},
		{id: "6.2.3", desc: "valid UTF-8 in one fragment per byte", run: func(p *peer) {
			p.send(p.message(opText, hello, 1, false))
			p.expectMessage(opText, hello)
			p.closeNormally(1000)
		}},
		{id: "6.2.4", desc: "valid UTF-8 (κόσμε) in one fragment per byte", run: func(p *peer) {
			p.send(p.message(opText, kosme, 1, false))
			p.expectMessage(opText, kosme)
			p.closeNormally(1000)
		}},
		{id: "6.3.1", desc: "invalid UTF-8 (surrogate) in one frame", run: func(p *peer) {
			p.send(frame(true, 0, opText, kosmeInvalid))
			p.expectFail(1007)
		}},
		{id: "6.3.2", desc: "invalid UTF-8 in one fragment per byte", run: func(p *peer) {
			p.send(p.message(opText, kosmeInvalid, 1, false))
			p.expectFail(1007)
		}},
		// Fail fast (6.4.x): the connection must fail when the bad bytes
		// arrive, before the rest of the message is sent.
		{id: "6.4.1", desc: "fail fast: invalid second fragment of three", run: func(p *peer) {
			p.send(frame(false, 0, opText, kosme))
			time.Sleep(50 * time.Millisecond)
			p.send(frame(false, 0, opCont, []byte("\xf4\x90\x80\x80")))
			p.expectFail(1007) // before the third fragment
		}},
		{id: "6.4.2", desc: "fail fast: invalid code point split across fragments", run: func(p *peer) {
			p.send(frame(false, 0, opText, append(append([]byte{}, kosme...), 0xf4)))
			time.Sleep(50 * time.Millisecond)
			p.send(frame(false, 0, opCont, []byte{0x90}))
			p.expectFail(1007)
		}},
		{id: "6.4.3", desc: "fail fast: invalid bytes in the middle of one frame still arriving", run: func(p *peer) {
			b := frame(true, 0, opText, append(append(append([]byte{}, kosme...), 0xf4, 0x90, 0x80, 0x80), repeat("e", 100)...))
			cut := len(b) - 100 // header, κόσμε and the invalid sequence
			p.send(b[:cut])
			p.expectFail(1007) // the frame's remaining 100 bytes were never sent
		}},
		{id: "6.4.4", desc: "fail fast: as 6.4.3, bytes sent one at a time", run: func(p *peer) {
			b := frame(true, 0, opText, append(append(append([]byte{}, kosme...), 0xf4, 0x90, 0x80, 0x80), repeat("e", 100)...))
			cut := len(b) - 100
			p.sendChopped(b[:cut], 1, time.Millisecond)
			p.expectFail(1007)
		}},
	}
	for i, s := range utf8Sequences {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("6.%d", i+5),
			desc: s.desc,
			run: func(p *peer) {
				p.send(frame(true, 0, opText, []byte(s.bytes)))
				if s.valid {
					p.expectMessage(opText, []byte(s.bytes))
					p.closeNormally(1000)
				} else {
					p.expectFail(1007)
				}
			},
		})
	}
	runCases(t, plainAddr, cases)
}

// utf8Sequences is Markus Kuhn's UTF-8 decoder stress test, condensed the
// way Autobahn's 6.5 to 6.23 use it: boundaries, malformed sequences,
// overlong forms, surrogates and non-characters.
var utf8Sequences = []struct {
	desc  string
	bytes string
	valid bool
}{
	{desc: "κόσμε", bytes: "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", valid: true},
	{desc: "first 1-byte sequence U+0000", bytes: "\x00", valid: true},
	{desc: "first 2-byte sequence U+0080", bytes: "\xc2\x80", valid: true},
	{desc: "first 3-byte sequence U+0800", bytes: "\xe0\xa0\x80", valid: true},
	{desc: "first 4-byte sequence U+10000", bytes: "\xf0\x90\x80\x80", valid: true},
	{desc: "last 1-byte sequence U+007F", bytes: "\x7f", valid: true},
	{desc: "last 2-byte sequence U+07FF", bytes: "\xdf\xbf", valid: true},
	{desc: "last 3-byte sequence U+FFFF (non-character)", bytes: "\xef\xbf\xbf", valid: true},
	{desc: "last valid code point U+10FFFF", bytes: "\xf4\x8f\xbf\xbf", valid: true},
	{desc: "U+D7FF before the surrogates", bytes: "\xed\x9f\xbf", valid: true},
	{desc: "U+E000 after the surrogates", bytes: "\xee\x80\x80", valid: true},
	{desc: "U+FFFD replacement character", bytes: "\xef\xbf\xbd", valid: true},
	{desc: "U+FFFE non-character", bytes: "\xef\xbf\xbe", valid: true},
	{desc: "U+110000 above the last code point", bytes: "\xf4\x90\x80\x80", valid: false},
	{desc: "5-byte sequence", bytes: "\xf8\x88\x80\x80\x80", valid: false},
	{desc: "6-byte sequence", bytes: "\xfc\x84\x80\x80\x80\x80", valid: false},
	{desc: "first continuation byte alone", bytes: "\x80", valid: false},
	{desc: "last continuation byte alone", bytes: "\xbf", valid: false},
	{desc: "two continuation bytes", bytes: "\x80\xbf", valid: false},
	{desc: "lone 2-byte start followed by a space", bytes: "\xc0 ", valid: false},
	{desc: "lone 3-byte start followed by a space", bytes: "\xe0 ", valid: false},
	{desc: "lone 4-byte start followed by a space", bytes: "\xf0 ", valid: false},
	{desc: "2-byte sequence with the last byte missing", bytes: "\xc2", valid: false},
	{desc: "3-byte sequence with the last byte missing", bytes: "\xe0\x80", valid: false},
	{desc: "4-byte sequence with the last byte missing", bytes: "\xf0\x80\x80", valid: false},
	{desc: "byte fe", bytes: "\xfe", valid: false},
	{desc: "byte ff", bytes: "\xff", valid: false},
	{desc: "fe fe ff ff", bytes: "\xfe\xfe\xff\xff", valid: false},
	{desc: "overlong slash, 2 bytes", bytes: "\xc0\xaf", valid: false},
	{desc: "overlong slash, 3 bytes", bytes: "\xe0\x80\xaf", valid: false},
	{desc: "overlong slash, 4 bytes", bytes: "\xf0\x80\x80\xaf", valid: false},
	{desc: "maximum overlong, 2 bytes", bytes: "\xc1\xbf", valid: false},
	{desc: "maximum overlong, 3 bytes", bytes: "\xe0\x9f\xbf", valid: false},
	{desc: "maximum overlong, 4 bytes", bytes: "\xf0\x8f\xbf\xbf", valid: false},
	{desc: "overlong NUL, 2 bytes", bytes: "\xc0\x80", valid: false},
	{desc: "high surrogate U+D800", bytes: "\xed\xa0\x80", valid: false},
	{desc: "low surrogate U+DFFF", bytes: "\xed\xbf\xbf", valid: false},
	{desc: "surrogate pair U+D800 U+DC00", bytes: "\xed\xa0\x80\xed\xb0\x80", valid: false},
	{desc: "surrogate pair U+DBFF U+DFFF", bytes: "\xed\xaf\xbf\xed\xbf\xbf", valid: false},
	{desc: "valid text, then an invalid byte at the very end", bytes: "Hello-µ@ßöäüàá-UTF-8!!\xff", valid: false},
}

// Section 7: close handling.
func TestSection7Close(t *testing.T) {
	cases := []testCase{
		{id: "7.1.1", desc: "text, then close: echo, then a clean close", run: func(p *peer) {
			p.send(frame(true, 0, opText, []byte("Hello World!")))
			p.expectMessage(opText, []byte("Hello World!"))
			p.closeNormally(1000)
		}},
		{id: "7.1.2", desc: "close twice: the second is ignored", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, "")), frame(true, 0, opClose, closeBody(1000, "")))
			p.expectClose(1000)
		}},
		{id: "7.1.3", desc: "close, then ping: no pong", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, "")), frame(true, 0, opPing, []byte("Hello World!")))
			e := p.mustNext(5 * time.Second)
			if e.kind != "close" || e.code != 1000 {
				p.t.Fatalf(
					"got %v, want close 1000 and nothing else",
					e,
				)
			}
			p.expectEOF()
		}},
		{id: "7.1.4", desc: "close, then text: no echo", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, "")), frame(true, 0, opText, []byte("Hello World!")))
			e := p.mustNext(5 * time.Second)
			if e.kind != "close" {
				p.t.Fatalf(
					"got %v, want close only",
					e,
				)
			}
			p.expectEOF()
		}},
		{id: "7.1.5", desc: "first fragment, close, last fragment: the message is dropped", run: func(p *peer) {
			p.send(frame(false, 0, opText, []byte("fragment1")), frame(true, 0, opClose, closeBody(1000, "")), frame(true, 0, opCont, []byte("fragment2")))
			e := p.mustNext(5 * time.Second)
			if e.kind != "close" {
				p.t.Fatalf(
					"got %v, want close only",
					e,
				)
			}
			p.expectEOF()
		}},
		{id: "7.1.6", desc: "256 KiB message, close, ping", run: func(p *peer) {
			big := repeat("BAsd7&jh23", 26215)
			p.send(frame(true, 0, opText, big), frame(true, 0, opClose, closeBody(1000, "")), frame(true, 0, opPing, []byte("Hello World!")))
			p.expectMessage(opText, big)
			p.expectClose(1000)
		}},
		{id: "7.3.1", desc: "close without payload: answered without a code", run: func(p *peer) {
			p.closeNormally(1005)
		}},
		{id: "7.3.2", desc: "close with a 1-byte payload", run: func(p *peer) {
			p.send(frame(true, 0, opClose, []byte{0x03}))
			p.expectFail(1002)
		}},
		{id: "7.3.3", desc: "close with code 1000 and no reason", run: func(p *peer) {
			p.closeNormally(1000)
		}},
		{id: "7.3.4", desc: "close with code and reason", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, "Hello World!")))
			p.expectClose(1000)
		}},
		{id: "7.3.5", desc: "close with a 123-byte reason", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, string(repeat("*", 123)))))
			p.expectClose(1000)
		}},
		{id: "7.3.6", desc: "close with a 124-byte reason (126-byte control frame)", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, string(repeat("*", 124)))))
			p.expectFail(1002)
		}},
		{id: "7.5.1", desc: "close reason with invalid UTF-8", run: func(p *peer) {
			p.send(frame(true, 0, opClose, closeBody(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")))
			p.expectFail(1007)
		}},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.7.%d", i+1),
			desc: fmt.Sprintf("valid close code %d is answered with itself", code),
			run:  func(p *peer) { p.closeNormally(code) },
		})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.9.%d", i+1),
			desc: fmt.Sprintf("invalid close code %d", code),
			run: func(p *peer) {
				p.send(frame(true, 0, opClose, closeBody(code, "")))
				p.expectFail(1002)
			},
		})
	}
	for i, code := range []int{5000, 65535} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("7.13.%d", i+1),
			desc: fmt.Sprintf("close code %d, outside every range", code),
			run: func(p *peer) {
				p.send(frame(true, 0, opClose, closeBody(code, "")))
				p.expectFail(1002)
			},
		})
	}
	runCases(t, plainAddr, cases)
}
