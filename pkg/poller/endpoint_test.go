package poller

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/session"
)

// tagHandler answers every message with its tag, the session's endpoint
// and subprotocol indexes.
func tagHandler(tag string) session.Handler {
	return session.HandlerFuncs{Message: func(s *session.Session, m session.Message) {
		i := s.Info()
		s.SendText(tag + " " + string(rune('0'+i.Endpoint)) + " " + string(rune('0'+i.Subprotocol)))
	}}
}

func protoFromQuery(q []byte) uint8 {
	for _, kv := range strings.Split(string(q), "&") {
		if kv == "format=protobuf" || kv == "cf_protocol=protobuf" {
			return 2
		}
	}
	return 0
}

func startRouted(t *testing.T) string {
	_, addr := startServer(t, Options{Endpoints: []Endpoint{{
		Path:             "/connection/websocket",
		Handler:          tagHandler("cf"),
		Subprotocols:     []string{"centrifuge-json", "centrifuge-protobuf"},
		QuerySubprotocol: protoFromQuery,
	}}}, tagHandler("ws"))
	return addr
}

func dialAsk(t *testing.T, url string, protocols ...string) (string, string) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(p), resp.Header.Get("Sec-WebSocket-Protocol")
}

func TestEndpointsRouteByPath(t *testing.T) {
	addr := startRouted(t)
	for _, tc := range []struct {
		path, query string
		offer       []string
		want, echo  string
	}{
		{"/ws", "", nil, "ws 0 0", ""},
		{"/ws", "", []string{"centrifuge-protobuf"}, "ws 0 0", ""}, // /ws speaks no subprotocol
		{"/connection/websocket", "", nil, "cf 1 0", ""},
		{"/connection/websocket", "", []string{"centrifuge-json"}, "cf 1 1", "centrifuge-json"},
		{"/connection/websocket", "", []string{"centrifuge-protobuf"}, "cf 1 2", "centrifuge-protobuf"},
		{"/connection/websocket", "", []string{"other", "centrifuge-protobuf", "centrifuge-json"}, "cf 1 2", "centrifuge-protobuf"},
		{"/connection/websocket", "", []string{"other"}, "cf 1 0", ""},
		{"/connection/websocket", "?format=protobuf", nil, "cf 1 2", ""},
		{"/connection/websocket", "?a=b&cf_protocol=protobuf", nil, "cf 1 2", ""},
		{"/connection/websocket", "?format=json", nil, "cf 1 0", ""},
		{"/connection/websocket", "?format=protobuf", []string{"centrifuge-json"}, "cf 1 1", "centrifuge-json"}, // the header wins
	} {
		got, echo := dialAsk(t, "ws://"+addr+tc.path+tc.query, tc.offer...)
		if got != tc.want || echo != tc.echo {
			t.Errorf("%s%s offering %v: got %q echo %q, want %q echo %q", tc.path, tc.query, tc.offer, got, echo, tc.want, tc.echo)
		}
	}
}

func TestEndpointsUnknownPathListsAll(t *testing.T) {
	addr := startRouted(t)
	c := dialRaw(t, addr)
	c.send(handshakeRequest("/nope"))
	resp, body := c.response()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "/ws, /connection/websocket") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestEndpointsShareOneHub(t *testing.T) {
	srv, addr := startServer(t, Options{Endpoints: []Endpoint{{Path: "/b", Handler: tagHandler("b")}}}, tagHandler("a"))
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	a.upgrade("/ws")
	b.upgrade("/b")
	waitUntil(t, "two sessions", func() bool { return srv.Hub().Count() == 2 })
	if n := srv.Hub().Broadcast(session.Text, []byte("all")); n != 2 {
		t.Fatalf("broadcast reached %d sessions, want 2", n)
	}
	for _, c := range []*rawClient{a, b} {
		f, err := c.readFrame(5 * time.Second)
		if err != nil || f.op != opText || string(f.payload) != "all" {
			t.Fatalf("got %v %q %v", f.op, f.payload, err)
		}
	}
}
