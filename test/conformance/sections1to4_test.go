package conformance

import (
	"fmt"
	"testing"
	"time"
)

// Section 1: framing. Text and binary messages of the lengths where the
// length encoding changes, whole and sent in 997-byte chops.
func TestSection1Framing(t *testing.T) {
	var cases []testCase
	for s, op := range []byte{opText, opBinary} {
		name := map[byte]string{opText: "text", opBinary: "binary"}[op]
		for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("1.%d.%d", s+1, i+1),
				desc: fmt.Sprintf("%s message of %d bytes", name, n),
				run: func(p *peer) {
					payload := repeat("*", n)
					p.send(frame(true, 0, op, payload))
					p.expectMessage(op, payload)
					p.closeNormally(1000)
				},
			})
		}
		cases = append(cases, testCase{
			id:   fmt.Sprintf("1.%d.8", s+1),
			desc: name + " message of 65536 bytes in chops of 997",
			run: func(p *peer) {
				payload := repeat("*", 65536)
				p.sendChopped(frame(true, 0, op, payload), 997, 0)
				p.expectMessage(op, payload)
				p.closeNormally(1000)
			},
		})
	}
	runCases(t, plainAddr, cases)
}

// Section 2: pings and pongs.
func TestSection2PingPong(t *testing.T) {
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	cases := []testCase{
		{id: "2.1", desc: "ping without payload", run: func(p *peer) {
			p.send(frame(true, 0, opPing, nil))
			p.expectPong(nil)
			p.closeNormally(1000)
		}},
		{id: "2.2", desc: "ping with text payload", run: func(p *peer) {
			p.send(frame(true, 0, opPing, []byte("Hello, world!")))
			p.expectPong([]byte("Hello, world!"))
			p.closeNormally(1000)
		}},
		{id: "2.3", desc: "ping with binary payload", run: func(p *peer) {
			p.send(frame(true, 0, opPing, bin))
			p.expectPong(bin)
			p.closeNormally(1000)
		}},
		{id: "2.4", desc: "ping with 125-byte payload", run: func(p *peer) {
			p.send(frame(true, 0, opPing, repeat("\xfe", 125)))
			p.expectPong(repeat("\xfe", 125))
			p.closeNormally(1000)
		}},
		{id: "2.5", desc: "ping with 126-byte payload fails the connection", run: func(p *peer) {
			p.send(frame(true, 0, opPing, repeat("\xfe", 126)))
			p.expectFail(1002)
		}},
		{id: "2.6", desc: "ping with 125-byte payload sent one byte at a time", run: func(p *peer) {
			p.sendChopped(frame(true, 0, opPing, repeat("\xfe", 125)), 1, time.Millisecond)
			p.expectPong(repeat("\xfe", 125))
			p.closeNormally(1000)
		}},
		{id: "2.7", desc: "unsolicited pong without payload is ignored", run: func(p *peer) {
			p.send(frame(true, 0, opPong, nil))
			p.expectSilence(300 * time.Millisecond)
			p.closeNormally(1000)
		}},
		{id: "2.8", desc: "unsolicited pong with payload is ignored", run: func(p *peer) {
			p.send(frame(true, 0, opPong, []byte("unsolicited pong payload")))
			p.expectSilence(300 * time.Millisecond)
			p.closeNormally(1000)
		}},
		{id: "2.9", desc: "unsolicited pong, then ping: one pong, for the ping", run: func(p *peer) {
			p.send(frame(true, 0, opPong, []byte("unsolicited")), frame(true, 0, opPing, []byte("solicited")))
			p.expectPong([]byte("solicited"))
			p.closeNormally(1000)
		}},
		{id: "2.10", desc: "10 pings in a row: 10 pongs", run: func(p *peer) {
			for i := range 10 {
				p.send(frame(true, 0, opPing, fmt.Appendf(nil, "payload-%d", i)))
			}
			for i := range 10 {
				p.expectPong(fmt.Appendf(nil, "payload-%d", i))
			}
			p.closeNormally(1000)
		}},
		{id: "2.11", desc: "10 pings in 1-byte chops: 10 pongs", run: func(p *peer) {
			for i := range 10 {
				p.sendChopped(frame(true, 0, opPing, fmt.Appendf(nil, "payload-%d", i)), 1, 0)
			}
			for i := range 10 {
				p.expectPong(fmt.Appendf(nil, "payload-%d", i))
			}
			p.closeNormally(1000)
		}},
	}
	runCases(t, plainAddr, cases)
}

// Section 3: reserved bits, set without a negotiated extension.
func TestSection3ReservedBits(t *testing.T) {
	hello := []byte("Hello, world!")
	cases := []testCase{
		{id: "3.1", desc: "text with RSV1", run: func(p *peer) {
			p.send(frame(true, rsv1, opText, hello))
			p.expectFail(1002)
		}},
		{id: "3.2", desc: "text, then text with RSV2, then ping: echo, then failure", run: func(p *peer) {
			p.send(frame(true, 0, opText, hello), frame(true, rsv2, opText, hello), frame(true, 0, opPing, hello))
			p.expectMessage(opText, hello)
			p.expectFail(1002)
		}},
		{id: "3.3", desc: "as 3.2 with RSV1|RSV2, sent frame by frame", run: func(p *peer) {
			p.send(frame(true, 0, opText, hello))
			p.expectMessage(opText, hello)
			p.send(frame(true, rsv1|rsv2, opText, hello))
			p.expectFail(1002)
		}},
		{id: "3.4", desc: "as 3.2 with RSV3, sent in 1-byte chops", run: func(p *peer) {
			p.sendChopped(frame(true, 0, opText, hello), 1, 0)
			p.sendChopped(frame(true, rsv3, opText, hello), 1, 0)
			p.expectMessage(opText, hello)
			p.expectFail(1002)
		}},
		{id: "3.5", desc: "binary with RSV1|RSV3", run: func(p *peer) {
			p.send(frame(true, rsv1|rsv3, opBinary, []byte{0, 0xff, 0xfe}))
			p.expectFail(1002)
		}},
		{id: "3.6", desc: "ping with RSV2|RSV3", run: func(p *peer) {
			p.send(frame(true, rsv2|rsv3, opPing, hello))
			p.expectFail(1002)
		}},
		{id: "3.7", desc: "close with all reserved bits", run: func(p *peer) {
			p.send(frame(true, rsv1|rsv2|rsv3, opClose, nil))
			p.expectFail(1002)
		}},
	}
	runCases(t, plainAddr, cases)
}

// Section 4: reserved opcodes.
func TestSection4Opcodes(t *testing.T) {
	var cases []testCase
	for i, op := range []byte{3, 4, 5, 6, 7} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("4.1.%d", i+1),
			desc: fmt.Sprintf("reserved data opcode %d after a text message", op),
			run: func(p *peer) {
				p.send(frame(true, 0, opText, []byte("hello")), frame(true, 0, op, []byte("reserved")), frame(true, 0, opPing, nil))
				p.expectMessage(opText, []byte("hello"))
				p.expectFail(1002)
			},
		})
	}
	for i, op := range []byte{11, 12, 13, 14, 15} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("4.2.%d", i+1),
			desc: fmt.Sprintf("reserved control opcode %d", op),
			run: func(p *peer) {
				p.send(frame(true, 0, opText, []byte("hello")), frame(true, 0, op, nil))
				p.expectMessage(opText, []byte("hello"))
				p.expectFail(1002)
			},
		})
	}
	runCases(t, plainAddr, cases)
}
