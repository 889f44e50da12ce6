package channels

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"

	"github.com/xh-control/gateway/internal/gatewaytest"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/proxy"
)

// startExampleBackend builds examples/backend and runs it as a process on
// a free loopback port; it returns the base URL.
func startExampleBackend(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("go toolchain not found to build examples/backend")
			}
			t.Skip("go toolchain not found to build examples/backend")
		}
	}
	return gatewaytest.ExampleBackend(t, goBin, "../..")
}

// TestExampleBackendSDK runs the full loop: the example backend as a
// process, the gateway's proxies pointed at it, and centrifuge-go clients
// authenticated by the Authorization header of their upgrade request.
func TestExampleBackendSDK(t *testing.T) {
	base := startExampleBackend(t)
	px := func(path string, mod func(*proxy.Config)) *proxy.Proxy {
		cfg := proxy.Config{Endpoint: base + path, Timeout: 2 * time.Second}
		if mod != nil {
			mod(&cfg)
		}
		p, err := proxy.New(path, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := startNode(t, func(o *Options, _ *poller.Options) {
		o.AllowAnonymousConnectWithoutToken = false
		rules, err := namespace.New(namespace.Config{
			WithoutNamespace: namespace.Options{SubscribeProxyEnabled: true},
			Namespaces: []namespace.Namespace{{Name: "chat", Options: namespace.Options{
				SubscribeProxyEnabled: true, PublishProxyEnabled: true, HistorySize: 10, HistoryTTL: time.Minute,
			}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		o.Channels = rules
		o.Proxies = Proxies{
			Connect:   px("/connect", func(c *proxy.Config) { c.HTTPHeaders = []string{"Cookie", "Authorization"} }),
			Subscribe: px("/subscribe", nil),
			Publish:   px("/publish", nil),
			RPC:       []RPCRoute{{Pattern: "*", Proxy: px("/rpc", nil)}},
		}
	})
	alice := newSDKClient(t, env, false, centrifuge.Config{Header: http.Header{"Authorization": {"Bearer alice-secret"}}})
	bob := newSDKClient(t, env, true, centrifuge.Config{Header: http.Header{"Cookie": {"session=bob-secret"}}})

	sub := subscribeSDK(t, bob, "chat:room", centrifuge.SubscriptionConfig{})
	subscribeSDK(t, alice, "chat:room", centrifuge.SubscriptionConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := alice.Publish(ctx, "chat:room", []byte(`{"text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	sub.expectPubs(t, `{"by":"alice","text":"hello"}`) // rewritten by the backend
	_, err := alice.Publish(ctx, "chat:room", []byte(`{"text":"buy SPAM now"}`))
	var e *centrifuge.Error
	if !errors.As(err, &e) || e.Code != 1000 || e.Message != "message refused" {
		t.Fatalf("refused publish: %v", err)
	}
	sub.expectPubs(t)

	res, err := alice.RPC(ctx, "time", nil)
	if err != nil {
		t.Fatal(err)
	}
	var tm struct{ Unix int64 }
	if json.Unmarshal(res.Data, &tm) != nil || time.Since(time.Unix(tm.Unix, 0)).Abs() > time.Minute {
		t.Fatalf("rpc time: %s", res.Data)
	}
	if _, err := alice.RPC(ctx, "nope", nil); !errors.As(err, &e) || e.Code != 104 {
		t.Fatalf("unknown rpc: %v", err)
	}

	// bob may not join "news": the backend answers 403.
	s, err := bob.NewSubscription("news", centrifuge.SubscriptionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan centrifuge.SubscriptionErrorEvent, 4)
	unsub := make(chan centrifuge.UnsubscribedEvent, 4)
	s.OnError(func(e centrifuge.SubscriptionErrorEvent) { failed <- e })
	s.OnUnsubscribed(func(e centrifuge.UnsubscribedEvent) { unsub <- e })
	s.Subscribe()
	select {
	case e := <-unsub:
		if e.Code != 403 {
			t.Fatalf("news for bob: unsubscribed with %d %s, want 403", e.Code, e.Reason)
		}
	case fe := <-failed:
		var ce *centrifuge.Error
		if se, ok := fe.Error.(centrifuge.SubscriptionSubscribeError); ok {
			fe.Error = se.Err
		}
		if !errors.As(fe.Error, &ce) || ce.Code != 403 {
			t.Fatalf("news for bob: %v, want 403", fe.Error)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("news for bob: no answer")
	}

	// No credentials: the backend disconnects with 4501, terminal.
	c := centrifuge.NewJsonClient(env.url, centrifuge.Config{})
	disc := make(chan centrifuge.DisconnectedEvent, 1)
	c.OnDisconnected(func(e centrifuge.DisconnectedEvent) { disc <- e })
	t.Cleanup(c.Close)
	c.Connect()
	select {
	case e := <-disc:
		if e.Code != 4501 {
			t.Fatalf("anonymous: disconnected with %d %s, want 4501", e.Code, e.Reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("anonymous client was not disconnected")
	}
}
