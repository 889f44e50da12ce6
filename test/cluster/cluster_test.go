package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

const channel = "chat:e2e" // the default chat namespace: history 100, recovery, presence

type position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// publish publishes {"n":i} through node n's server API.
func publish(t *testing.T, n *node, i int) (uint64, *apiError) {
	t.Helper()
	var p position
	if e := n.api(t, "publish", map[string]any{"channel": channel, "data": map[string]int{"n": i}}, &p); e != nil {
		return 0, e
	}
	return p.Offset, nil
}

func mustPublish(t *testing.T, n *node, i int, want uint64) {
	t.Helper()
	off, e := publish(t, n, i)
	if e != nil || off != want {
		t.Fatalf("publish %d through node %d: offset %d, error %v; want offset %d", i, n.id, off, e, want)
	}
}

func eventually(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spreadAndFanOut connects nine SDK clients through nginx, checks that they are
// spread over the three nodes, that publications through every node's API
// reach them all, that presence, info and channels see the whole cluster.
// It returns the clients and the last offset published.
func spreadAndFanOut(t *testing.T, nodes []*node, front string) ([]*client, uint64) {
	t.Helper()
	// Six centrifuge-go clients and three npm centrifuge clients.
	var clients []*client
	for range 6 {
		clients = append(clients, newClient(t, front, channel))
	}
	clients = append(clients, nodeClients(t, front, channel, 3)...)
	spread := byNode(clients)
	for _, n := range nodes {
		if spread[n.id] == 0 {
			t.Fatalf("nginx left node %d without clients: %v", n.id, spread)
		}
	}
	var off uint64
	for _, n := range nodes {
		for range 3 {
			off++
			mustPublish(t, n, int(off), off)
		}
	}
	waitOffsets(t, clients, seq(1, off), 10*time.Second)

	var pres struct {
		Presence map[string]struct {
			Client string `json:"client"`
		} `json:"presence"`
	}
	if e := nodes[2].api(t, "presence", map[string]string{"channel": channel}, &pres); e != nil {
		t.Fatalf("presence: %v", e)
	}
	if len(pres.Presence) != len(clients) {
		t.Fatalf("presence on node 3 lists %d clients, want %d: %v", len(pres.Presence), len(clients), pres.Presence)
	}
	var stats struct {
		NumClients int `json:"num_clients"`
	}
	nodes[0].api(t, "presence_stats", map[string]string{"channel": channel}, &stats)
	if stats.NumClients != len(clients) {
		t.Fatalf("presence_stats on node 1: %d clients, want %d", stats.NumClients, len(clients))
	}
	type info struct {
		Nodes []struct {
			Name       string `json:"name"`
			NumClients int    `json:"num_clients"`
		} `json:"nodes"`
	}
	eventually(t, "info on node 2 listing three nodes and every client", 5*time.Second, func() bool {
		var in info
		nodes[1].api(t, "info", map[string]any{}, &in)
		sum := 0
		for _, n := range in.Nodes {
			sum += n.NumClients
		}
		return len(in.Nodes) == 3 && sum == len(clients)
	})
	eventually(t, "channels on node 1 counting every subscriber", 5*time.Second, func() bool {
		var ch struct {
			Channels map[string]struct {
				NumClients int `json:"num_clients"`
			} `json:"channels"`
		}
		nodes[0].api(t, "channels", map[string]any{}, &ch)
		return len(ch.Channels) == 1 && ch.Channels[channel].NumClients == len(clients)
	})
	// A server API disconnect through node 1 reaches a client on node 3;
	// code 4000 lets it reconnect, and it loses nothing.
	var target *client
	for _, c := range clients[:6] {
		if n, _ := c.state(); n == nodes[2].id {
			target = c
		}
	}
	target.mu.Lock()
	id := target.id
	target.mu.Unlock()
	if e := nodes[0].api(t, "disconnect", map[string]any{"client": id, "disconnect": map[string]any{"code": 4000, "reason": "cross-node"}}, nil); e != nil {
		t.Fatalf("disconnect through node 1: %v", e)
	}
	eventually(t, "the node 3 client disconnected through node 1 to reconnect", 10*time.Second, func() bool {
		target.mu.Lock()
		defer target.mu.Unlock()
		return target.connects == 2 && target.node > 0
	})
	off++
	mustPublish(t, nodes[1], int(off), off)
	waitOffsets(t, clients, seq(1, off), 10*time.Second)
	return clients, off
}

// killNode SIGKILLs the node and publishes five times through another
// while its clients reconnect through nginx; every client then holds
// exactly 1..last+5, the moved ones on other nodes.
// electing allows 108 refusals (retried) while NATS elects new leaders.
func killNode(t *testing.T, nodes []*node, clients []*client, last uint64, victim, via int, electing bool) uint64 {
	t.Helper()
	var moved []*client
	for _, c := range clients {
		if n, _ := c.state(); n == nodes[victim].id {
			moved = append(moved, c)
		}
	}
	nodes[victim].p.stop(syscall.SIGKILL)
	refused := 0
	deadline := time.Now().Add(20 * time.Second)
	for range 5 {
		last++
		for {
			off, e := publish(t, nodes[via], int(last))
			if e == nil && off == last {
				break
			}
			// With embedded NATS the victim took a NATS server with it:
			// until JetStream elects new leaders, publications are
			// refused with 108, never half stored.
			if !electing || e == nil || e.Code != 108 || time.Now().After(deadline) {
				t.Fatalf("publish %d through node %d after the kill: offset %d, error %v", last, nodes[via].id, off, e)
			}
			refused++
			time.Sleep(100 * time.Millisecond)
		}
	}
	if refused > 0 {
		t.Logf("%d publications refused with 108 while JetStream elected new leaders", refused)
	}
	waitOffsets(t, clients, seq(1, last), 15*time.Second)
	for _, c := range moved {
		if n, _ := c.state(); n == nodes[victim].id || n < 0 {
			t.Fatalf("a client of the killed node %d is on node %d", nodes[victim].id, n)
		}
	}
	t.Logf("SIGKILL node %d: %d clients moved and recovered offsets up to %d", nodes[victim].id, len(moved), last)
	return last
}

// TestExternalNATS: three gateways on one standalone nats-server, nginx in
// front.
func TestExternalNATS(t *testing.T) {
	nsBin := gatewaytest.NATSServer(t)
	need(t, "nginx", "apt-get install nginx")
	store := t.TempDir()
	natsPort := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	startNATS := func() *proc {
		p := start(t, "nats-server", nsBin, []string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(natsPort), "-sd", store}, nil)
		waitTCP(t, fmt.Sprintf("127.0.0.1:%d", natsPort), 10*time.Second)
		return p
	}
	ns := startNATS()
	var nodes []*node
	for id := 1; id <= 3; id++ {
		nodes = append(nodes, startGateway(t, id, "-nats.url", url))
	}
	for _, n := range nodes {
		eventually(t, fmt.Sprintf("node %d ready", n.id), 10*time.Second, func() bool {
			code, body := n.readyz(t)
			return code == 200 && strings.Contains(body, `"status":"ready"`)
		})
	}
	front := startNginx(t, nodes)
	clients, last := spreadAndFanOut(t, nodes, front)
	rawForwarding(t, nodes)
	last = killNode(t, nodes, clients, last, 0, 1, false)

	// NATS outage under publishing: every publish through the two live
	// nodes either fails with 108 (100) or is delivered to every client.
	ns.stop(syscall.SIGTERM)
	outageEnd := time.Now().Add(8 * time.Second)
	var ok []uint64
	errs, degraded := 0, false
	i := int(last)
	for time.Now().Before(outageEnd) {
		i++
		off, e := publish(t, nodes[1+i%2], i)
		switch {
		case e == nil:
			ok = append(ok, off)
		case e.Code == 108 || e.Code == 100:
			errs++
		default:
			t.Fatalf("publish during the outage: error %d %q, want 108 or 100", e.Code, e.Message)
		}
		if code, body := nodes[1].readyz(t); code == 200 && strings.Contains(body, "degraded") {
			degraded = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if errs == 0 {
		t.Fatalf("no publish failed during an 8 s NATS outage (%d succeeded)", len(ok))
	}
	if !degraded {
		t.Fatal("/readyz never said degraded while NATS was down")
	}
	startNATS()
	for _, n := range nodes[1:] {
		eventually(t, fmt.Sprintf("node %d ready again", n.id), 10*time.Second, func() bool {
			_, body := n.readyz(t)
			return strings.Contains(body, `"status":"ready"`)
		})
	}
	// Publish after the return until three in a row succeed.
	for streak := 0; streak < 3; {
		i++
		off, e := publish(t, nodes[1+i%2], i)
		if e != nil {
			streak = 0
			time.Sleep(100 * time.Millisecond)
			continue
		}
		streak++
		ok = append(ok, off)
	}
	want := seq(1, last)
	want = append(want, ok...)
	if fmt.Sprint(want) != fmt.Sprint(seq(1, want[len(want)-1])) {
		t.Fatalf("acknowledged offsets are not contiguous: %v", want)
	}
	t.Logf("NATS outage: %d publications refused, %d acknowledged (offsets up to %d)", errs, len(ok), want[len(want)-1])
	waitOffsets(t, clients, want, 15*time.Second)
}

// TestEmbeddedNATS: three gateways whose embedded NATS servers form a
// cluster with routes (history and presence replicated three times), no
// nats-server installed, nginx in front.
func TestEmbeddedNATS(t *testing.T) {
	need(t, "nginx", "apt-get install nginx")
	var clientPorts, routePorts []int
	for range 3 {
		clientPorts = append(clientPorts, freePort(t))
		routePorts = append(routePorts, freePort(t))
	}
	var nodes []*node
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[j]))
			}
		}
		n := &node{id: i + 1, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
		n.args = []string{"-listen", n.addr, "-admin.listen", n.admin, "-node-id", fmt.Sprint(n.id),
			"-broker", "nats", "-api.insecure", "-log.format", "json",
			"-channels.client.allow-anonymous-connect-without-token",
			"-nats.heartbeat-interval", "300ms", "-nats.reconnect-wait", "200ms", "-nats.request-timeout", "2s",
			"-nats.embedded", "-nats.replicas", "3",
			"-nats.server.port", fmt.Sprint(clientPorts[i]), "-nats.server.store-dir", filepath.Join(t.TempDir(), "js"),
			"-nats.cluster.name", "gateway-e2e", "-nats.cluster.host", "127.0.0.1", "-nats.cluster.port", fmt.Sprint(routePorts[i]),
			"-nats.cluster.routes", strings.Join(routes, ","), "-shutdown-timeout", "1s"}
		n.p = start(t, fmt.Sprintf("gateway-%d", n.id), gateway(t), n.args, nil)
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		waitTCP(t, n.admin, 30*time.Second)
	}
	// The JetStream cluster elects its leaders; the first publication
	// creates the replicated stream.
	eventually(t, "the embedded JetStream cluster answering history", 30*time.Second, func() bool {
		var p position
		return nodes[0].api(t, "history", map[string]any{"channel": channel, "limit": 0}, &p) == nil
	})
	front := startNginx(t, nodes)
	clients, last := spreadAndFanOut(t, nodes, front)
	// Killing a node kills one of the three NATS servers: the stream keeps
	// its quorum of two.
	killNode(t, nodes, clients, last, 0, 2, true)
}

// TestNATSLateStart: a gateway whose NATS is not there at start starts
// anyway, says so in its log and /readyz, serves clients, refuses
// publications with 108, and works once NATS comes up.
func TestNATSLateStart(t *testing.T) {
	nsBin := gatewaytest.NATSServer(t)
	natsPort := freePort(t)
	n := startGateway(t, 9, "-nats.url", fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	// The admin listener opens before the clients' listener is ready.
	code, body := 0, ""
	eventually(t, "readyz 200 degraded without NATS", 10*time.Second, func() bool {
		code, body = n.readyz(t)
		return !strings.Contains(body, "not listening yet")
	})
	if code != 200 || !strings.Contains(body, `"status":"degraded"`) {
		t.Fatalf("readyz without NATS: %d %s, want 200 degraded", code, body)
	}
	if _, e := publish(t, n, 1); e == nil || e.Code != 108 {
		t.Fatalf("publish without NATS: error %v, want 108", e)
	}
	// Clients are served: a raw /ws session echoes.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+n.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("a client cannot connect while NATS is down: %v", err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte("still here"))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "still here" {
		t.Fatalf("echo while NATS is down: %q %v", m, err)
	}
	ws.Close()
	logText, _ := os.ReadFile(n.p.log)
	if !strings.Contains(string(logText), "NATS NOT reachable") {
		t.Fatalf("the start-up log does not say that NATS is unreachable:\n%s", logText)
	}
	start(t, "nats-server", nsBin, []string{"-js", "-a", "127.0.0.1", "-p", fmt.Sprint(natsPort), "-sd", t.TempDir()}, nil)
	eventually(t, "the gateway ready after NATS came up", 15*time.Second, func() bool {
		_, body := n.readyz(t)
		return strings.Contains(body, `"status":"ready"`)
	})
	eventually(t, "a publication accepted after NATS came up", 10*time.Second, func() bool {
		off, e := publish(t, n, 1)
		return e == nil && off == 1
	})
}
