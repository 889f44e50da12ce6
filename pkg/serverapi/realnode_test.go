package serverapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/serverapi"
)

// realNode is a *channels.Node on the memory engine with a "chat"
// namespace (history of 3, presence) and channels without a namespace
// that keep nothing.
func realNode(t *testing.T) *channels.Node {
	t.Helper()
	chat := namespace.Options{HistorySize: 3, HistoryTTL: time.Minute, Presence: true}
	rules, err := namespace.New(namespace.Config{Namespaces: []namespace.Namespace{{Name: "chat", Options: chat}}})
	if err != nil {
		t.Fatal(err)
	}
	mem := broker.NewMemory(broker.MemoryOptions{})
	n := channels.NewNode(channels.Options{Broker: mem, Presence: mem, Channels: rules})
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		mem.Close(context.Background())
	})
	return n
}

// TestRealNode runs the API over the channel protocol's node: the history
// window (3), epochs that stay the same, and the node's error codes as the
// API's.
func TestRealNode(t *testing.T) {
	base := serve(t, realNode(t), serverapi.Options{Key: key}) + "/api/"
	post := func(method, body string) reply { return do(t, "POST", base+method, keyed(), body) }
	for i := 1; i <= 4; i++ {
		r := post("publish", `{"channel":"chat:a","data":{"n":`+string(rune('0'+i))+`}}`)
		if r.status != 200 || !contains(r.body, `"offset":`+string(rune('0'+i))) {
			t.Fatalf("publish %d: %d %s", i, r.status, r.body)
		}
	}
	r := post("history", `{"channel":"chat:a","limit":-1}`)
	var h struct {
		Result struct {
			Publications []struct {
				Data   map[string]int `json:"data"`
				Offset uint64         `json:"offset"`
			} `json:"publications"`
			Epoch  string `json:"epoch"`
			Offset uint64 `json:"offset"`
		} `json:"result"`
	}
	decode(t, r.body, &h)
	if len(h.Result.Publications) != 3 || h.Result.Offset != 4 || h.Result.Epoch == "" {
		t.Fatalf("history: %s", r.body)
	}
	for i, p := range h.Result.Publications {
		if p.Offset != uint64(i+2) || p.Data["n"] != i+2 {
			t.Fatalf("history publication %d: %s", i, r.body)
		}
	}
	wantJSON(t, post("history", `{"channel":"chat:a","since":{"offset":1,"epoch":"x"}}`), 200, `{"error":{"code":112,"message":"unrecoverable position"}}`)
	wantJSON(t, post("history", `{"channel":"plain"}`), 200, `{"error":{"code":108,"message":"not available"}}`)
	wantJSON(t, post("presence", `{"channel":"plain"}`), 200, `{"error":{"code":108,"message":"not available"}}`)
	wantJSON(t, post("presence", `{"channel":"chat:a"}`), 200, `{"result":{"presence":{}}}`)
	wantJSON(t, post("presence_stats", `{"channel":"chat:a"}`), 200, `{"result":{"num_clients":0,"num_users":0}}`)
	wantJSON(t, post("publish", `{"channel":"nope:a","data":1}`), 200, `{"error":{"code":102,"message":"unknown channel"}}`)
	wantJSON(t, post("publish", `{"channel":"nope:a"}`), 200, `{"error":{"code":102,"message":"unknown channel"}}`)
	wantJSON(t, post("publish", `{"channel":"chat:a"}`), 200, `{"error":{"code":107,"message":"bad request"}}`)
	wantJSON(t, post("publish", `{"channel":"plain","data":1}`), 200, `{"result":{}}`)
	wantJSON(t, post("history_remove", `{"channel":"chat:a"}`), 200, `{"result":{}}`)
	r = post("history", `{"channel":"chat:a","limit":-1}`)
	var h2 struct {
		Result struct {
			Publications []any  `json:"publications"`
			Epoch        string `json:"epoch"`
			Offset       uint64 `json:"offset"`
		} `json:"result"`
	}
	decode(t, r.body, &h2)
	if h2.Result.Publications == nil || len(h2.Result.Publications) != 0 || h2.Result.Offset != 4 || h2.Result.Epoch != h.Result.Epoch {
		t.Fatalf("history after remove: %s (epoch before %q)", r.body, h.Result.Epoch)
	}
	wantJSON(t, post("channels", `{}`), 200, `{"result":{"channels":{}}}`)
	r = post("info", `{}`)
	if r.status != 200 || !contains(r.body, `"num_clients":0`) {
		t.Fatalf("info: %s", r.body)
	}
}
