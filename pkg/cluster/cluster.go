// Package cluster adds what a gateway needs to answer the server API for a
// whole cluster on top of any broker.Broker: node heartbeats carried on the
// broker's control plane (PublishControl to every node), a table of live
// nodes that forgets a node after a few missed beats, and a serverapi.Node
// whose info lists every live node and whose channels aggregates every
// node's channels.
//
// Why heartbeats carry the channel counts (rather than a request/reply
// round over the control plane at call time): the control plane of
// broker.Broker is one-way (PublishControl has no reply), a heartbeat is
// sent anyway for info, and the answer is then local and never waits on a
// slow or dead node. The price is staleness of at most one interval, which
// Centrifugo's own channels call shares (it too aggregates node figures
// sent periodically).
package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xh-control/gateway/internal/glob"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

// heartbeatMark starts every heartbeat on the control plane. Control
// messages of package channels are JSON objects ('{'), so a leading zero
// byte never collides with them, and channels.Node ignores what it cannot
// parse.
const heartbeatMark = 0x00

// forwardMark starts a request forwarded to one node (Forward).
const forwardMark = 0x01

// DefaultInterval is the heartbeat period; a node is forgotten after
// MissedBeats intervals without a heartbeat.
const (
	DefaultInterval = 2 * time.Second
	MissedBeats     = 3
)

// maxChannels bounds the channels one heartbeat lists, so that a node with
// very many channels does not send megabyte heartbeats; the rest are
// counted in NumChannels but left out of the channels call.
const maxChannels = 10000

// heartbeat is one node's figures, JSON after heartbeatMark.
type heartbeat struct {
	Node     string         `json:"node"`
	UID      string         `json:"uid"`
	Name     string         `json:"name"`
	Version  string         `json:"version"`
	Clients  int            `json:"clients"`
	Users    int            `json:"users"`
	NumChans int            `json:"num_channels"`
	Subs     int            `json:"subs"`
	UptimeMs int64          `json:"uptime_ms"`
	Channels map[string]int `json:"channels,omitempty"`
}

type peer struct {
	hb   heartbeat
	seen time.Time
}

// Cluster wraps a broker: every method is the broker's, except that Run
// interposes an event handler that takes heartbeats off the control plane
// and passes everything else on, and Publish counts refusals.
type Cluster struct {
	broker.Broker
	self     string
	interval time.Duration

	h broker.EventHandler

	mu    sync.Mutex
	peers map[string]*peer

	// OnPublishError, when set, is called with every error of Publish
	// (for a metric); it must not block.
	OnPublishError func(error)

	onForward atomic.Pointer[func([]byte)]

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New wraps b for the node whose PublishControl ID is self. interval <= 0
// takes DefaultInterval.
func New(b broker.Broker, self string, interval time.Duration) *Cluster {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Cluster{Broker: b, self: self, interval: interval, peers: map[string]*peer{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Run implements broker.Broker.
func (c *Cluster) Run(h broker.EventHandler) error {
	c.h = h
	return c.Broker.Run(events{c})
}

// Publish implements broker.Broker; errors go to OnPublishError too.
func (c *Cluster) Publish(ctx context.Context, channel string, data []byte, opts broker.PublishOptions) (broker.StreamPosition, error) {
	sp, err := c.Broker.Publish(ctx, channel, data, opts)
	if err != nil && c.OnPublishError != nil {
		c.OnPublishError(err)
	}
	return sp, err
}

// Close stops the heartbeats and closes the broker.
func (c *Cluster) Close(ctx context.Context) error {
	c.Stop()
	return c.Broker.Close(ctx)
}

// events passes the broker's events on to the node, keeping heartbeats.
type events struct{ c *Cluster }

func (e events) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition) {
	e.c.h.HandlePublication(ch, pub, sp)
}
func (e events) HandleJoin(ch string, info *broker.ClientInfo)  { e.c.h.HandleJoin(ch, info) }
func (e events) HandleLeave(ch string, info *broker.ClientInfo) { e.c.h.HandleLeave(ch, info) }
func (e events) HandleControl(data []byte) {
	if len(data) > 0 && data[0] == heartbeatMark {
		e.c.receive(data[1:], time.Now())
		return
	}
	if len(data) > 0 && data[0] == forwardMark {
		if f := e.c.onForward.Load(); f != nil {
			(*f)(data[1:])
		}
		return
	}
	e.c.h.HandleControl(data)
}

func (c *Cluster) receive(p []byte, now time.Time) {
	var hb heartbeat
	if json.Unmarshal(p, &hb) != nil || hb.Node == "" || hb.Node == c.self {
		return
	}
	c.mu.Lock()
	c.peers[hb.Node] = &peer{hb: hb, seen: now}
	c.mu.Unlock()
}

// Start sends this node's figures, taken from local (the node's own, local
// only, Info and Channels), every interval until Stop or Close.
func (c *Cluster) Start(local serverapi.Node) {
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			c.beat(local)
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the heartbeats (the other nodes forget this one after
// MissedBeats intervals).
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		close(c.stop)
	})
}

func (c *Cluster) beat(local serverapi.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), c.interval)
	defer cancel()
	infos, err := local.Info(ctx)
	if err != nil || len(infos) == 0 {
		return
	}
	chans, _ := local.Channels(ctx, "")
	hb := heartbeatOf(c.self, infos[0], chans)
	p, err := json.Marshal(hb)
	if err != nil {
		return
	}
	// An unreachable broker refuses the beat; the next one tries again.
	c.Broker.PublishControl(ctx, append([]byte{heartbeatMark}, p...), "")
	c.expire(time.Now())
}

func heartbeatOf(self string, i serverapi.NodeInfo, chans map[string]int) heartbeat {
	if len(chans) > maxChannels {
		keep := make(map[string]int, maxChannels)
		for ch, n := range chans {
			if len(keep) == maxChannels {
				break
			}
			keep[ch] = n
		}
		chans = keep
	}
	return heartbeat{Node: self, UID: i.UID, Name: i.Name, Version: i.Version, Clients: i.NumClients,
		Users: i.NumUsers, NumChans: i.NumChannels, Subs: i.NumSubs, UptimeMs: i.Uptime.Milliseconds(), Channels: chans}
}

// expire forgets nodes silent for MissedBeats intervals.
func (c *Cluster) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range c.peers {
		if now.Sub(p.seen) > MissedBeats*c.interval {
			delete(c.peers, id)
		}
	}
}

// live returns the heartbeats of the other live nodes.
func (c *Cluster) live(now time.Time) []heartbeat {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]heartbeat, 0, len(c.peers))
	for _, p := range c.peers {
		if now.Sub(p.seen) <= MissedBeats*c.interval {
			out = append(out, p.hb)
		}
	}
	return out
}

// APINode returns local as the server API sees the cluster: Info lists
// local's node and every live node; Channels adds every live node's
// channels to local's.
func (c *Cluster) APINode(local serverapi.Node) serverapi.Node {
	return apiNode{Node: local, c: c}
}

type apiNode struct {
	serverapi.Node
	c *Cluster
}

func (a apiNode) Info(ctx context.Context) ([]serverapi.NodeInfo, error) {
	out, err := a.Node.Info(ctx)
	if err != nil {
		return nil, err
	}
	for _, hb := range a.c.live(time.Now()) {
		out = append(out, serverapi.NodeInfo{UID: hb.UID, Name: hb.Name, Version: hb.Version,
			NumClients: hb.Clients, NumUsers: hb.Users, NumChannels: hb.NumChans, NumSubs: hb.Subs,
			Uptime: time.Duration(hb.UptimeMs) * time.Millisecond})
	}
	return out, nil
}

func (a apiNode) Channels(ctx context.Context, pattern string) (map[string]int, error) {
	out, err := a.Node.Channels(ctx, pattern)
	if err != nil {
		return nil, err
	}
	for _, hb := range a.c.live(time.Now()) {
		for ch, n := range hb.Channels {
			if pattern == "" || glob.Match(pattern, ch) {
				out[ch] += n
			}
		}
	}
	return out, nil
}

// Forward sends p to the node nodeID alone, where the function given to
// OnForward receives it (one way: no answer comes back). It fails with
// broker.ErrUnavailable when the broker cannot reach the node's NATS.
func (c *Cluster) Forward(ctx context.Context, nodeID string, p []byte) error {
	return c.Broker.PublishControl(ctx, append([]byte{forwardMark}, p...), nodeID)
}

// OnForward sets the function that receives what other nodes Forward to
// this one. It is called on the broker's delivery goroutine: it must not
// block.
func (c *Cluster) OnForward(f func(p []byte)) { c.onForward.Store(&f) }

// Live reports whether nodeID is this node or sent a heartbeat within the
// last MissedBeats intervals.
func (c *Cluster) Live(nodeID string) bool {
	if nodeID == c.self {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.peers[nodeID]
	return ok && time.Since(p.seen) <= MissedBeats*c.interval
}
