package serverapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/serverapi"
)

const key = "s3cret-key"

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header map[string]string, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func serve(t *testing.T, n serverapi.Node, opts serverapi.Options) string {
	t.Helper()
	srv := httptest.NewServer(serverapi.NewHandler(n, opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

func keyed() map[string]string { return map[string]string{"X-API-Key": key} }

// wantJSON checks status 200, the content type and the exact body.
func wantJSON(t *testing.T, r reply, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func wantCalls(t *testing.T, n *recNode, want ...string) {
	t.Helper()
	got := n.takeCalls()
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("node calls:\n got %q\nwant %q", got, want)
	}
}

func TestAuth(t *testing.T) {
	n := &recNode{}
	url := serve(t, n, serverapi.Options{Key: key}) + "/api/info"
	for _, c := range []struct {
		name   string
		url    string
		header map[string]string
		ok     bool
	}{
		{"no key", url, nil, false},
		{"X-API-Key", url, map[string]string{"X-API-Key": key}, true},
		{"X-API-Key wrong", url, map[string]string{"X-API-Key": key + "x"}, false},
		{"X-API-Key prefix", url, map[string]string{"X-API-Key": key[:len(key)-1]}, false},
		{"apikey scheme", url, map[string]string{"Authorization": "apikey " + key}, true},
		{"APIKEY scheme", url, map[string]string{"Authorization": "ApiKey " + key}, true},
		{"bearer scheme", url, map[string]string{"Authorization": "Bearer " + key}, false},
		{"apikey three fields", url, map[string]string{"Authorization": "apikey " + key + " x"}, false},
		// X-API-Key, when present, is the only header read.
		{"wrong X-API-Key beats right Authorization", url, map[string]string{"X-API-Key": "no", "Authorization": "apikey " + key}, false},
		{"query", url + "?api_key=" + key, nil, true},
		{"query wrong", url + "?api_key=no", nil, false},
		// The query is checked when the headers did not match.
		{"wrong header, right query", url + "?api_key=" + key, map[string]string{"X-API-Key": "no"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", c.url, c.header, `{}`)
			if c.ok {
				wantJSON(t, r, 200, `{"result":{}}`)
				wantCalls(t, n, "info null")
				return
			}
			if r.status != 401 || r.body != "" {
				t.Fatalf("got %d %q, want 401 and no body", r.status, r.body)
			}
			wantCalls(t, n)
		})
	}
}

func TestAuthNoKeyConfigured(t *testing.T) {
	n := &recNode{}
	r := do(t, "POST", serve(t, n, serverapi.Options{})+"/api/info", map[string]string{"X-API-Key": ""}, `{}`)
	if r.status != 401 || r.body != "" {
		t.Fatalf("empty key: got %d %q, want 401", r.status, r.body)
	}
	r = do(t, "POST", serve(t, n, serverapi.Options{})+"/api/info?api_key=", nil, `{}`)
	if r.status != 401 {
		t.Fatalf("empty key, empty query key: got %d, want 401", r.status)
	}
	r = do(t, "POST", serve(t, n, serverapi.Options{Insecure: true})+"/api/info", nil, `{}`)
	wantJSON(t, r, 200, `{"result":{}}`)
}

func TestHTTPErrors(t *testing.T) {
	n := &recNode{}
	base := serve(t, n, serverapi.Options{Key: key, MaxBodySize: 64})
	// Unknown methods are 404 before the key is looked at.
	for _, p := range []string{"/api/nope", "/api/", "/api/publish/", "/api/batch/x", "/other"} {
		if r := do(t, "POST", base+p, nil, `{}`); r.status != 404 {
			t.Fatalf("%s: got %d, want 404", p, r.status)
		}
	}
	r := do(t, "GET", base+"/api/publish", nil, "")
	if r.status != 405 || r.header.Get("Allow") != "POST" || r.body != "" {
		t.Fatalf("GET: got %d Allow %q body %q", r.status, r.header.Get("Allow"), r.body)
	}
	for _, body := range []string{``, `{`, `[]`, `{"channel":5}`, `{"data":{}`, `{"channel":"c","tags":{"a":1}}`} {
		r = do(t, "POST", base+"/api/publish", keyed(), body)
		if r.status != 400 || r.body != "Bad Request\n" {
			t.Fatalf("body %q: got %d %q, want 400 Bad Request", body, r.status, r.body)
		}
	}
	r = do(t, "POST", base+"/api/history", keyed(), `{"limit":3000000000}`)
	if r.status != 400 {
		t.Fatalf("limit over int32: got %d, want 400", r.status)
	}
	// Exactly MaxBodySize is read, one byte more is 413.
	body := `{"channel":"c","data":"` + strings.Repeat("x", 64-len(`{"channel":"c","data":""}`)) + `"}`
	if len(body) != 64 {
		t.Fatal(len(body))
	}
	wantJSON(t, do(t, "POST", base+"/api/publish", keyed(), body), 200, `{"result":{}}`)
	r = do(t, "POST", base+"/api/publish", keyed(), body+" ")
	if r.status != 413 {
		t.Fatalf("65 bytes: got %d, want 413", r.status)
	}
	wantCalls(t, n, `publish ["c","\"`+strings.Repeat("x", 64-len(`{"channel":"c","data":""}`))+`\"",{"SkipHistory":false,"Tags":null,"IdempotencyKey":""}]`)
}

func TestMethods(t *testing.T) {
	n := &recNode{
		pos: broker.StreamPosition{Offset: 1<<63 + 5, Epoch: "ep"},
		presence: map[string]*broker.ClientInfo{
			"c1": {ClientID: "c1", UserID: "u1", ConnInfo: []byte(`{"a":1}`)},
			"c2": {ClientID: "c2", UserID: "", ChanInfo: []byte(`[2]`)},
		},
		stats: broker.PresenceStats{NumClients: 2, NumUsers: 1},
		pubs: []*broker.Publication{
			{Offset: 1, Data: []byte(`{"x":1}`)},
			{Offset: 2, Data: []byte(`"s"`), Info: &broker.ClientInfo{ClientID: "c1", UserID: "u1"}, Tags: map[string]string{"k": "v"}},
		},
		channels: map[string]int{"chat:a": 2, "b": 0},
		nodes:    []serverapi.NodeInfo{{UID: "id", Name: "n", Version: "v", NumClients: 1, NumUsers: 2, NumChannels: 3, NumSubs: 4, Uptime: 90 * time.Second}},
	}
	base := serve(t, n, serverapi.Options{Key: key}) + "/api/"
	opts := `{"SkipHistory":false,"Tags":null,"IdempotencyKey":""}`
	for _, c := range []struct {
		method, body, want string
		calls              []string
	}{
		{"publish", `{"channel":"chat:a","data":{"text":"hi"}}`, `{"result":{"offset":9223372036854775813,"epoch":"ep"}}`,
			[]string{`publish ["chat:a","{\"text\":\"hi\"}",` + opts + `]`}},
		{"publish", `{"channel":"c","b64data":"AAEC","skip_history":true,"tags":{"t":"1"},"idempotency_key":"ik"}`, `{"result":{"offset":9223372036854775813,"epoch":"ep"}}`,
			[]string{`publish ["c","\u0000\u0001\u0002",{"SkipHistory":true,"Tags":{"t":"1"},"IdempotencyKey":"ik"}]`}},
		// Raw data is passed on byte for byte, null included.
		{"publish", `{"channel":"c","data":null}`, `{"result":{"offset":9223372036854775813,"epoch":"ep"}}`,
			[]string{`publish ["c","null",` + opts + `]`}},
		{"publish", `{"channel":"c","data":[1, 2 ,3]}`, `{"result":{"offset":9223372036854775813,"epoch":"ep"}}`,
			[]string{`publish ["c","[1, 2 ,3]",` + opts + `]`}},
		// Empty data goes to the node, which answers 107 only once it knows
		// the namespace (Centrifugo answers 102 first).
		{"publish", `{"channel":"c"}`, `{"result":{"offset":9223372036854775813,"epoch":"ep"}}`,
			[]string{`publish ["c","",` + opts + `]`}},
		{"publish", `{"data":1}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"publish", `{"channel":"c","b64data":"!!"}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"broadcast", `{"channels":["a","","b"],"data":1}`,
			`{"result":{"responses":[{"result":{"offset":9223372036854775813,"epoch":"ep"}},{"error":{"code":107,"message":"bad request"}},{"result":{"offset":9223372036854775813,"epoch":"ep"}}]}}`,
			[]string{`publish ["a","1",` + opts + `]`, `publish ["b","1",` + opts + `]`}},
		{"broadcast", `{"channels":[],"data":1}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"subscribe", `{"user":"u","channel":"ch","client":"c","session":"s","info":{"i":1},"data":"d","recover_since":{"offset":3,"epoch":"e"},"override":{"presence":{"value":true},"join_leave":{},"force_recovery":{"value":false}},"expire_at":77}`,
			`{"result":{}}`,
			[]string{`subscribe ["u","ch","c","s","{\"i\":1}","\"d\"",{"Offset":3,"Epoch":"e"},{"Presence":true,"JoinLeave":false,"ForcePushJoinLeave":null,"ForceRecovery":false,"ForcePositioning":null},77]`}},
		{"subscribe", `{"user":"u","channel":"ch","b64info":"eA==","b64data":"eQ=="}`, `{"result":{}}`,
			[]string{`subscribe ["u","ch","","","x","y",null,null,0]`}},
		{"subscribe", `{"user":"u"}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"subscribe", `{"user":"u","channel":"ch","b64info":"%"}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"unsubscribe", `{"user":"u","channel":"ch","client":"c","session":"s"}`, `{"result":{}}`,
			[]string{`unsubscribe [{"User":"u","Channel":"ch","Client":"c","Session":"s"}]`}},
		{"unsubscribe", `{"user":"u"}`, `{"result":{}}`,
			[]string{`unsubscribe [{"User":"u","Channel":"","Client":"","Session":""}]`}},
		{"disconnect", `{"user":"u","whitelist":["a"],"disconnect":{"code":4000,"reason":"bye"}}`, `{"result":{}}`,
			[]string{`disconnect [{"User":"u","Client":"","Session":"","Whitelist":["a"],"Code":4000,"Reason":"bye"}]`}},
		{"disconnect", `{"user":"u","client":"c","session":"s"}`, `{"result":{}}`,
			[]string{`disconnect [{"User":"u","Client":"c","Session":"s","Whitelist":null,"Code":0,"Reason":""}]`}},
		// Codes a close frame may not carry (RFC 6455 section 7.4) are refused.
		{"disconnect", `{"user":"u","disconnect":{"code":1006}}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"disconnect", `{"user":"u","disconnect":{"code":2999}}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"disconnect", `{"user":"u","disconnect":{"code":70000}}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"disconnect", `{"user":"u","disconnect":{"code":1000,"reason":"done"}}`, `{"result":{}}`,
			[]string{`disconnect [{"User":"u","Client":"","Session":"","Whitelist":null,"Code":1000,"Reason":"done"}]`}},
		{"refresh", `{"user":"u","client":"c","expired":true,"expire_at":5,"info":{}}`, `{"result":{}}`,
			[]string{`refresh ["u","c","",true,5,"{}"]`}},
		{"presence", `{"channel":"ch"}`,
			`{"result":{"presence":{"c1":{"user":"u1","client":"c1","conn_info":{"a":1}},"c2":{"user":"","client":"c2","chan_info":[2]}}}}`,
			[]string{`presence ["ch"]`}},
		{"presence", `{}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"presence_stats", `{"channel":"ch"}`, `{"result":{"num_clients":2,"num_users":1}}`, []string{`presence_stats ["ch"]`}},
		{"presence_stats", `{"channel":""}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"history", `{"channel":"ch","limit":-1,"since":{"offset":18446744073709551615,"epoch":"e"},"reverse":true}`,
			`{"result":{"publications":[{"data":{"x":1},"offset":1},{"data":"s","info":{"user":"u1","client":"c1"},"offset":2,"tags":{"k":"v"}}],"epoch":"ep","offset":9223372036854775813}}`,
			[]string{`history ["ch",{"Offset":18446744073709551615,"Epoch":"e"},-1,true]`}},
		{"history", `{}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"history_remove", `{"channel":"ch"}`, `{"result":{}}`, []string{`history_remove ["ch"]`}},
		{"history_remove", `{}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
		{"channels", `{"pattern":"chat:*"}`, `{"result":{"channels":{"b":{},"chat:a":{"num_clients":2}}}}`, []string{`channels ["chat:*"]`}},
		{"info", `{}`, `{"result":{"nodes":[{"uid":"id","name":"n","version":"v","num_clients":1,"num_users":2,"num_channels":3,"uptime":90,"num_subs":4}]}}`, []string{`info null`}},
		{"rpc", `{"method":"m","params":{}}`, `{"error":{"code":104,"message":"not found"}}`, nil},
		{"rpc", `{}`, `{"error":{"code":107,"message":"bad request"}}`, nil},
	} {
		t.Run(c.method, func(t *testing.T) {
			wantJSON(t, do(t, "POST", base+c.method, keyed(), c.body), 200, c.want)
			// Broadcast publishes concurrently: compare calls as a set.
			got := n.takeCalls()
			sort.Strings(got)
			if !reflect.DeepEqual(got, c.calls) && len(got)+len(c.calls) > 0 {
				t.Fatalf("node calls:\n got %q\nwant %q", got, c.calls)
			}
		})
	}
}

// An empty history is "publications":[] and a zero position is written
// out; empty presence and channels are {}; no nodes omits "nodes".
func TestEmptyShapes(t *testing.T) {
	n := &recNode{}
	base := serve(t, n, serverapi.Options{Key: key}) + "/api/"
	for method, want := range map[string]string{
		"history":  `{"result":{"publications":[],"epoch":"","offset":0}}`,
		"presence": `{"result":{"presence":{}}}`,
		"channels": `{"result":{"channels":{}}}`,
		"info":     `{"result":{}}`,
		"publish":  `{"result":{}}`,
	} {
		wantJSON(t, do(t, "POST", base+method, keyed(), `{"channel":"c","data":1}`), 200, want)
	}
}

func TestNodeErrors(t *testing.T) {
	n := &recNode{err: map[string]error{}}
	base := serve(t, n, serverapi.Options{Key: key}) + "/api/"
	for _, c := range []struct {
		err  error
		want string
	}{
		{channels.ErrorUnknownChannel, `{"error":{"code":102,"message":"unknown channel"}}`},
		{channels.ErrorBadRequest, `{"error":{"code":107,"message":"bad request"}}`},
		{channels.ErrorNotAvailable, `{"error":{"code":108,"message":"not available"}}`},
		{channels.ErrorUnrecoverablePosition, `{"error":{"code":112,"message":"unrecoverable position"}}`},
		{fmt.Errorf("wrapped: %w", channels.ErrorNotAvailable), `{"error":{"code":108,"message":"not available"}}`},
		// The API's 104 message is "not found", not the protocol's.
		{channels.ErrorMethodNotFound, `{"error":{"code":104,"message":"not found"}}`},
		// Codes the API does not answer with, and plain errors, are 100.
		{channels.ErrorPermissionDenied, `{"error":{"code":100,"message":"internal server error"}}`},
		{&channels.Error{Code: 4000, Message: "custom"}, `{"error":{"code":100,"message":"internal server error"}}`},
		{errPlain, `{"error":{"code":100,"message":"internal server error"}}`},
	} {
		for _, m := range []string{"publish", "presence", "history", "channels", "info", "subscribe", "disconnect"} {
			n.err[m] = c.err
			wantJSON(t, do(t, "POST", base+m, keyed(), `{"channel":"ch","data":{}}`), 200, c.want)
			n.takeCalls()
		}
	}
}

func TestTransportErrorMode(t *testing.T) {
	n := &recNode{err: map[string]error{}}
	mode := map[string]string{"X-API-Key": key, "X-Centrifugo-Error-Mode": "transport"}
	plain := serve(t, n, serverapi.Options{Key: key}) + "/api/"
	transport := serve(t, n, serverapi.Options{Key: key, ErrorMode: serverapi.TransportErrorMode}) + "/api/"
	for _, c := range []struct {
		err    error
		status int
		body   string
	}{
		{channels.ErrorUnknownChannel, 404, `{"code":102,"message":"unknown channel"}`},
		{channels.ErrorBadRequest, 400, `{"code":107,"message":"bad request"}`},
		{channels.ErrorNotAvailable, 400, `{"code":108,"message":"not available"}`},
		{channels.ErrorUnrecoverablePosition, 416, `{"code":112,"message":"unrecoverable position"}`},
		{errPlain, 500, `{"code":100,"message":"internal server error"}`},
	} {
		n.err["history"] = c.err
		wantJSON(t, do(t, "POST", plain+"history", mode, `{"channel":"ch"}`), c.status, c.body)
		wantJSON(t, do(t, "POST", transport+"history", keyed(), `{"channel":"ch"}`), c.status, c.body)
		// Without the header or the option: 200 and an error object.
		wantJSON(t, do(t, "POST", plain+"history", keyed(), `{"channel":"ch"}`), 200, `{"error":`+c.body+`}`)
	}
	n.err["history"] = nil
	wantJSON(t, do(t, "POST", plain+"rpc", mode, `{"method":"x"}`), 404, `{"code":104,"message":"not found"}`)
	// Success is unchanged; batches keep errors inside their replies.
	wantJSON(t, do(t, "POST", transport+"history", keyed(), `{"channel":"ch"}`), 200, `{"result":{"publications":[],"epoch":"","offset":0}}`)
	wantJSON(t, do(t, "POST", transport+"batch", keyed(), `{"commands":[{"rpc":{}}]}`), 200, `{"replies":[{"error":{"code":107,"message":"bad request"}}]}`)
}

func TestBatch(t *testing.T) {
	n := &recNode{err: map[string]error{"presence": channels.ErrorNotAvailable}, stats: broker.PresenceStats{NumClients: 1, NumUsers: 1}}
	base := serve(t, n, serverapi.Options{Key: key}) + "/api/batch"
	cmds := `[{"publish":{"channel":"a","data":1}},{"presence":{"channel":"a"}},null,{"connections":{}},{},` +
		`{"presence_stats":{"channel":"a"}},{"subscribe":{"user":"u","channel":"a"}},{"rpc":{"method":"x"}}]`
	want := `{"replies":[{"publish":{}},{"error":{"code":108,"message":"not available"}},{"error":{"code":107,"message":"bad request"}},` +
		`{"error":{"code":104,"message":"not found"}},{"error":{"code":104,"message":"not found"}},` +
		`{"presence_stats":{"num_clients":1,"num_users":1}},{"subscribe":{}},{"error":{"code":104,"message":"not found"}}]}`
	wantJSON(t, do(t, "POST", base, keyed(), `{"commands":`+cmds+`}`), 200, want)
	wantCalls(t, n, `publish ["a","1",{"SkipHistory":false,"Tags":null,"IdempotencyKey":""}]`, `presence ["a"]`, `presence_stats ["a"]`,
		`subscribe ["u","a","","","","",null,null,0]`)
	// Parallel: the same replies in the same order.
	wantJSON(t, do(t, "POST", base, keyed(), `{"parallel":true,"commands":`+cmds+`}`), 200, want)
	if got := len(n.takeCalls()); got != 4 {
		t.Fatalf("parallel batch: %d node calls, want 4", got)
	}
	wantJSON(t, do(t, "POST", base, keyed(), `{}`), 200, `{}`)
	// A command whose body does not decode fails the whole batch.
	if r := do(t, "POST", base, keyed(), `{"commands":[{"publish":{"channel":1}}]}`); r.status != 400 {
		t.Fatalf("got %d, want 400", r.status)
	}
}

func TestBatchParallelRuns(t *testing.T) {
	// 200 publications in a parallel batch: each gets its own reply.
	n := &recNode{pos: broker.StreamPosition{Offset: 7}}
	base := serve(t, n, serverapi.Options{Key: key}) + "/api/batch"
	var b bytes.Buffer
	b.WriteString(`{"parallel":true,"commands":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"publish":{"channel":"c%d","data":%d}}`, i, i)
	}
	b.WriteString(`]}`)
	r := do(t, "POST", base, keyed(), b.String())
	want := `{"replies":[` + strings.TrimSuffix(strings.Repeat(`{"publish":{"offset":7}},`, 200), ",") + `]}`
	wantJSON(t, r, 200, want)
	if got := len(n.takeCalls()); got != 200 {
		t.Fatalf("%d calls, want 200", got)
	}
}

func TestLegacy(t *testing.T) {
	n := &recNode{stats: broker.PresenceStats{NumClients: 3, NumUsers: 2}}
	base := serve(t, n, serverapi.Options{Key: key})
	body := `{"id":1,"method":"presence_stats","params":{"channel":"a"}}
{"method":"PUBLISH","params":{"channel":"b","data":"x"}}
{"id":3,"method":5,"params":{"channel":"c"}}
{"id":4,"method":"publish","params":{"channel":7}}
{"id":5,"method":99}
{"id":6,"method":"connections","params":{}}
{"id":7,"method":"publish"}
{"id":8,"method":"rpc","params":{"method":"m"}}`
	want := `{"id":1,"result":{"num_clients":3,"num_users":2}}
{"result":{}}
{"id":3,"result":{"num_clients":3,"num_users":2}}
{"id":4,"error":{"code":107,"message":"bad request"}}
{"id":5,"error":{"code":104,"message":"not found"}}
{"id":6,"error":{"code":104,"message":"not found"}}
{"id":7,"error":{"code":107,"message":"bad request"}}
{"id":8,"error":{"code":104,"message":"not found"}}`
	wantJSON(t, do(t, "POST", base+"/api", keyed(), body), 200, want)
	wantCalls(t, n, `presence_stats ["a"]`, `publish ["b","\"x\"",{"SkipHistory":false,"Tags":null,"IdempotencyKey":""}]`, `presence_stats ["c"]`)
	// A missing method is 0, publish.
	wantJSON(t, do(t, "POST", base+"/api", keyed(), `{"params":{"channel":"d","data":2}}`), 200, `{"result":{}}`)
	n.takeCalls()
	for _, bad := range []string{``, `{"method":"nope"}`, `{"method":"5"}`, `{"id":1,"method":"info","params":{}} {`, `[`} {
		if r := do(t, "POST", base+"/api", keyed(), bad); r.status != 400 || r.body != "Bad Request\n" {
			t.Fatalf("%q: got %d %q, want 400", bad, r.status, r.body)
		}
	}
	if r := do(t, "POST", base+"/api", nil, `{"method":"info","params":{}}`); r.status != 401 {
		t.Fatalf("no key: got %d", r.status)
	}
	if r := do(t, "GET", base+"/api", keyed(), ``); r.status != 405 {
		t.Fatalf("GET: got %d", r.status)
	}
}

func TestPrefix(t *testing.T) {
	n := &recNode{}
	base := serve(t, n, serverapi.Options{Key: key, Prefix: "/v/"})
	wantJSON(t, do(t, "POST", base+"/v/info", keyed(), `{}`), 200, `{"result":{}}`)
	wantJSON(t, do(t, "POST", base+"/v", keyed(), `{"method":"info","params":{}}`), 200, `{"result":{}}`)
	if r := do(t, "POST", base+"/api/info", keyed(), `{}`); r.status != 404 {
		t.Fatalf("old prefix: got %d", r.status)
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, c := range []struct {
		o  serverapi.Options
		ok bool
	}{
		{serverapi.Options{}, true},
		{serverapi.Options{ErrorMode: "transport", Prefix: "/x"}, true},
		{serverapi.Options{ErrorMode: "http"}, false},
		{serverapi.Options{Prefix: "api"}, false},
	} {
		if err := c.o.Check(); (err == nil) != c.ok {
			t.Errorf("%+v: Check() = %v", c.o, err)
		}
	}
}

func TestObserve(t *testing.T) {
	n := &recNode{}
	var got []string
	base := serve(t, n, serverapi.Options{Key: key, Observe: func(m string, code uint32, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration")
		}
		got = append(got, fmt.Sprint(m, code))
	}})
	do(t, "POST", base+"/api/publish", keyed(), `{"channel":"a","data":1}`)
	do(t, "POST", base+"/api/publish", keyed(), `{"data":1}`)
	do(t, "POST", base+"/api/batch", keyed(), `{"commands":[{"info":{}},{"rpc":{"method":"m"}}]}`)
	want := []string{"publish0", "publish107", "batch0", "batch104"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

func TestMetrics(t *testing.T) {
	m := serverapi.NewMetrics()
	base := serve(t, &recNode{}, serverapi.Options{Key: key, Observe: m.Observe})
	do(t, "POST", base+"/api/publish", keyed(), `{"channel":"a","data":1}`)
	do(t, "POST", base+"/api/publish", keyed(), `{"data":1}`)
	do(t, "POST", base+"/api/publish", keyed(), `{"data":1}`)
	do(t, "POST", base+"/api/publish", nil, `{"data":1}`) // 401: not a call
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range mt.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			if c := mt.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
			if h := mt.GetHistogram(); h != nil {
				got[name] = float64(h.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"gateway_api_calls_total,method=publish,result=107": 2,
		"gateway_api_calls_total,method=publish,result=ok":  1,
		"gateway_api_call_duration_seconds,method=publish":  3,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("metrics %v, want %v", got, want)
	}
}
