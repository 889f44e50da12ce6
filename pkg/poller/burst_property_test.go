package poller

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/session"
)

// burstMessage is one message of a generated burst.
type burstMessage struct {
	op      byte // opText, opBinary or opPing
	payload []byte
}

// genBurst builds a random burst and its wire bytes: data messages of 0 to
// maxSize bytes, text or binary, whole or in fragments, compressed or not
// when deflate was negotiated, with pings in between (also between the
// fragments of a message, RFC 6455 section 5.4).
func genBurst(rng *rand.Rand, frames, maxSize int, deflate bool) (msgs []burstMessage, wire []byte) {
	var key [4]byte
	for range frames {
		if rng.IntN(8) == 0 {
			p := fmt.Appendf(nil, "ping %d", len(msgs))
			msgs = append(msgs, burstMessage{op: opPing, payload: p})
			wire = wsFrame(wire, true, false, opPing, key, p)
			continue
		}
		size := rng.IntN(maxSize + 1)
		if rng.IntN(4) != 0 {
			size = rng.IntN(min(maxSize, 512) + 1) // mostly small, as real traffic
		}
		op := byte(opBinary)
		p := make([]byte, size)
		if rng.IntN(2) == 0 {
			op = opText
			for i := range p {
				p[i] = 'a' + byte(rng.IntN(4)) // compressible, valid UTF-8
			}
		} else {
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
		}
		msgs = append(msgs, burstMessage{op: op, payload: p})
		body, compressed := p, false
		if deflate && rng.IntN(2) == 0 {
			body, compressed = wsDeflate(p), true
		}
		parts := 1
		if len(body) > 1 && rng.IntN(4) == 0 {
			parts = 1 + rng.IntN(min(len(body), 5))
		}
		for i := range parts {
			chunk := body[i*len(body)/parts : (i+1)*len(body)/parts]
			frameOp := byte(opContinuation)
			if i == 0 {
				frameOp = op
			}
			key = [4]byte{byte(i), byte(size), byte(size >> 8), 0x5a}
			wire = wsFrame(wire, i == parts-1, compressed && i == 0, frameOp, key, chunk)
			if i < parts-1 && rng.IntN(3) == 0 {
				pp := fmt.Appendf(nil, "ping %d", len(msgs))
				msgs = append(msgs, burstMessage{op: opPing, payload: pp})
				wire = wsFrame(wire, true, false, opPing, key, pp)
			}
		}
	}
	return msgs, wire
}

// writeChopped writes wire in one write or in random pieces.
func writeChopped(rng *rand.Rand, conn net.Conn, wire []byte, chop bool) <-chan error {
	var cuts []int
	if chop {
		for at := 0; at < len(wire); {
			at += 1 + rng.IntN(min(len(wire), 96<<10))
			cuts = append(cuts, min(at, len(wire)))
		}
	} else {
		cuts = []int{len(wire)}
	}
	errc := make(chan error, 1)
	go func() {
		conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
		from := 0
		for _, to := range cuts {
			if _, err := conn.Write(wire[from:to]); err != nil {
				errc <- err
				return
			}
			from = to
		}
		errc <- nil
	}()
	return errc
}

// TestBurstProperty is the property behind issue #8's first two inputs: for
// random bursts, written at once or in random chops, a client that reads
// gets every echo in order and a pong for (at least) the last ping, and the
// session is never closed. Small queue limits make the replies outrun the
// socket often, so reading pauses and resumes many times.
func TestBurstProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x8))
	cases := []struct {
		name          string
		frames, max   int
		deflate, chop bool
		opts          session.Options
	}{
		{name: "small-frames-one-write", frames: 5000, max: 256},
		{name: "large-frames-chopped", frames: 400, max: 64 << 10, chop: true},
		{name: "mixed-tight-queue", frames: 2000, max: 64 << 10,
			opts: session.Options{QueueMaxBytes: 64 << 10, QueueMaxMessages: 16}},
		{name: "deflate-one-write", frames: 1500, max: 64 << 10, deflate: true},
		{name: "deflate-chopped-tight-queue", frames: 1500, max: 16 << 10, deflate: true, chop: true,
			opts: session.Options{QueueMaxBytes: 32 << 10, QueueMaxMessages: 8}},
	}
	for _, tc := range cases {
		if raceEnabled {
			tc.frames /= 4
		}
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, Options{Session: tc.opts,
				Compression: CompressionOptions{Enabled: tc.deflate}}, handler.Echo{})
			c := wsDial(t, addr, tc.deflate)
			msgs, wire := genBurst(rng, tc.frames, tc.max, tc.deflate)
			errc := writeChopped(rng, c.conn, wire, tc.chop)
			var want []burstMessage
			lastPing := -1
			for i, m := range msgs {
				if m.op == opPing {
					lastPing = i
				} else {
					want = append(want, m)
				}
			}
			got, pongs, lastPong := 0, 0, ""
			c.readUntil(30*time.Second, func(m wsMessage) bool {
				switch m.op {
				case opPing: // a heartbeat: not part of the burst
				case opPong:
					pongs++
					lastPong = string(m.payload)
				default:
					if got == len(want) {
						t.Fatalf("more echoes than messages")
					}
					w := want[got]
					if m.op != w.op || !bytes.Equal(m.payload, w.payload) {
						t.Fatalf("echo %d: op %d, %d bytes; want op %d, %d bytes", got, m.op, len(m.payload), w.op, len(w.payload))
					}
					got++
				}
				return got == len(want) && (lastPing < 0 || lastPong == string(msgs[lastPing].payload))
			})
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			t.Logf("%d messages, %d bytes on the wire, %d pongs, %d read pauses",
				len(want), len(wire), pongs, srv.Stats().ReadPauses.Load())
		})
	}
}
