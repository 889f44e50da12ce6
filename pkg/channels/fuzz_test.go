package channels

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/centrifugal/protocol"
	"github.com/gobwas/ws"

	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/session"
)

// captureTransport records what a session writes.
type captureTransport struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (t *captureTransport) Write(bufs [][]byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, b := range bufs {
		t.out.Write(b)
		n += len(b)
	}
	return n, nil
}
func (t *captureTransport) WriteWait(bufs [][]byte) error { _, err := t.Write(bufs); return err }
func (t *captureTransport) CloseWrite() error             { return nil }
func (t *captureTransport) Close() error                  { return nil }

var (
	fuzzOnce sync.Once
	fuzzNode *Node
	fuzzHub  *session.Hub
)

// fuzzSetup builds one node (memory broker, test namespaces and tokens)
// and a hub whose sessions write into memory.
func fuzzSetup() {
	fuzzOnce.Do(func() {
		rules, err := namespace.New(testNamespaces())
		if err != nil {
			panic(err)
		}
		verifier, _ := auth.NewVerifier(auth.Config{HMACSecret: testSecret}, nil)
		mem := broker.NewMemory(broker.MemoryOptions{})
		fuzzNode = NewNode(Options{Config: Config{AllowAnonymousConnectWithoutToken: true}, Broker: mem, Presence: mem, Tokens: verifier, Channels: rules})
		if err := fuzzNode.Run(); err != nil {
			panic(err)
		}
		fuzzHub = session.NewHub(session.Options{}, fuzzNode.Handler())
	})
}

// protocolCloseCodes are the disconnects a client may be closed with.
var protocolCloseCodes = map[uint16]bool{}

func init() {
	for _, d := range []*Disconnect{DisconnectConnectionClosed, DisconnectShutdown, DisconnectServerError, DisconnectExpired,
		DisconnectSubExpired, DisconnectSlow, DisconnectWriteError, DisconnectInsufficientState, DisconnectForceReconnect,
		DisconnectNoPong, DisconnectTooManyRequests, DisconnectInvalidToken, DisconnectBadRequest, DisconnectStale,
		DisconnectForceNoReconnect, DisconnectConnectionLimit, DisconnectChannelLimit, DisconnectInappropriateProto,
		DisconnectPermissionDenied, DisconnectNotAvailable, DisconnectTooManyErrors} {
		protocolCloseCodes[uint16(d.Code)] = true
	}
}

// FuzzCommands feeds arbitrary messages to a client (the first byte picks
// JSON or Protobuf, the rest is split into messages at 0xFF) and checks
// that no command panics (a recovered panic closes with 3004), that every
// message written back decodes with centrifugal/protocol's reply decoder,
// and that a close carries one of the protocol's disconnect codes.
func FuzzCommands(f *testing.F) {
	pb := func(cmds ...*protocol.Command) []byte {
		var b []byte
		for _, c := range cmds {
			p, _ := c.MarshalCF()
			b = binary.AppendUvarint(b, uint64(len(p)))
			b = append(b, p...)
		}
		return b
	}
	f.Add([]byte("J" + `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"chat:a","recover":true,"offset":3,"epoch":"x"}}` +
		"\xff" + `{"id":3,"publish":{"channel":"chat:a","data":{"a":1}}}` + "\n" + `{"id":4,"history":{"channel":"chat:a","limit":-1}}` +
		"\n" + `{"id":5,"presence":{"channel":"chat:a"}}` + "\n" + `{"id":6,"unsubscribe":{"channel":"chat:a"}}` + "\n" + `{}`))
	f.Add([]byte("J" + `{"id":1,"connect":{"token":"a.b.c"}}`))
	f.Add([]byte("J" + `{"id":1,"connect":{}}` + "\xff" + `{"id":2,"rpc":{}}` + "\n" + `{"id":3,"refresh":{"token":"x"}}` + "\xff" + `{"id":4,"sub_refresh":{"channel":"a"}}`))
	f.Add(append([]byte("P"), pb(&protocol.Command{Id: 1, Connect: &protocol.ConnectRequest{}},
		&protocol.Command{Id: 2, Subscribe: &protocol.SubscribeRequest{Channel: "hist:x", Positioned: true}},
		&protocol.Command{Id: 3, Publish: &protocol.PublishRequest{Channel: "hist:x", Data: []byte("1")}},
		&protocol.Command{Id: 4, History: &protocol.HistoryRequest{Channel: "hist:x", Limit: 10, Since: &protocol.StreamPosition{Offset: 0}}})...))
	f.Add([]byte("P\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzSetup()
		if len(in) == 0 {
			return
		}
		protobuf := in[0]&1 == 0 // 'P' is even
		tr := &captureTransport{}
		var sp uint8 = 1
		if protobuf {
			sp = 2
		}
		s := fuzzHub.Open(tr, session.Info{Subprotocol: sp}, nil)
		s.Start()
		h := fuzzNode.Handler()
		for _, msg := range bytes.Split(in[1:], []byte{0xff}) {
			h.OnMessage(s, session.Message{Type: session.Text, Data: msg})
		}
		s.TransportClosed("fuzz")
		checkOutput(t, tr.out.Bytes(), protobuf)
	})
}

func checkOutput(t *testing.T, out []byte, protobuf bool) {
	r := bytes.NewReader(out)
	for {
		fr, err := ws.ReadFrame(r)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("server frame: %v", err)
		}
		switch fr.Header.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(fr.Payload)
			if code == 3004 {
				t.Fatalf("a command panicked (close 3004 %q)", reason)
			}
			if !protocolCloseCodes[uint16(code)] {
				t.Fatalf("close code %d %q is not a protocol disconnect", code, reason)
			}
		case ws.OpText, ws.OpBinary:
			var dec protocol.ReplyDecoder
			if protobuf {
				dec = protocol.NewProtobufReplyDecoder(fr.Payload)
			} else {
				dec = protocol.NewJSONReplyDecoder(fr.Payload)
			}
			for {
				_, err := dec.Decode()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("reply %q does not decode: %v", fr.Payload, err)
				}
			}
		}
	}
}
