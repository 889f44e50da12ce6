package cluster

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

// client is a centrifuge-go SDK client through nginx, subscribed to one
// channel with recovery, recording every publication offset it receives.
type client struct {
	*centrifuge.Client
	mu       sync.Mutex
	offsets  []uint64
	node     int    // node_id of the session it is connected on (its ID's top 16 bits)
	id       string // client ID of the latest connection
	connects int
}

func newClient(t *testing.T, front, channel string) *client {
	t.Helper()
	cl := &client{node: -1}
	c := centrifuge.NewJsonClient("ws://"+front+"/connection/websocket", centrifuge.Config{
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 300 * time.Millisecond,
	})
	cl.Client = c
	connected := make(chan struct{}, 1)
	c.OnConnected(func(e centrifuge.ConnectedEvent) {
		// Session IDs are 16 hex digits, the first four the node_id
		// (pkg/session/id.go).
		id, err := strconv.ParseUint(e.ClientID[:4], 16, 16)
		cl.mu.Lock()
		if err == nil {
			cl.node = int(id)
		}
		cl.id = e.ClientID
		cl.connects++
		cl.mu.Unlock()
		select {
		case connected <- struct{}{}:
		default:
		}
	})
	c.OnDisconnected(func(centrifuge.DisconnectedEvent) {
		cl.mu.Lock()
		cl.node = -1
		cl.mu.Unlock()
	})
	s, err := c.NewSubscription(channel, centrifuge.SubscriptionConfig{Recoverable: true})
	if err != nil {
		t.Fatal(err)
	}
	subscribed := make(chan struct{}, 1)
	s.OnSubscribed(func(centrifuge.SubscribedEvent) {
		select {
		case subscribed <- struct{}{}:
		default:
		}
	})
	s.OnPublication(func(e centrifuge.PublicationEvent) {
		cl.mu.Lock()
		cl.offsets = append(cl.offsets, e.Offset)
		cl.mu.Unlock()
	})
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := s.Subscribe(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan struct{}{connected, subscribed} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("SDK client did not connect and subscribe through nginx")
		}
	}
	return cl
}

func (c *client) state() (node int, offsets []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.node, append([]uint64(nil), c.offsets...)
}

// seq returns from..to.
func seq(from, to uint64) []uint64 {
	var out []uint64
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

// waitOffsets waits until every client has received exactly want, in
// order, once each; it fails with each client's offsets otherwise.
func waitOffsets(t *testing.T, clients []*client, want []uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		bad := ""
		for i, c := range clients {
			node, got := c.state()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				bad += fmt.Sprintf("\n  client %d (node %d): %v", i, node, got)
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients did not receive exactly %v:%s", want, bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// byNode counts connected clients per node.
func byNode(clients []*client) map[int]int {
	m := map[int]int{}
	for _, c := range clients {
		n, _ := c.state()
		m[n]++
	}
	return m
}
