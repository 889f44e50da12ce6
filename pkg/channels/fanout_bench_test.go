package channels

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/serverapi"
	"github.com/xh-control/gateway/pkg/session"
)

// discardTransport counts what a session writes and drops it.
type discardTransport struct{ bytes atomic.Int64 }

func (t *discardTransport) Write(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	t.bytes.Add(int64(n))
	return n, nil
}
func (t *discardTransport) WriteWait(bufs [][]byte) error { _, err := t.Write(bufs); return err }
func (t *discardTransport) CloseWrite() error             { return nil }
func (t *discardTransport) Close() error                  { return nil }

// benchNode returns a node with n connected clients subscribed to ch, on
// sessions that write into a discarding transport.
func benchNode(b *testing.B, n int, ch string) (*Node, *session.Hub, *discardTransport) {
	rules, _ := namespace.New(testNamespaces())
	verifier, _ := auth.NewVerifier(auth.Config{HMACSecret: testSecret}, nil)
	mem := broker.NewMemory(broker.MemoryOptions{})
	node := NewNode(Options{Config: Config{AllowAnonymousConnectWithoutToken: true, PingInterval: -1}, Broker: mem, Presence: mem, Tokens: verifier, Channels: rules})
	if err := node.Run(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { node.Close(); mem.Close(context.Background()) })
	hub := session.NewHub(session.Options{QueueMaxMessages: 1 << 16, QueueMaxBytes: 64 << 20}, node.Handler())
	tr := &discardTransport{}
	h := node.Handler()
	cmd := []byte(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + ch + `"}}`)
	for range n {
		s := hub.Open(tr, session.Info{Subprotocol: 1}, nil)
		s.Start()
		h.OnMessage(s, session.Message{Type: session.Text, Data: cmd})
	}
	if got := node.index.count(ch); got != n {
		b.Fatalf("%d subscribers, want %d", got, n)
	}
	return node, hub, tr
}

// BenchmarkFanOut10k publishes one publication to 10,000 local subscribers
// of one channel: encoded once, the same frame queued on every session
// and written by the hub's flushers. ns/delivery and allocs/op are per
// publication and its 10,000 deliveries.
func BenchmarkFanOut10k(b *testing.B) {
	const subs = 10000
	node, _, tr := benchNode(b, subs, "fan")
	data := []byte(`{"text":"hello, subscribers"}`)
	ctx := context.Background()
	before := tr.bytes.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := node.Publish(ctx, "fan", data, serverapi.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// Wait for the flushers to write everything out.
	want := before + int64(b.N)*subs*int64(len(`{"push":{"channel":"fan","pub":{"data":{"text":"hello, subscribers"}}}}`)+2)
	for deadline := time.Now().Add(30 * time.Second); tr.bytes.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if got := tr.bytes.Load(); got < want {
		b.Fatalf("wrote %d bytes, want %d", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
}

// BenchmarkCommandPublish decodes a publish command, runs it (a channel
// without subscribers or history) and encodes the reply.
func BenchmarkCommandPublish(b *testing.B) {
	for _, enc := range []string{"json", "protobuf"} {
		b.Run(enc, func(b *testing.B) {
			node, hub, _ := benchNode(b, 0, "x")
			sp := uint8(1)
			connect := []byte(`{"id":1,"connect":{}}`)
			cmd := []byte(`{"id":2,"publish":{"channel":"quiet","data":{"text":"hi"}}}`)
			if enc == "protobuf" {
				sp = 2
				connect = pbCommand(&protocol.Command{Id: 1, Connect: &protocol.ConnectRequest{}})
				cmd = pbCommand(&protocol.Command{Id: 2, Publish: &protocol.PublishRequest{Channel: "quiet", Data: []byte(`{"text":"hi"}`)}})
			}
			s := hub.Open(&discardTransport{}, session.Info{Subprotocol: sp}, nil)
			s.Start()
			h := node.Handler()
			h.OnMessage(s, session.Message{Data: connect})
			b.ReportAllocs()
			for b.Loop() {
				h.OnMessage(s, session.Message{Data: cmd})
			}
			if n := node.Metrics().CommandCount("publish", "ok"); n < uint64(b.N) {
				b.Fatalf("%d publishes ok, want %d", n, b.N)
			}
		})
	}
}

// BenchmarkEncodePublication is the once-per-publication encoding.
func BenchmarkEncodePublication(b *testing.B) {
	pub := &broker.Publication{Data: []byte(`{"text":"hello, subscribers"}`), Offset: 17,
		Info: &broker.ClientInfo{ClientID: "0001000000000001", UserID: "42"}}
	for _, protobuf := range []bool{false, true} {
		b.Run(fmt.Sprintf("protobuf=%v", protobuf), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := &protocol.Reply{Push: &protocol.Push{Channel: "chat:room", Pub: toProtoPub(pub, "EPOCH")}}
				if _, err := appendReply(nil, r, protobuf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func pbCommand(c *protocol.Command) []byte {
	p, _ := c.MarshalCF()
	return append(binary.AppendUvarint(nil, uint64(len(p))), p...)
}
