package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/serverapi"
)

const testAPIKey = "bench-test-key"

// channelGateway runs the channel protocol in this process, as
// bench/run.sh configures the gateway (an anonymous "chat" namespace with
// history), and its server API; it returns both addresses.
func channelGateway(t *testing.T, secret string) (wsAddr, apiAddr string) {
	t.Helper()
	chat := namespace.Options{AllowSubscribeForClient: true, AllowSubscribeForAnonymous: true,
		AllowPublishForClient: true, AllowPublishForAnonymous: true, HistorySize: 100, HistoryTTL: 5 * time.Minute}
	rules, err := namespace.New(namespace.Config{Namespaces: []namespace.Namespace{{Name: "chat", Options: chat}}})
	if err != nil {
		t.Fatal(err)
	}
	mem := broker.NewMemory(broker.MemoryOptions{})
	opts := channels.Options{Config: channels.Config{AllowAnonymousConnectWithoutToken: secret == "",
		PingInterval: time.Second, PongTimeout: 800 * time.Millisecond}, Broker: mem, Presence: mem, Channels: rules}
	if secret != "" {
		opts.Tokens = hmacTokens(t, secret)
	}
	node := channels.NewNode(opts)
	if err := node.Run(); err != nil {
		t.Fatal(err)
	}
	_, wsAddr = gatewaytest.Serve(t, poller.Options{Path: "/connection/websocket"}, node.Handler())
	api := httptest.NewServer(serverapi.NewHandler(node, serverapi.Options{Key: testAPIKey}))
	t.Cleanup(func() {
		api.Close()
		node.Close()
		mem.Close(context.Background())
	})
	return wsAddr, strings.TrimPrefix(api.URL, "http://")
}

// TestChannelsDelivers runs the channels scenario briefly in both
// publishing modes: every publication reaches every subscriber of its
// channel (deliveries = sum over publications of their channel's
// subscribers), pings are answered (the server pings every second and
// closes without a pong), and the server figures are there.
func TestChannelsDelivers(t *testing.T) {
	for _, from := range []string{"api", "client"} {
		t.Run(from, func(t *testing.T) {
			ws, api := channelGateway(t, "")
			const n, k, c = 12, 2, 3
			rep := run(t, "channels", ws, func(o *options) {
				o.path = "/connection/websocket"
				o.n, o.chans, o.subsPerClient = n, c, k
				o.rate, o.size, o.duration = 50, 128, time.Second
				o.api, o.apiKey, o.publishFrom = api, testAPIKey, from
			})
			f := rep.Figures
			published := f["published"]
			if published < 40 || published > 51 {
				t.Fatalf("published %v, want about 50 (1 s at 50/s); figures %v", published, f)
			}
			// Each channel has n*k/c subscribers, so every publication is
			// delivered n*k/c times.
			want := published * n * k / c
			if f["subscribed"] != n*k || f["expected_deliveries"] != want || f["deliveries"] != want || f["delivered_fraction"] != 1 {
				t.Fatalf("subscribed %v deliveries %v expected %v fraction %v, want %d, %v, %v, 1",
					f["subscribed"], f["deliveries"], f["expected_deliveries"], f["delivered_fraction"], n*k, want, want)
			}
			for _, name := range []string{"deliveries_per_s", "delivery_p50_ms", "delivery_p99_ms", "delivery_p999_ms",
				"server_cpu_us_per_delivery"} {
				if v, ok := f[name]; !ok || v <= 0 {
					t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
				}
			}
			if f["pongs"] < n {
				t.Errorf("%v pongs, want at least one per client (%d): the run outlasts the 1 s ping interval", f["pongs"], n)
			}
			// The server is this test process, whose RSS moves with the other
			// tests: the memory figure is present, not meaningful.
			if _, ok := f["server_kib_per_conn"]; !ok {
				t.Errorf("no server_kib_per_conn: %v", f)
			}
			if f["delivery_p50_ms"] > f["delivery_p99_ms"] || f["delivery_p99_ms"] > f["delivery_max_ms"] {
				t.Errorf("percentiles out of order: %v", f)
			}
			// From the first publication to the last delivery: about 1 s.
			if dps := f["deliveries_per_s"]; dps < want/3 || dps > want/0.9 {
				t.Errorf("deliveries/s %v, want about %v (the deliveries over about 1 s)", dps, want)
			}
		})
	}
}

// TestChannelsTokens connects with HS256 connection tokens: the right
// secret subscribes everyone, a wrong one is refused with 3500.
func TestChannelsTokens(t *testing.T) {
	ws, _ := channelGateway(t, "s3cret")
	rep := run(t, "channels", ws, func(o *options) {
		o.path, o.n, o.chans, o.subsPerClient, o.rate, o.token = "/connection/websocket", 5, 1, 1, 0, "s3cret"
		o.publishFrom = "api"
		o.settle = 100 * time.Millisecond
	})
	if rep.Figures["subscribed"] != 5 {
		t.Fatalf("subscribed %v, want 5; %v", rep.Figures["subscribed"], rep.Figures)
	}
	o := &options{addr: ws, path: "/connection/websocket", sources: 1, timeout: 5 * time.Second, maxPerProc: 100,
		dialRate: 1000, part: -1, n: 3, chans: 1, subsPerClient: 1, token: "wrong", publishFrom: "api"}
	bad, err := coordinate(scenarios["channels"], o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Figures["subscribed"] != 0 || bad.Reasons["closed_3500"] != 3 {
		t.Fatalf("wrong secret: subscribed %v, failures %v; want 0 and closed_3500: 3", bad.Figures["subscribed"], bad.Reasons)
	}
}

// TestSubscribedTo checks the channel assignment: K distinct channels per
// client, and the subscriber counts the expected deliveries rest on.
func TestSubscribedTo(t *testing.T) {
	for i := range 20 {
		seen := map[int]bool{}
		for _, j := range subscribedTo(i, 3, 7) {
			if j < 0 || j >= 7 || seen[j] {
				t.Fatalf("client %d: channels %v", i, subscribedTo(i, 3, 7))
			}
			seen[j] = true
		}
	}
	subs := subscribers(7, 3, 7) // 21 subscriptions over 7 channels: 3 each
	for j, s := range subs {
		if s != 3 {
			t.Fatalf("channel %d has %d subscribers, want 3: %v", j, s, subs)
		}
	}
	if got := subscribers(10, 1, 1); got[0] != 10 {
		t.Fatalf("one channel: %v", got)
	}
}

// hmacTokens is the gateway's real verifier for HS256 tokens.
func hmacTokens(t *testing.T, secret string) channels.TokenVerifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{HMACSecret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// TestChannelsSplitsIntoWorkerProcesses runs the real binary with a tiny
// per-process connection limit: three worker processes, the publications
// from the first, deliveries counted in all of them.
func TestChannelsSplitsIntoWorkerProcesses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the load tool: %v\n%s", err, out)
	}
	ws, api := channelGateway(t, "")
	out, err := exec.Command(bin, "channels", "-addr", ws, "-api", api, "-api-key", testAPIKey, "-n", "25",
		"-channels", "5", "-subs-per-client", "2", "-rate", "40", "-duration", "500ms",
		"-max-conns-per-process", "10", "-json").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "splitting over 3 worker processes") {
		t.Fatalf("no split announced:\n%s", out)
	}
	var rep report
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, out)
	}
	f := rep.Figures
	if f["connections"] != 25 || f["subscribed"] != 50 || f["published"] < 1 || f["errors"] != 0 {
		t.Fatalf("merged figures %v", f)
	}
	// 50 subscriptions over 5 channels: 10 subscribers each.
	if f["expected_deliveries"] != f["published"]*10 || f["deliveries"] != f["expected_deliveries"] {
		t.Fatalf("deliveries %v, expected %v, published %v: want published x 10", f["deliveries"], f["expected_deliveries"], f["published"])
	}
}
