package conformance

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const messageLimit = 1 << 20 // the gateway's default limits.max_message_size

// Section 9: limits. Large messages up to the default 1 MiB limit are
// echoed, whole, fragmented and chopped; one byte more fails with 1009;
// many small messages in a row all come back.
func TestSection9Limits(t *testing.T) {
	var cases []testCase
	for s, op := range []byte{opText, opBinary} {
		for i, n := range []int{64 << 10, 256 << 10, messageLimit} {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("9.%d.%d", s+1, i+1),
				desc: fmt.Sprintf("message of %d bytes", n),
				run: func(p *peer) {
					payload := repeat("*", n)
					p.send(frame(true, 0, op, payload))
					p.expectMessage(op, payload)
					p.closeNormally(1000)
				},
			})
		}
		cases = append(cases, testCase{
			id:   fmt.Sprintf("9.%d.4", s+1),
			desc: fmt.Sprintf("message one byte over the %d-byte limit", messageLimit),
			run: func(p *peer) {
				p.send(frame(true, 0, op, repeat("*", messageLimit+1)))
				p.expectFail(1009)
			},
		})
		cases = append(cases, testCase{
			id:   fmt.Sprintf("9.%d.5", s+1),
			desc: "frame announcing 2^62 bytes",
			run: func(p *peer) {
				hdr := []byte{0x80 | op, 0x80 | 127, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
				p.send(hdr)
				p.expectFail(1009)
			},
		})
	}
	for s, op := range []byte{opText, opBinary} {
		for i, frag := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("9.%d.%d", s+3, i+1),
				desc: fmt.Sprintf("1 MiB message in fragments of %d bytes", frag),
				run: func(p *peer) {
					payload := repeat("*", messageLimit)
					p.send(p.message(op, payload, frag, false))
					p.expectMessage(op, payload)
					p.closeNormally(1000)
				},
			})
		}
		cases = append(cases, testCase{
			id:   fmt.Sprintf("9.%d.9", s+3),
			desc: "fragments adding up to one byte over the limit",
			run: func(p *peer) {
				p.send(p.message(op, repeat("*", messageLimit+1), 64<<10, false))
				p.expectFail(1009)
			},
		})
	}
	for s, op := range []byte{opText, opBinary} {
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("9.%d.%d", s+5, i+1),
				desc: fmt.Sprintf("1 MiB message sent in %d-byte chops", chop),
				run: func(p *peer) {
					payload := repeat("*", messageLimit)
					p.sendChopped(frame(true, 0, op, payload), chop, 0)
					p.expectMessage(op, payload)
					p.closeNormally(1000)
				},
			})
		}
	}
	for s, op := range []byte{opText, opBinary} {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("9.%d.%d", s+7, i+1),
				desc: fmt.Sprintf("1000 messages of %d bytes, each after the previous echo", n),
				run: func(p *peer) {
					payload := repeat("*", n)
					for range 1000 {
						p.send(frame(true, 0, op, payload))
						p.expectMessage(op, payload)
					}
					p.closeNormally(1000)
				},
			})
		}
	}
	runCases(t, plainAddr, cases)
}

// Section 10: a message auto-fragmented by the client.
func TestSection10AutoFragmentation(t *testing.T) {
	runCases(t, plainAddr, []testCase{
		{id: "10.1.1", desc: "64 KiB text message in 1300-byte fragments", run: func(p *peer) {
			payload := repeat("*", 65536)
			p.send(p.message(opText, payload, 1300, false))
			p.expectMessage(opText, payload)
			p.closeNormally(1000)
		}},
	})
}

// compressionData returns test payloads: text that compresses well (JSON)
// and binary that compresses poorly (noise with some structure).
func compressionData(text bool, n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	if text {
		for b.Len() < n {
			fmt.Fprintf(&b, `{"id":%d,"symbol":"GW%d","price":%.2f,"tags":["κόσμε","ok"]},`, r.IntN(1e6), r.IntN(50), r.Float64()*1000)
		}
		out := []byte(b.String())[:n]
		for len(out) > 0 && !utf8.Valid(out) { // do not cut a rune in two
			out[len(out)-1] = ' '
		}
		return out
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.IntN(16)) * byte(i%7)
	}
	return p
}

// Section 12: permessage-deflate with the default offer. Messages of every
// size, text and binary, whole and auto-fragmented, compressed by the
// client; the server's answers must inflate to the same bytes.
func TestSection12Compression(t *testing.T) {
	sizes := []struct{ n, frag int }{
		{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
		{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768},
	}
	var cases []testCase
	for s, text := range []bool{true, false} {
		op := map[bool]byte{true: opText, false: opBinary}[text]
		for i, sz := range sizes {
			cases = append(cases, testCase{
				id:   fmt.Sprintf("12.%d.%d", s+1, i+1),
				desc: fmt.Sprintf("20 compressed %s messages of %d bytes, fragments of %d", map[bool]string{true: "text", false: "binary"}[text], sz.n, sz.frag),
				run: func(p *peer) {
					if !p.deflate {
						p.t.Fatalf(
							"compression not negotiated: %q",
							p.ext,
						)
					}
					for m := range 20 {
						payload := compressionData(text, sz.n, uint64(m))
						p.send(p.message(op, payload, sz.frag, true))
						p.expectCompressed(op, payload)
					}
					p.closeNormally(1000)
				},
			})
		}
	}
	// The message size limit applies to the inflated size, exactly.
	for s, op := range []byte{opText, opBinary} {
		cases = append(cases, testCase{
			id:   fmt.Sprintf("12.%d.%d", s+3, 1),
			desc: fmt.Sprintf("compressed message inflating to the %d-byte limit", messageLimit),
			run: func(p *peer) {
				payload := repeat("*", messageLimit)
				p.send(p.message(op, payload, 0, true))
				p.expectCompressed(op, payload)
				p.closeNormally(1000)
			},
		}, testCase{
			id:   fmt.Sprintf("12.%d.%d", s+3, 2),
			desc: "compressed message inflating to one byte over the limit",
			run: func(p *peer) {
				p.send(p.message(op, repeat("*", messageLimit+1), 0, true))
				p.expectFail(1009)
			},
		}, testCase{
			id:   fmt.Sprintf("12.%d.%d", s+3, 3),
			desc: "compressed fragments inflating to one byte over the limit",
			run: func(p *peer) {
				p.send(p.message(op, repeat("*", messageLimit+1), 100, true))
				p.expectFail(1009)
			},
		})
	}
	for _, tc := range cases {
		t.Run(tc.id+" "+tc.desc, func(t *testing.T) {
			p := dial(t, deflateAddr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
			defer p.conn.Close()
			tc.run(p)
		})
	}
}

// Section 13: permessage-deflate with each parameter set a client may
// offer. The response must be valid for the accepted offer, and messages
// must flow compressed both ways.
func TestSection13CompressionParameters(t *testing.T) {
	offers := []struct {
		offer  string
		window string // the server_max_window_bits the response must carry, or ""
	}{
		{offer: "permessage-deflate; client_max_window_bits"},
		{offer: "permessage-deflate; server_no_context_takeover; client_max_window_bits"},
		{offer: "permessage-deflate; server_max_window_bits=8; client_max_window_bits", window: "8"},
		{offer: "permessage-deflate; server_max_window_bits=15; client_max_window_bits", window: "15"},
		{offer: "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits", window: "8"},
		{offer: "permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits", window: "15"},
		{offer: "permessage-deflate; server_no_context_takeover; server_max_window_bits=8, permessage-deflate; server_no_context_takeover, permessage-deflate", window: "8"},
		{offer: "permessage-deflate; client_no_context_takeover; client_max_window_bits=9"},
	}
	for j, o := range offers {
		for i, n := range []int{16, 1024, 16384, 131072} {
			id := fmt.Sprintf("13.%d.%d", j+1, i+1)
			t.Run(id+" "+o.offer+fmt.Sprintf(" (%d bytes)", n), func(t *testing.T) {
				p := dial(t, deflateAddr, "Sec-WebSocket-Extensions: "+o.offer+"\r\n")
				defer p.conn.Close()
				checkDeflateResponse(t, p.ext, o.window)
				for m := range 10 {
					payload := compressionData(m%2 == 0, n, uint64(m))
					op := map[bool]byte{true: opText, false: opBinary}[m%2 == 0]
					p.send(p.message(op, payload, 0, true))
					p.expectCompressed(op, payload)
				}
				p.closeNormally(1000)
			})
		}
	}
}

// checkDeflateResponse checks a permessage-deflate response (RFC 7692
// section 7): one extension, known parameters, each at most once, and the
// window the offer asked for.
func checkDeflateResponse(t *testing.T, ext, window string) {
	t.Helper()
	params := strings.Split(ext, ";")
	if strings.TrimSpace(params[0]) != "permessage-deflate" || strings.Contains(ext, ",") {
		t.Fatalf(
			"response %q: want exactly one permessage-deflate",
			ext,
		)
	}
	seen := map[string]string{}
	for _, p := range params[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if _, dup := seen[k]; dup {
			t.Fatalf(
				"response %q repeats %s",
				ext, k,
			)
		}
		seen[k] = v
		switch k {
		case "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits":
		default:
			t.Fatalf(
				"response %q has unknown parameter %s",
				ext, k,
			)
		}
	}
	if got := seen["server_max_window_bits"]; got != window {
		t.Fatalf(
			"response %q: server_max_window_bits %q, want %q",
			ext, got, window,
		)
	}
}

// Handshake and masking: what the opening handshake must refuse, and
// unmasked client frames.
func TestHandshakeAndMasking(t *testing.T) {
	for _, tc := range []struct {
		name    string
		request string
		status  int
	}{
		{name: "wrong path", request: "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 404},
		{name: "POST", request: "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 405},
		{name: "no upgrade", request: "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", status: 426},
		{name: "version 12", request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n", status: 426},
		{name: "no key", request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 400},
		{name: "short key", request: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 400},
		{name: "no Host", request: "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 400},
	} {
		t.Run("handshake "+tc.name, func(t *testing.T) {
			p := &peer{t: t}
			p.conn = rawDial(t, plainAddr)
			defer p.conn.Close()
			p.send([]byte(tc.request))
			p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufioReader(p.conn), nil)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf(
					"got %v %v, want status %d",
					resp, err, tc.status,
				)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatal("426 without Sec-WebSocket-Version: 13")
			}
		})
	}
	runCases(t, plainAddr, []testCase{
		{id: "masking.1", desc: "unmasked text frame", run: func(p *peer) {
			p.send([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})
			p.expectFail(1002)
		}},
		{id: "masking.2", desc: "unmasked close frame", run: func(p *peer) {
			p.send([]byte{0x88, 0x02, 0x03, 0xe8})
			p.expectFail(1002)
		}},
		{id: "masking.3", desc: "masked text, then an unmasked ping", run: func(p *peer) {
			p.send(frame(true, 0, opText, []byte("ok")), []byte{0x89, 0x00})
			p.expectMessage(opText, []byte("ok"))
			p.expectFail(1002)
		}},
	})
}
