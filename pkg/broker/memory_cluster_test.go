package broker_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/broker/brokertest"
)

// TestMemoryClusterConformance runs the whole suite, the two-node cases
// included, on nodes that share one Memory: it checks the cluster cases
// themselves before an engine with real nodes (NATS) relies on them.
func TestMemoryClusterConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) brokertest.Engines {
		c := &memCluster{m: newMemory(t, broker.MemoryOptions{})}
		c.m.Run(c)
		return c.node(t)
	})
}

// memCluster fans the shared engine's events out to its nodes, each with
// its own subscriptions, handler and closed state.
type memCluster struct {
	m     *broker.Memory
	mu    sync.Mutex
	nodes []*memNode
}

type memNode struct {
	c      *memCluster
	id     string
	mu     sync.Mutex // held while delivering to h
	subs   map[string]bool
	h      broker.EventHandler
	closed bool
}

func (c *memCluster) node(t *testing.T) brokertest.Engines {
	c.mu.Lock()
	n := &memNode{c: c, id: "node-" + strconv.Itoa(len(c.nodes)+1), subs: map[string]bool{}}
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	t.Cleanup(func() { n.Close(context.Background()) })
	return brokertest.Engines{Broker: n, Presence: n, NodeID: n.id, NewNode: c.node}
}

func (c *memCluster) each(f func(n *memNode)) {
	c.mu.Lock()
	nodes := append([]*memNode(nil), c.nodes...)
	c.mu.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		if !n.closed && n.h != nil {
			f(n)
		}
		n.mu.Unlock()
	}
}

func (c *memCluster) HandlePublication(ch string, p *broker.Publication, sp broker.StreamPosition) {
	c.each(func(n *memNode) {
		if n.subs[ch] {
			n.h.HandlePublication(ch, p, sp)
		}
	})
}

func (c *memCluster) HandleJoin(ch string, info *broker.ClientInfo) {
	c.each(func(n *memNode) {
		if n.subs[ch] {
			n.h.HandleJoin(ch, info)
		}
	})
}

func (c *memCluster) HandleLeave(ch string, info *broker.ClientInfo) {
	c.each(func(n *memNode) {
		if n.subs[ch] {
			n.h.HandleLeave(ch, info)
		}
	})
}

// HandleControl takes "nodeID\x00data" (see memNode.PublishControl).
func (c *memCluster) HandleControl(d []byte) {
	to, data, _ := bytes.Cut(d, []byte{0})
	c.each(func(n *memNode) {
		if len(to) == 0 || string(to) == n.id {
			n.h.HandleControl(data)
		}
	})
}

func (n *memNode) open() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return broker.ErrClosed
	}
	return nil
}

func (n *memNode) Run(h broker.EventHandler) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.h = h
	return nil
}

func (n *memNode) Subscribe(ch string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return broker.ErrClosed
	}
	n.subs[ch] = true
	return n.c.m.Subscribe(ch)
}

func (n *memNode) Unsubscribe(ch string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return broker.ErrClosed
	}
	delete(n.subs, ch)
	return nil
}

func (n *memNode) Publish(ctx context.Context, ch string, data []byte, opts broker.PublishOptions) (broker.StreamPosition, error) {
	if err := n.open(); err != nil {
		return broker.StreamPosition{}, err
	}
	return n.c.m.Publish(ctx, ch, data, opts)
}

func (n *memNode) PublishJoin(ctx context.Context, ch string, info *broker.ClientInfo) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.PublishJoin(ctx, ch, info)
}

func (n *memNode) PublishLeave(ctx context.Context, ch string, info *broker.ClientInfo) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.PublishLeave(ctx, ch, info)
}

func (n *memNode) PublishControl(ctx context.Context, data []byte, nodeID string) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.PublishControl(ctx, append([]byte(nodeID+"\x00"), data...), "")
}

func (n *memNode) History(ctx context.Context, ch string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if err := n.open(); err != nil {
		return nil, broker.StreamPosition{}, err
	}
	return n.c.m.History(ctx, ch, opts)
}

func (n *memNode) RemoveHistory(ctx context.Context, ch string) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.RemoveHistory(ctx, ch)
}

func (n *memNode) Close(context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return nil
}

func (n *memNode) AddPresence(ctx context.Context, ch string, info *broker.ClientInfo) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.AddPresence(ctx, ch, info)
}

func (n *memNode) RemovePresence(ctx context.Context, ch, clientID, userID string) error {
	if err := n.open(); err != nil {
		return err
	}
	return n.c.m.RemovePresence(ctx, ch, clientID, userID)
}

func (n *memNode) Presence(ctx context.Context, ch string) (map[string]*broker.ClientInfo, error) {
	if err := n.open(); err != nil {
		return nil, err
	}
	return n.c.m.Presence(ctx, ch)
}

func (n *memNode) PresenceStats(ctx context.Context, ch string) (broker.PresenceStats, error) {
	if err := n.open(); err != nil {
		return broker.PresenceStats{}, err
	}
	return n.c.m.PresenceStats(ctx, ch)
}
