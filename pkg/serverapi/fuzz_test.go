package serverapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

var fuzzMethods = []string{"publish", "broadcast", "subscribe", "unsubscribe", "disconnect", "refresh", "presence",
	"presence_stats", "history", "history_remove", "channels", "info", "rpc", "batch", ""}

// FuzzHandler posts arbitrary bodies to every method and the legacy path.
// Properties: the answer is 200 or 400; a body that is not JSON is 400
// "Bad Request"; a 200 is JSON: {"result"} xor {"error"} for a method,
// {"replies"} (or {}) with one reply per command for a batch, and one
// reply line per command for the legacy form.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{`{}`, `{"channel":"c","data":{"a":1}}`, `{"channels":["a","",""],"data":1}`,
		`{"commands":[{"publish":{"channel":"a","data":1}},null,{}],"parallel":true}`, `{"method":"publish","params":{"channel":"x","data":1}}`,
		`{"channel":"c","b64data":"AA=="}`, `{"channel":"c","since":{"offset":1,"epoch":"e"},"limit":-1}`, `{"user":"u","disconnect":{"code":4000}}`} {
		for i := range fuzzMethods {
			f.Add(uint8(i), seed)
		}
	}
	node := &recNode{pos: broker.StreamPosition{Offset: 3, Epoch: "e"}, pubs: []*broker.Publication{{Offset: 1, Data: []byte(`{"x":1}`)}},
		presence: map[string]*broker.ClientInfo{"c": {ClientID: "c"}}, channels: map[string]int{"a": 1}}
	h := serverapi.NewHandler(node, serverapi.Options{Insecure: true})
	f.Fuzz(func(t *testing.T, m uint8, body string) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		path := "/api/" + method
		if method == "" {
			path = "/api"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(body)))
		node.takeCalls()
		got := w.Body.String()
		switch w.Code {
		case 400:
			if got != "Bad Request\n" {
				t.Fatalf("400 with %q", got)
			}
			return
		case 200:
		default:
			t.Fatalf("%s %q: status %d %q", path, body, w.Code, got)
		}
		if method != "" && !json.Valid([]byte(body)) {
			t.Fatalf("%s: invalid JSON %q answered 200 %q", path, body, got)
		}
		switch method {
		case "":
			for _, line := range strings.Split(got, "\n") {
				if line != "" && !json.Valid([]byte(line)) {
					t.Fatalf("legacy reply line not JSON: %q", line)
				}
			}
		case "batch":
			var req struct{ Commands []json.RawMessage }
			var rep struct{ Replies []map[string]json.RawMessage }
			json.Unmarshal([]byte(body), &req)
			if err := json.Unmarshal([]byte(got), &rep); err != nil || len(rep.Replies) != len(req.Commands) {
				t.Fatalf("batch %q: reply %q (%v)", body, got, err)
			}
			for _, r := range rep.Replies {
				if len(r) != 1 {
					t.Fatalf("batch reply with %d keys: %q", len(r), got)
				}
			}
		default:
			var rep map[string]json.RawMessage
			if err := json.Unmarshal([]byte(got), &rep); err != nil || len(rep) != 1 || (rep["result"] == nil && rep["error"] == nil) {
				t.Fatalf("%s %q: reply %q (%v)", path, body, got, err)
			}
		}
	})
}
