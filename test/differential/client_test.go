package differential

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/centrifugal/protocol"
	"github.com/gorilla/websocket"
)

// token signs claims with HS256 (RFC 7519) and the shared secret.
func token(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	c, _ := json.Marshal(claims)
	msg := h + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

func userToken(user string) string {
	return token(map[string]any{"sub": user, "exp": time.Now().Add(time.Hour).Unix()})
}

// call POSTs body to path on s and records the reply as step.
func call(t *testing.T, s *server, tr *transcript, step, method, path string, header map[string]string, body string) any {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(s.out(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	e := entry{Step: step, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: tr.decode(data)}
	tr.add(e)
	return e.Body
}

// api calls an API method with the key.
func api(t *testing.T, s *server, tr *transcript, step, method, body string) any {
	t.Helper()
	return call(t, s, tr, step, "POST", "/api/"+method, map[string]string{"X-API-Key": apiKey}, body)
}

// raw is a protocol client on a WebSocket: it sends frames as given and
// reads replies line by line, skipping pings.
type raw struct {
	s        *server
	t        *testing.T
	c        *websocket.Conn
	pending  [][]byte
	protobuf bool
}

func dial(t *testing.T, s *server) *raw {
	t.Helper()
	d := *websocket.DefaultDialer
	if s.protobuf {
		d.Subprotocols = []string{"centrifuge-protobuf"}
	}
	c, resp, err := d.Dial(s.ws, http.Header{"Origin": {"http://localhost"}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", s.ws, err, status)
	}
	t.Cleanup(func() { c.Close() })
	if s.protobuf && c.Subprotocol() != "centrifuge-protobuf" {
		t.Fatalf("%s: subprotocol %q, want centrifuge-protobuf", s.name, c.Subprotocol())
	}
	return &raw{s: s, t: t, c: c, protobuf: s.protobuf}
}

func (r *raw) send(frame string) {
	r.t.Helper()
	typ, data := websocket.TextMessage, []byte(r.s.out(frame))
	if r.protobuf {
		typ, data = websocket.BinaryMessage, toProtobuf(r.t, data)
	}
	if err := r.c.WriteMessage(typ, data); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

var errClosed = errors.New("closed")

// next returns the next non-ping line, or the close as an error.
func (r *raw) next(timeout time.Duration) ([]byte, error) {
	for len(r.pending) == 0 {
		r.c.SetReadDeadline(time.Now().Add(timeout))
		_, data, err := r.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		if r.protobuf {
			data = fromProtobuf(r.t, data)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || string(bytes.TrimSpace(line)) == "{}" {
				continue
			}
			r.pending = append(r.pending, line)
		}
	}
	line := r.pending[0]
	r.pending = r.pending[1:]
	return line, nil
}

// expect reads n lines and records them as step (sorted by reply id, pushes
// after replies in arrival order, so that servers that interleave replies
// and pushes differently compare equal); a close before n lines is recorded
// too.
func (r *raw) expect(tr *transcript, step string, n int) []map[string]any {
	r.t.Helper()
	var replies, pushes []any
	var out []map[string]any
	var closed string
	for i := 0; i < n; i++ {
		line, err := r.next(3 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				closed = fmt.Sprintf("%d %s", ce.Code, ce.Text)
				break
			}
			// Recorded, so that the other server's reply shows in the
			// comparison; the connection is unusable after a timeout.
			r.t.Logf("%s: reading line %d of %d: %v", step, i+1, n, err)
			closed = fmt.Sprintf("no line %d of %d within the timeout", i+1, n)
			break
		}
		var m map[string]any
		json.Unmarshal(line, &m)
		if m != nil {
			if res, ok := m["connect"].(map[string]any); ok {
				if id, ok := res["client"].(string); ok {
					tr.learnClient(id)
				}
			}
		}
		out = append(out, m)
		v := tr.decode(line)
		if m != nil && m["id"] != nil {
			replies = append(replies, v)
		} else {
			pushes = append(pushes, v)
		}
	}
	sortByID(replies)
	tr.add(entry{Step: step, Body: list(append(replies, pushes...)), Close: closed})
	return out
}

func sortByID(vs []any) {
	id := func(v any) float64 {
		m, _ := v.(map[string]any)
		n, _ := m["id"].(json.Number)
		f, _ := n.Float64()
		return f
	}
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && id(vs[j]) < id(vs[j-1]); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

// expectClose reads until the server closes and records the close code and
// reason; lines before it are recorded too.
func (r *raw) expectClose(tr *transcript, step string) {
	r.t.Helper()
	var lines []any
	for {
		line, err := r.next(3 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				tr.add(entry{Step: step, Body: list(lines), Close: fmt.Sprintf("%d %s", ce.Code, ce.Text)})
				return
			}
			r.t.Fatalf("%s: waiting for a close: %v", step, err)
		}
		lines = append(lines, tr.decode(line))
	}
}

// connect sends a connect command (id 1) with the token, if any, and
// records the reply.
func (r *raw) connect(tr *transcript, step, tok string) map[string]any {
	r.t.Helper()
	cmd := map[string]any{"id": 1, "connect": map[string]any{"name": "diff"}}
	if tok != "" {
		cmd["connect"].(map[string]any)["token"] = tok
	}
	b, _ := json.Marshal(cmd)
	r.send(string(b))
	out := r.expect(tr, step, 1)
	if len(out) == 0 {
		r.t.Fatalf("%s: no connect reply", step)
	}
	return out[0]
}

// clientID returns the client ID from a connect reply.
func clientID(t *testing.T, rep map[string]any) string {
	t.Helper()
	res, _ := rep["connect"].(map[string]any)
	id, _ := res["client"].(string)
	if id == "" {
		t.Fatalf("connect reply without a client ID: %v", rep)
	}
	return id
}

// list keeps an empty list out of the transcript (an entry without a body).
func list(vs []any) any {
	if len(vs) == 0 {
		return nil
	}
	return vs
}

// toProtobuf re-encodes newline-separated JSON commands as varint-prefixed
// Protobuf commands (protocol's own codecs, as the SDKs use).
func toProtobuf(t *testing.T, frame []byte) []byte {
	t.Helper()
	dec := protocol.NewJSONCommandDecoder(frame)
	enc := protocol.NewProtobufCommandEncoder()
	var out []byte
	for {
		cmd, err := dec.Decode()
		if cmd != nil {
			b, encErr := enc.Encode(cmd)
			if encErr != nil {
				t.Fatalf("encoding %v: %v", cmd, encErr)
			}
			out = append(out, b...)
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("scenario frame %q is not JSON commands: %v", frame, err)
		}
	}
}

// fromProtobuf turns a frame of Protobuf replies into newline-separated
// JSON replies (an empty reply, a ping, becomes {}).
func fromProtobuf(t *testing.T, frame []byte) []byte {
	t.Helper()
	dec := protocol.NewProtobufReplyDecoder(frame)
	enc := protocol.NewJSONReplyEncoder()
	var lines [][]byte
	for {
		rep, err := dec.Decode()
		if err == io.EOF {
			return bytes.Join(lines, []byte("\n"))
		}
		if err != nil {
			t.Fatalf("frame %x does not decode as Protobuf replies: %v", frame, err)
		}
		b, err := enc.Encode(rep)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
}
