package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a real HTTP server on loopback that records what it got.
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
	calls   atomic.Int32
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int32)) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.calls.Add(1)
		raw, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(raw, &m)
		b.mu.Lock()
		b.bodies = append(b.bodies, m)
		b.headers = append(b.headers, r.Header.Clone())
		b.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("method %s, want POST", r.Method)
		}
		answer(w, r, n)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) body(i int) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bodies[i]
}

func (b *backend) header(i int) http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.headers[i]
}

func answer(body string) func(http.ResponseWriter, *http.Request, int32) {
	return func(w http.ResponseWriter, _ *http.Request, _ int32) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func mustProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New("test", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConnectSendsCentrifugoBodyAndForwardsOnlyListedHeaders(t *testing.T) {
	b := newBackend(t, answer(`{"result":{"user":"56","expire_at":1765436268,"info":{"name":"A"},"channels":["news"],"subs":{"chat:1":{"b64info":"AQI="}},"meta":{"tier":1}}}`))
	p := mustProxy(t, Config{
		Endpoint:        b.URL,
		HTTPHeaders:     []string{"cookie", "Authorization"},
		EmulatedHeaders: []string{"X-Emulated"},
		StaticHeaders:   map[string]string{"X-Static": "s"},
	})
	hdr := http.Header{}
	hdr.Add("Cookie", "a=1")
	hdr.Add("Cookie", "b=2")
	hdr.Set("Authorization", "Bearer t")
	hdr.Set("X-Secret", "never")
	req := &ConnectRequest{
		Common: Common{Client: "c1", Transport: "websocket", Protocol: "json"},
		Name:   "js", Version: "5.7", Data: json.RawMessage(`{"k":1}`), Channels: []string{"news"},
	}
	reply, err := p.Connect(context.Background(), Headers{HTTP: hdr, Emulated: map[string]string{"x-emulated": "e", "X-Other": "o"}}, req)
	if err != nil {
		t.Fatal(err)
	}
	got := b.body(0)
	want := map[string]any{"client": "c1", "transport": "websocket", "protocol": "json", "encoding": "json",
		"name": "js", "version": "5.7", "data": map[string]any{"k": 1.0}, "channels": []any{"news"}}
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("body\n got %s\nwant %s", g, w)
	}
	h := b.header(0)
	if v := h.Values("Cookie"); len(v) != 2 || v[0] != "a=1" || v[1] != "b=2" {
		t.Errorf("Cookie forwarded as %q, want both lines", v)
	}
	for name, want := range map[string]string{"Authorization": "Bearer t", "X-Static": "s", "X-Emulated": "e",
		"Content-Type": "application/json", "X-Secret": "", "X-Other": ""} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	r := reply.Result
	if reply.Error != nil || reply.Disconnect != nil || r == nil {
		t.Fatalf("reply %+v", reply)
	}
	if r.User != "56" || r.ExpireAt != 1765436268 || string(r.Info) != `{"name":"A"}` || len(r.Channels) != 1 ||
		string(r.Meta) != `{"tier":1}` {
		t.Errorf("result %+v", r)
	}
	info, err := Payload(r.Subs["chat:1"].Info, r.Subs["chat:1"].B64Info)
	if err != nil || len(info) != 2 || info[0] != 1 || info[1] != 2 {
		t.Errorf("subs info = %v, %v", info, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestReplyKinds(t *testing.T) {
	for _, c := range []struct {
		body                  string
		result, error, discon bool
	}{
		{`{"result":{}}`, true, false, false},
		{`{}`, false, false, false},
		{`{"error":{"code":403,"message":"permission denied","temporary":true}}`, false, true, false},
		{`{"disconnect":{"code":4501,"reason":"unauthorized"}}`, false, false, true},
		{`{"disconnect":{"code":4501,"reason":"x"},"error":{"code":1,"message":"m"},"result":{}}`, true, true, true},
	} {
		b := newBackend(t, answer(c.body))
		p := mustProxy(t, Config{Endpoint: b.URL})
		reply, err := p.Subscribe(context.Background(), Headers{}, &SubscribeRequest{Channel: "x"})
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if (reply.Result != nil) != c.result || (reply.Error != nil) != c.error || (reply.Disconnect != nil) != c.discon {
			t.Errorf("%s: decoded %+v", c.body, reply)
		}
	}
	b := newBackend(t, answer(`{"error":{"code":403,"message":"permission denied","temporary":true}}`))
	reply, _ := mustProxy(t, Config{Endpoint: b.URL}).Publish(context.Background(), Headers{}, &PublishRequest{})
	if e := reply.Error; e == nil || e.Code != 403 || e.Message != "permission denied" || !e.Temporary {
		t.Errorf("error reply %+v", e)
	}
}

func TestFailuresAreUnavailableAndOnlyIdempotentCallsRetry(t *testing.T) {
	status := func(code int) func(http.ResponseWriter, *http.Request, int32) {
		return func(w http.ResponseWriter, _ *http.Request, _ int32) { w.WriteHeader(code) }
	}
	for _, c := range []struct {
		name      string
		answer    func(http.ResponseWriter, *http.Request, int32)
		call      func(p *Proxy) error
		wantCalls int32
	}{
		{"connect 500 retried once", status(500), func(p *Proxy) error {
			_, err := p.Connect(context.Background(), Headers{}, &ConnectRequest{})
			return err
		}, 2},
		{"refresh 503 retried once", status(503), func(p *Proxy) error {
			_, err := p.Refresh(context.Background(), Headers{}, &RefreshRequest{})
			return err
		}, 2},
		{"subscribe 404 not retried", status(404), func(p *Proxy) error {
			_, err := p.Subscribe(context.Background(), Headers{}, &SubscribeRequest{})
			return err
		}, 1},
		{"publish 500 not retried", status(500), func(p *Proxy) error {
			_, err := p.Publish(context.Background(), Headers{}, &PublishRequest{})
			return err
		}, 1},
		{"rpc 502 not retried", status(502), func(p *Proxy) error {
			_, err := p.RPC(context.Background(), Headers{}, &RPCRequest{})
			return err
		}, 1},
		{"undecodable body", answer(`{"result":`), func(p *Proxy) error {
			_, err := p.SubRefresh(context.Background(), Headers{}, &SubRefreshRequest{})
			return err
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t, c.answer)
			p := mustProxy(t, Config{Endpoint: b.URL})
			if err := c.call(p); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if n := b.calls.Load(); n != c.wantCalls {
				t.Errorf("backend got %d calls, want %d", n, c.wantCalls)
			}
			if n := p.Metrics().Errors.Load(); n != 1 {
				t.Errorf("errors metric %d, want 1", n)
			}
		})
	}
	// A retry that succeeds is not an error.
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int32) {
		if n == 1 {
			w.WriteHeader(500)
			return
		}
		answer(`{"result":{"user":"u"}}`)(w, r, n)
	})
	p := mustProxy(t, Config{Endpoint: b.URL})
	reply, err := p.Connect(context.Background(), Headers{}, &ConnectRequest{})
	if err != nil || reply.Result == nil || reply.Result.User != "u" {
		t.Fatalf("retried connect: %+v, %v", reply, err)
	}
	// A backend that is down.
	b.Close()
	if _, err := p.Connect(context.Background(), Headers{}, &ConnectRequest{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("backend down: %v", err)
	}
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ int32) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	p := mustProxy(t, Config{Endpoint: b.URL, Timeout: 50 * time.Millisecond, Retries: -1})
	start := time.Now()
	_, err := p.Publish(context.Background(), Headers{}, &PublishRequest{})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("call took %v with a 50ms timeout", d)
	}
}

func TestConcurrencyBoundRefusesAtOnce(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int32) {
		entered <- struct{}{}
		<-release
		answer(`{"result":{}}`)(w, r, n)
	})
	p := mustProxy(t, Config{Endpoint: b.URL, MaxConcurrency: 2, Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.RPC(context.Background(), Headers{}, &RPCRequest{}); err != nil {
				t.Errorf("call within the bound: %v", err)
			}
		}()
	}
	<-entered
	<-entered
	if _, err := p.RPC(context.Background(), Headers{}, &RPCRequest{}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third call: %v, want ErrOverloaded", err)
	}
	close(release)
	wg.Wait()
	if _, err := p.RPC(context.Background(), Headers{}, &RPCRequest{}); err != nil {
		t.Fatalf("after the others returned: %v", err)
	}
	if p.Metrics().Refused.Load() != 1 || p.Metrics().Calls.Load() != 3 {
		t.Errorf("metrics: refused %d calls %d", p.Metrics().Refused.Load(), p.Metrics().Calls.Load())
	}
}

func TestBinaryEncoding(t *testing.T) {
	b := newBackend(t, answer(`{"result":{"b64data":"/w=="}}`))
	p := mustProxy(t, Config{Endpoint: b.URL, BinaryEncoding: true})
	data, b64 := p.EncodePayload([]byte{0xff, 0x00})
	reply, err := p.RPC(context.Background(), Headers{}, &RPCRequest{Method: "m", Data: data, B64Data: b64})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.body(0); got["encoding"] != "binary" || got["b64data"] != "/wA=" || got["data"] != nil || got["method"] != "m" {
		t.Errorf("body %v", got)
	}
	out, err := Payload(reply.Result.Data, reply.Result.B64Data)
	if err != nil || len(out) != 1 || out[0] != 0xff {
		t.Errorf("payload %v %v", out, err)
	}
	if _, err := Payload(nil, "!!"); err == nil {
		t.Error("bad base64 accepted")
	}
	if out, _ := Payload(json.RawMessage("null"), ""); out != nil {
		t.Errorf("null payload = %q", out)
	}
}

func TestEndpointMustBeHTTP(t *testing.T) {
	for _, e := range []string{"", "grpc://x:1", "ftp://x", "localhost:8080"} {
		if _, err := New("x", Config{Endpoint: e}, nil); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
}
