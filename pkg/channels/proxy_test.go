package channels

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/proxy"
)

// testBackend is a real HTTP backend on loopback answering every proxy
// event; what it answers depends on the request (user data, channel,
// method), so that each path can be driven by a client.
type testBackend struct {
	srv      *httptest.Server
	calls    sync.Map // path -> *atomic.Int64
	lastHdr  atomic.Pointer[http.Header]
	lastBody atomic.Pointer[string]
}

func (b *testBackend) count(path string) int64 {
	v, _ := b.calls.LoadOrStore(path, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

// act turns a mode into the backend's behaviour: "slow" sleeps 5 s (or
// until the gateway gives up), "down" answers 500, "error" a custom error
// 1000, "bye" a disconnect 4501; "" lets ok answer.
func act(w http.ResponseWriter, r *http.Request, mode string, ok func() any) {
	switch mode {
	case "slow":
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
	case "down":
		http.Error(w, "down", http.StatusInternalServerError)
		return
	case "error":
		io.WriteString(w, `{"error":{"code":1000,"message":"custom error"}}`)
		return
	case "bye":
		io.WriteString(w, `{"disconnect":{"code":4501,"reason":"go away"}}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"result": ok()})
}

func newTestBackend(t testing.TB) *testBackend {
	b := &testBackend{}
	mux := http.NewServeMux()
	handle := func(path string, f func(w http.ResponseWriter, r *http.Request, body map[string]any)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			v, _ := b.calls.LoadOrStore(path, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			raw, _ := io.ReadAll(r.Body)
			s := string(raw)
			h := r.Header.Clone()
			b.lastHdr.Store(&h)
			b.lastBody.Store(&s)
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f(w, r, body)
		})
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	handle("/connect", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		data, _ := body["data"].(map[string]any)
		user := str(data, "user")
		act(w, r, str(data, "mode"), func() any {
			res := map[string]any{"user": user, "data": map[string]any{"hello": user}}
			if e, ok := data["expire_in"].(float64); ok {
				res["expire_at"] = time.Now().Unix() + int64(e)
			}
			return res
		})
	})
	handle("/refresh", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		if str(body, "user") == "expire-me" {
			io.WriteString(w, `{"result":{"expired":true}}`)
			return
		}
		act(w, r, "", func() any { return map[string]any{"expire_at": time.Now().Unix() + 100} })
	})
	handle("/subscribe", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		ch := str(body, "channel")
		act(w, r, strings.TrimPrefix(ch, "px:"), func() any {
			res := map[string]any{"data": map[string]any{"granted": ch}}
			if strings.Contains(ch, "exp") {
				res["expire_at"] = time.Now().Unix() + 1
			}
			return res
		})
	})
	handle("/sub_refresh", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		if str(body, "channel") == "px:subexp" {
			io.WriteString(w, `{"result":{"expired":true}}`)
			return
		}
		act(w, r, "", func() any { return map[string]any{"expire_at": time.Now().Unix() + 100} })
	})
	handle("/publish", func(w http.ResponseWriter, r *http.Request, body map[string]any) {
		data, _ := body["data"].(map[string]any)
		text := str(data, "text")
		if strings.Contains(text, "forbidden") {
			io.WriteString(w, `{"error":{"code":1001,"message":"word not allowed"}}`)
			return
		}
		act(w, r, str(data, "mode"), func() any {
			return map[string]any{"data": map[string]any{"text": strings.ToUpper(text), "by": str(body, "user")}}
		})
	})
	for _, name := range []string{"a", "b"} {
		handle("/rpc-"+name, func(w http.ResponseWriter, r *http.Request, body map[string]any) {
			method := str(body, "method")
			act(w, r, strings.TrimPrefix(method, name+"."), func() any {
				return map[string]any{"data": map[string]any{"backend": name, "method": method, "user": str(body, "user")}}
			})
		})
	}
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBackend) proxy(t testing.TB, path string, timeout time.Duration, mod func(*proxy.Config)) *proxy.Proxy {
	cfg := proxy.Config{Endpoint: b.srv.URL + path, Timeout: timeout, Retries: -1}
	if mod != nil {
		mod(&cfg)
	}
	p, err := proxy.New(strings.TrimPrefix(path, "/"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proxyNamespaces adds "px" (subscribe and publish proxies) to the test
// namespaces.
func proxyNamespaces(t testing.TB) *namespace.Rules {
	cfg := testNamespaces()
	cfg.Namespaces = append(cfg.Namespaces, namespace.Namespace{Name: "px", Options: namespace.Options{
		SubscribeProxyEnabled: true, PublishProxyEnabled: true, HistorySize: 10, HistoryTTL: time.Minute, AllowHistoryForSubscriber: true,
		SubRefreshProxyEnabled: true,
	}})
	r, err := namespace.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startProxyNode serves a node whose every proxy calls b with timeout.
func startProxyNode(t testing.TB, b *testBackend, timeout time.Duration, mod func(o *Options, p *poller.Options)) *testEnv {
	return startNode(t, func(o *Options, p *poller.Options) {
		o.Channels = proxyNamespaces(t)
		o.AllowAnonymousConnectWithoutToken = false
		o.Proxies = Proxies{
			Connect: b.proxy(t, "/connect", timeout, func(c *proxy.Config) {
				c.HTTPHeaders = []string{"X-Forwarded-For", "Cookie"}
				c.EmulatedHeaders = []string{"X-Tenant"}
			}),
			Subscribe: b.proxy(t, "/subscribe", timeout, nil),
			Publish:   b.proxy(t, "/publish", timeout, nil),
			RPC: []RPCRoute{
				{Pattern: "a.*", Proxy: b.proxy(t, "/rpc-a", timeout, nil)},
				{Pattern: "b.*", Proxy: b.proxy(t, "/rpc-b", timeout, nil)},
			},
		}
		if mod != nil {
			mod(o, p)
		}
	})
}

// connectAs connects through the connect proxy and returns the reply.
func (c *wsClient) connectAs(data string) string {
	c.t.Helper()
	c.send(`{"id":1,"connect":{"data":` + data + `}}`)
	return c.next()
}

func TestConnectProxy(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 300*time.Millisecond, nil)

	conn, _, err := websocket.DefaultDialer.Dial(env.url, http.Header{"Cookie": {"session=abc"}, "X-Other": {"no"}, "X-Forwarded-For": {"6.6.6.6"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	c.send(`{"id":1,"connect":{"data":{"user":"alice"},"headers":{"X-Tenant":"t1","X-Secret":"no"}}}`)
	var r struct {
		ID      int `json:"id"`
		Connect struct {
			Client string          `json:"client"`
			Data   json.RawMessage `json:"data"`
		} `json:"connect"`
	}
	if s := c.next(); json.Unmarshal([]byte(s), &r) != nil || r.Connect.Client == "" {
		t.Fatalf("connect reply %s", s)
	}
	expectJSON(t, string(r.Connect.Data), `{"hello":"alice"}`)
	h := *b.lastHdr.Load()
	// Only listed headers; X-Forwarded-For is the real-IP logic's view
	// (the peer is not a trusted proxy: its own header is ignored).
	if h.Get("X-Tenant") != "t1" || h.Get("X-Secret") != "" || h.Get("X-Forwarded-For") != "127.0.0.1" ||
		h.Get("Cookie") != "session=abc" || h.Get("X-Other") != "" {
		t.Fatalf("forwarded headers %v", h)
	}
	want := `{"client":"` + r.Connect.Client + `","transport":"websocket","protocol":"json","encoding":"json","data":{"user":"alice"}}`
	expectJSON(t, *b.lastBody.Load(), want)
	// The user's RPC carries the user the backend gave.
	c.send(`{"id":2,"rpc":{"method":"a.whoami","data":{}}}`)
	expectJSON(t, c.next(), `{"id":2,"rpc":{"data":{"backend":"a","method":"a.whoami","user":"alice"}}}`)

	for _, tc := range []struct{ mode, want string }{
		{"error", `{"id":1,"error":{"code":1000,"message":"custom error"}}`},
		{"down", `{"id":1,"error":{"code":100,"message":"internal server error","temporary":true}}`},
		{"slow", `{"id":1,"error":{"code":100,"message":"internal server error","temporary":true}}`}, // timeout
	} {
		c := dialJSON(t, env.url, nil)
		expectJSON(t, c.connectAs(`{"user":"u","mode":"`+tc.mode+`"}`), tc.want)
	}
	c = dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"data":{"mode":"bye"}}}`)
	c.expectClose(4501)
}

func TestConnectProxyHoldsFrameCommands(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, time.Second, nil)
	for i := 0; i < 20; i++ {
		c := dialJSON(t, env.url, nil)
		// The SDKs send subscribes in the connect's frame: they must run
		// after the connect, in order, with the connect's user.
		c.send(`{"id":1,"connect":{"data":{"user":"bob"}}}`,
			`{"id":2,"subscribe":{"channel":"px:ok"}}`,
			`{"id":3,"rpc":{"method":"b.who"}}`)
		if s := c.next(); !strings.HasPrefix(s, `{"id":1,"connect":{"client":"`) {
			t.Fatalf("first reply %s", s)
		}
		got := map[string]bool{c.next(): true, c.next(): true} // the calls may complete in any order
		for _, want := range []string{
			`{"id":2,"subscribe":{"data":{"granted":"px:ok"}}}`,
			`{"id":3,"rpc":{"data":{"backend":"b","method":"b.who","user":"bob"}}}`,
		} {
			if !got[want] {
				t.Fatalf("replies %v, want %s", got, want)
			}
		}
	}
}

func TestSubscribeProxy(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 300*time.Millisecond, nil)
	c := dialJSON(t, env.url, nil)
	c.connectAs(`{"user":"carol"}`)
	c.send(`{"id":2,"subscribe":{"channel":"px:ok"}}`)
	expectJSON(t, c.next(), `{"id":2,"subscribe":{"data":{"granted":"px:ok"}}}`)
	c.send(`{"id":3,"subscribe":{"channel":"px:error"}}`)
	expectJSON(t, c.next(), `{"id":3,"error":{"code":1000,"message":"custom error"}}`)
	c.send(`{"id":4,"subscribe":{"channel":"px:down"}}`)
	expectJSON(t, c.next(), `{"id":4,"error":{"code":100,"message":"internal server error","temporary":true}}`)
	c.send(`{"id":5,"subscribe":{"channel":"px:slow"}}`)
	expectJSON(t, c.next(), `{"id":5,"error":{"code":100,"message":"internal server error","temporary":true}}`)
	// Without the namespace flag the backend is not asked.
	before := b.count("/subscribe")
	c.send(`{"id":6,"subscribe":{"channel":"open"}}`)
	expectJSON(t, c.next(), `{"id":6,"subscribe":{}}`)
	if got := b.count("/subscribe"); got != before {
		t.Fatalf("subscribe proxy asked %d times for a channel without the flag", got-before)
	}
	c.send(`{"id":7,"subscribe":{"channel":"px:bye"}}`)
	c.expectClose(4501)
}

func TestPublishProxyRewrites(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 300*time.Millisecond, nil)
	sub := dialJSON(t, env.url, nil)
	sub.connectAs(`{"user":"sub"}`)
	sub.send(`{"id":2,"subscribe":{"channel":"px:room"}}`)
	expectJSON(t, sub.next(), `{"id":2,"subscribe":{"data":{"granted":"px:room"}}}`)

	pub := dialJSON(t, env.url, nil)
	pub.connectAs(`{"user":"pub"}`)
	pub.send(`{"id":2,"publish":{"channel":"px:room","data":{"text":"hello"}}}`)
	expectJSON(t, pub.next(), `{"id":2,"publish":{}}`)
	line, epoch := cutEpoch(sub.nextNonPing())
	expectJSON(t, line, `{"push":{"channel":"px:room","pub":{"data":{"by":"pub","text":"HELLO"},"info":{"user":"pub","client":"`+pubClient(t, b)+`"},"offset":1}}}`)
	if epoch == "" {
		t.Fatal("the stream's first publication carries no epoch")
	}

	pub.send(`{"id":3,"publish":{"channel":"px:room","data":{"text":"a forbidden word"}}}`)
	expectJSON(t, pub.next(), `{"id":3,"error":{"code":1001,"message":"word not allowed"}}`)
	pub.send(`{"id":4,"publish":{"channel":"px:room","data":{"mode":"slow"}}}`)
	expectJSON(t, pub.next(), `{"id":4,"error":{"code":100,"message":"internal server error","temporary":true}}`)
	pub.send(`{"id":5,"publish":{"channel":"px:room","data":{"mode":"bye"}}}`)
	pub.expectClose(4501)
	// Nothing but the approved publication reached the subscriber.
	sub.send(`{"id":3,"history":{"channel":"px:room","limit":-1}}`)
	if s := sub.nextNonPing(); !strings.Contains(s, `"offset":1`) || strings.Contains(s, "forbidden") || strings.Count(s, `"data"`) != 1 {
		t.Fatalf("history %s", s)
	}
}

// pubClient is the client ID the backend last saw in a publish request.
func pubClient(t testing.TB, b *testBackend) string {
	var body struct {
		Client string `json:"client"`
	}
	json.Unmarshal([]byte(*b.lastBody.Load()), &body)
	return body.Client
}

func TestRPCRoutes(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 300*time.Millisecond, nil)
	c := dialJSON(t, env.url, nil)
	c.connectAs(`{"user":"dan"}`)
	for _, tc := range []struct{ method, want string }{
		{"a.time", `{"data":{"backend":"a","method":"a.time","user":"dan"}}`},
		{"b.time", `{"data":{"backend":"b","method":"b.time","user":"dan"}}`},
	} {
		c.send(`{"id":2,"rpc":{"method":"` + tc.method + `","data":{"x":1}}}`)
		expectJSON(t, c.next(), `{"id":2,"rpc":`+tc.want+`}`)
	}
	c.send(`{"id":3,"rpc":{"method":"c.time"}}`)
	expectJSON(t, c.next(), `{"id":3,"error":{"code":104,"message":"method not found"}}`)
	c.send(`{"id":4,"rpc":{"method":"a.error"}}`)
	expectJSON(t, c.next(), `{"id":4,"error":{"code":1000,"message":"custom error"}}`)
	c.send(`{"id":5,"rpc":{"method":"b.slow"}}`)
	expectJSON(t, c.next(), `{"id":5,"error":{"code":100,"message":"internal server error","temporary":true}}`)
	c.send(`{"id":6,"rpc":{"method":"a.bye"}}`)
	c.expectClose(4501)
}

func TestRefreshProxy(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, time.Second, func(o *Options, _ *poller.Options) {
		o.Proxies.Refresh = b.proxy(t, "/refresh", time.Second, nil)
		o.TickInterval = 50 * time.Millisecond
	})
	c := dialJSON(t, env.url, nil)
	s := c.connectAs(`{"user":"erin","expire_in":1}`)
	if strings.Contains(s, `"expires"`) || strings.Contains(s, `"ttl"`) {
		t.Fatalf("connect result with a refresh proxy says expires: %s", s)
	}
	deadline := time.Now().Add(4 * time.Second)
	for b.count("/refresh") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if b.count("/refresh") == 0 {
		t.Fatal("refresh proxy not called at expiry")
	}
	c.send(`{"id":2,"rpc":{"method":"a.x"}}`) // still connected
	if s := c.nextNonPing(); !strings.HasPrefix(s, `{"id":2,"rpc"`) {
		t.Fatalf("after refresh: %s", s)
	}
	c.send(`{"id":3,"refresh":{"token":"x"}}`) // server-side refresh: a violation
	c.expectClose(3501)

	e := dialJSON(t, env.url, nil)
	e.connectAs(`{"user":"expire-me","expire_in":1}`)
	e.expectClose(3005)
}

// TestSlowBackendDoesNotHoldWorkers: 20 clients wait on a backend that
// answers in 5 s while other clients' channel traffic keeps its pace, on a
// poller with 4 workers (synchronous calls would stall it).
func TestSlowBackendDoesNotHoldWorkers(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 10*time.Second, func(_ *Options, p *poller.Options) { p.Workers = 4 })
	for i := 0; i < 20; i++ {
		c := dialJSON(t, env.url, nil)
		c.connectAs(fmt.Sprintf(`{"user":"slow%d"}`, i))
		c.send(`{"id":2,"rpc":{"method":"a.slow"}}`, `{"id":3,"rpc":{"method":"a.slow"}}`)
	}
	// The per-client bound: the 9th call in flight is answered 111.
	busy := dialJSON(t, env.url, nil)
	busy.connectAs(`{"user":"busy"}`)
	var lines []string
	for i := 0; i < DefaultMaxProxyCalls+1; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":%d,"rpc":{"method":"a.slow"}}`, 10+i))
	}
	busy.send(lines...)
	expectJSON(t, busy.next(), fmt.Sprintf(`{"id":%d,"error":{"code":111,"message":"too many requests","temporary":true}}`, 10+DefaultMaxProxyCalls))

	const others = 10
	var lat []time.Duration
	for i := 0; i < others; i++ {
		c := dialJSON(t, env.url, nil)
		c.connectAs(fmt.Sprintf(`{"user":"fast%d"}`, i))
		ch := fmt.Sprintf("room%d", i)
		c.send(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`)
		c.next()
		for j := 0; j < 20; j++ {
			start := time.Now()
			c.send(fmt.Sprintf(`{"id":%d,"publish":{"channel":"%s","data":{"n":%d}}}`, 3+j, ch, j))
			c.next()
			c.nextNonPing()
			lat = append(lat, time.Since(start))
		}
	}
	p99 := percentile(lat, 0.99)
	t.Logf("channel round trip p99 %v over %d publications while 20 clients wait on a 5 s backend", p99, len(lat))
	if p99 > latencyBound() {
		t.Fatalf("p99 %v: the slow backend slows other clients", p99)
	}
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

func TestSubRefreshProxy(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, time.Second, func(o *Options, _ *poller.Options) {
		o.Proxies.SubRefresh = b.proxy(t, "/sub_refresh", time.Second, nil)
		o.TickInterval = 50 * time.Millisecond
	})
	c := dialJSON(t, env.url, nil)
	c.connectAs(`{"user":"fay"}`)
	// expires is not sent: the node refreshes the subscription itself.
	c.send(`{"id":2,"subscribe":{"channel":"px:exp"}}`, `{"id":3,"subscribe":{"channel":"px:subexp"}}`)
	got := map[string]bool{c.next(): true, c.next(): true}
	for _, want := range []string{`{"id":2,"subscribe":{"data":{"granted":"px:exp"}}}`, `{"id":3,"subscribe":{"data":{"granted":"px:subexp"}}}`} {
		if !got[want] {
			t.Fatalf("replies %v, want %s", got, want)
		}
	}
	// At expiry (1 s) the backend refuses px:subexp: unsubscribed with 2501;
	// px:exp is extended and stays.
	expectJSON(t, c.nextNonPing(), `{"push":{"channel":"px:subexp","unsubscribe":{"code":2501,"reason":"subscription expired"}}}`)
	deadline := time.Now().Add(3 * time.Second)
	for b.count("/sub_refresh") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.count("/sub_refresh"); n != 2 {
		t.Fatalf("sub_refresh asked %d times, want 2", n)
	}
	c.send(`{"id":4,"presence_stats":{"channel":"px:exp"}}`) // any reply proves the connection is alive
	if s := c.nextNonPing(); !strings.HasPrefix(s, `{"id":4,`) {
		t.Fatalf("after sub_refresh: %s", s)
	}
	c.send(`{"id":5,"subscribe":{"channel":"px:exp"}}`)
	expectJSON(t, c.nextNonPing(), `{"id":5,"error":{"code":105,"message":"already subscribed"}}`)
}

// TestProxyMetrics: calls, errors and latency by proxy are exported.
func TestProxyMetrics(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, 300*time.Millisecond, nil)
	c := dialJSON(t, env.url, nil)
	c.connectAs(`{"user":"m"}`)
	c.send(`{"id":2,"rpc":{"method":"a.down"}}`)
	c.next()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(env.node.Metrics())
	for _, tc := range []struct {
		name, proxy string
		want        float64
	}{
		{"gateway_channels_proxy_calls_total", "connect", 1},
		{"gateway_channels_proxy_calls_total", "rpc-a", 1},
		{"gateway_channels_proxy_errors_total", "rpc-a", 1},
		{"gateway_channels_proxy_errors_total", "connect", 0},
	} {
		if got := gatherValue(t, reg, tc.name, tc.proxy); got != tc.want {
			t.Errorf("%s{proxy=%q} = %v, want %v", tc.name, tc.proxy, got, tc.want)
		}
	}
	if got := gatherValue(t, reg, "gateway_channels_proxy_duration_seconds", "connect"); got != 1 {
		t.Errorf("connect latency observations %v, want 1", got)
	}
}

// gatherValue returns a counter's value, or a histogram's sample count.
func gatherValue(t *testing.T, reg *prometheus.Registry, name, proxyName string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "proxy" && l.GetValue() == proxyName {
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// TestConnectProxyHeldBound: past maxHeld commands waiting for the connect
// proxy the connection is closed with 3013; at maxHeld all are answered.
func TestConnectProxyHeldBound(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, time.Second, nil)
	for _, n := range []int{maxHeld, maxHeld + 1} {
		c := dialJSON(t, env.url, nil)
		lines := []string{`{"id":1,"connect":{"data":{"user":"h","mode":"slow"}}}`} // held until the call ends
		for i := 0; i < n; i++ {
			lines = append(lines, fmt.Sprintf(`{"id":%d,"presence_stats":{"channel":"chat:x"}}`, 2+i))
		}
		c.send(lines...)
		if n > maxHeld {
			c.expectClose(3013)
			continue
		}
		// The backend is slow: the connect fails with 100 after 1 s and the
		// held commands are dropped with it (nothing more is read).
		expectJSON(t, c.next(), `{"id":1,"error":{"code":100,"message":"internal server error","temporary":true}}`)
		if s, err := c.nextErr(300 * time.Millisecond); err == nil {
			t.Fatalf("after a failed connect: %s", s)
		}
	}
}
