package channels

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/centrifugal/protocol"
	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/poller"
)

// pbClient speaks the Protobuf protocol over binary frames.
type pbClient struct {
	t    *testing.T
	conn *websocket.Conn
	in   []*protocol.Reply
}

func dialProtobuf(t *testing.T, url string, d *websocket.Dialer, subprotocol bool) *pbClient {
	t.Helper()
	if subprotocol {
		d.Subprotocols = []string{"centrifuge-protobuf"}
	}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if subprotocol && resp.Header.Get("Sec-WebSocket-Protocol") != "centrifuge-protobuf" {
		t.Fatalf("subprotocol not echoed: %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { c.Close() })
	return &pbClient{t: t, conn: c}
}

func (c *pbClient) send(cmds ...*protocol.Command) {
	c.t.Helper()
	var buf []byte
	for _, cmd := range cmds {
		p, err := cmd.MarshalCF()
		if err != nil {
			c.t.Fatal(err)
		}
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	if err := c.conn.WriteMessage(websocket.BinaryMessage, buf); err != nil {
		c.t.Fatal(err)
	}
}

func (c *pbClient) next() *protocol.Reply {
	c.t.Helper()
	for len(c.in) == 0 {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, p, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatal(err)
		}
		if typ != websocket.BinaryMessage {
			c.t.Fatalf("got frame type %d, want binary", typ)
		}
		dec := protocol.NewProtobufReplyDecoder(p)
		for {
			r, err := dec.Decode()
			if r != nil {
				c.in = append(c.in, r)
			}
			if err != nil {
				break
			}
		}
	}
	r := c.in[0]
	c.in = c.in[1:]
	return r
}

// TestEncodings runs connect, subscribe, publish and receive in JSON and
// Protobuf, with and without permessage-deflate, with publications large
// enough to be compressed.
func TestEncodings(t *testing.T) {
	env := startNode(t, func(_ *Options, p *poller.Options) {
		p.Compression = poller.CompressionOptions{Enabled: true, Level: 1, MinSize: 64}
	})
	data := []byte(fmt.Sprintf(`{"text":%q}`, string(make([]byte, 0))+fmt.Sprint(make([]int, 100))))
	for _, deflate := range []bool{false, true} {
		for _, mode := range []string{"json", "protobuf", "protobuf-query"} {
			t.Run(fmt.Sprintf("%s/deflate=%v", mode, deflate), func(t *testing.T) {
				d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: deflate}
				if mode == "json" {
					c := dialJSON(t, env.url, d)
					c.send(`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":"enc"}}`, `{"id":3,"publish":{"channel":"enc","data":`+string(data)+`}}`)
					c.next()
					expectJSON(t, c.next(), `{"id":2,"subscribe":{}}`)
					expectJSON(t, c.next(), `{"id":3,"publish":{}}`)
					r := c.next()
					want := `{"push":{"channel":"enc","pub":{"data":` + string(data) + `,"info":{"user":"","client":"`
					if len(r) < len(want) || r[:len(want)] != want {
						t.Fatalf("got %s", r)
					}
					return
				}
				url := env.url
				if mode == "protobuf-query" {
					url += "?format=protobuf"
				}
				c := dialProtobuf(t, url, d, mode == "protobuf")
				c.send(&protocol.Command{Id: 1, Connect: &protocol.ConnectRequest{}},
					&protocol.Command{Id: 2, Subscribe: &protocol.SubscribeRequest{Channel: "enc"}},
					&protocol.Command{Id: 3, Publish: &protocol.PublishRequest{Channel: "enc", Data: data}})
				if r := c.next(); r.Id != 1 || r.Connect == nil || r.Connect.Client == "" {
					t.Fatalf("connect %v", r)
				}
				if r := c.next(); r.Id != 2 || r.Subscribe == nil {
					t.Fatalf("subscribe %v", r)
				}
				if r := c.next(); r.Id != 3 || r.Publish == nil {
					t.Fatalf("publish %v", r)
				}
				r := c.next()
				if r.Push == nil || r.Push.Channel != "enc" || r.Push.Pub == nil || string(r.Push.Pub.Data) != string(data) {
					t.Fatalf("push %v", r)
				}
			})
		}
	}
}

// TestProtobufPing: the ping is a zero-length message, the pong an empty
// command.
func TestProtobufPing(t *testing.T) {
	env := startNode(t, shortTimers)
	c := dialProtobuf(t, env.url, &websocket.Dialer{}, true)
	c.send(&protocol.Command{Id: 1, Connect: &protocol.ConnectRequest{}})
	if r := c.next(); r.Connect == nil || r.Connect.Ping != 1 || !r.Connect.Pong {
		t.Fatalf("connect %v", r)
	}
	c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, p, err := c.conn.ReadMessage()
	if err != nil || len(p) != 1 || p[0] != 0 {
		t.Fatalf("ping %x %v", p, err)
	}
	c.conn.WriteMessage(websocket.BinaryMessage, []byte{0})
	c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, p, err = c.conn.ReadMessage()
	if err != nil || len(p) != 1 || p[0] != 0 {
		t.Fatalf("second ping %x %v: the pong was not taken", p, err)
	}
}
