package channels

import (
	"hash/maphash"
	"sync"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/session"
)

const indexShards = 64 // a power of two

// subscriberIndex maps channels to this node's subscribers, sharded by a
// hash of the channel name. A channel without local subscribers has no
// entry, and the broker is not subscribed to it.
type subscriberIndex struct {
	seed   maphash.Seed
	shards [indexShards]indexShard
}

type indexShard struct {
	mu       sync.RWMutex
	channels map[string]*channelEntry
	_        [40]byte
}

type channelEntry struct {
	name string
	subs []*subscription
	// top and epoch are the stream position of the last publication this
	// node delivered in the channel. Only the channel's deliveries touch
	// them, and an engine never runs two of those at once.
	top   uint64
	epoch string
}

func (ix *subscriberIndex) init() {
	ix.seed = maphash.MakeSeed()
	for i := range ix.shards {
		ix.shards[i].channels = make(map[string]*channelEntry)
	}
}

func (ix *subscriberIndex) shard(ch string) *indexShard {
	return &ix.shards[maphash.String(ix.seed, ch)&(indexShards-1)]
}

// add indexes sub under ch, subscribing the node to ch through the broker
// when sub is its first local subscriber.
func (ix *subscriberIndex) add(n *Node, sub *subscription) error {
	ch := sub.channel
	sh := ix.shard(ch)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.channels[ch]
	if e == nil {
		e = &channelEntry{name: ch}
		if err := n.broker.Subscribe(e.name); err != nil {
			return err
		}
		sh.channels[e.name] = e
		n.metrics.Channels.Add(1)
	}
	sub.idx = len(e.subs)
	e.subs = append(e.subs, sub)
	return nil
}

// remove drops sub; after the channel's last local subscriber it
// unsubscribes the node from the channel.
func (ix *subscriberIndex) remove(n *Node, sub *subscription) {
	sh := ix.shard(sub.channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.channels[sub.channel]
	if e == nil || sub.idx >= len(e.subs) || e.subs[sub.idx] != sub {
		return
	}
	last := len(e.subs) - 1
	e.subs[sub.idx] = e.subs[last]
	e.subs[sub.idx].idx = sub.idx
	e.subs[last] = nil
	e.subs = e.subs[:last]
	if len(e.subs) == 0 {
		delete(sh.channels, e.name)
		n.metrics.Channels.Add(-1)
		n.broker.Unsubscribe(e.name)
	}
}

// count returns the number of local subscribers of ch.
func (ix *subscriberIndex) count(ch string) int {
	sh := ix.shard(ch)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if e := sh.channels[ch]; e != nil {
		return len(e.subs)
	}
	return 0
}

// each calls f for every channel with local subscribers.
func (ix *subscriberIndex) each(f func(ch string, subscribers int)) {
	for i := range ix.shards {
		sh := &ix.shards[i]
		sh.mu.RLock()
		for name, e := range sh.channels {
			f(name, len(e.subs))
		}
		sh.mu.RUnlock()
	}
}

// fanOut is the scratch of one delivery: the live subscribers by
// encoding.
type fanOut struct {
	json, proto []*session.Session
	hub         *session.Hub
	buf         []byte // encoding scratch; NewFrame copies it
}

// maxFanOutBuf is the largest scratch kept for the next delivery.
const maxFanOutBuf = 64 << 10

var fanOutPool = sync.Pool{New: func() any { return new(fanOut) }}

// deliver sends push, built by mk, to the channel's subscribers that want
// it: it is encoded once per encoding and the same frame bytes go into
// every queue. Subscriptions that are not live yet get the event queued.
func (n *Node) deliver(ch string, ev event, epoch string, mk func() *protocol.Push) {
	sh := n.index.shard(ch)
	sh.mu.RLock()
	e := sh.channels[ch]
	if e == nil {
		sh.mu.RUnlock()
		return
	}
	// A gap: offsets skipped in the same stream. A new epoch after
	// publications of another: the stream was recreated (its history
	// expired or was evicted), so positions in the old one mean nothing;
	// Centrifuge treats both as insufficient state.
	gap := ev.pub != nil && ev.pub.Offset != 0 && e.top != 0 &&
		(epoch == e.epoch && ev.pub.Offset > e.top+1 || epoch != e.epoch && e.epoch != "" && epoch != "")
	if ev.pub != nil && ev.pub.Offset != 0 && (ev.pub.Offset > e.top || epoch != e.epoch) {
		e.top, e.epoch = ev.pub.Offset, epoch
	}
	var stale []*subscription
	fo := fanOutPool.Get().(*fanOut)
	for _, sub := range e.subs {
		if ev.pub == nil && sub.flags&flagPushJoinLeave == 0 {
			continue
		}
		if gap && sub.flags&flagRecoverable != 0 && sub.active.Load() {
			// This node missed publications of the stream (its engine
			// lost them, e.g. while NATS was away): a recoverable
			// subscriber must not skip them silently.
			stale = append(stale, sub)
			continue
		}
		if !sub.active.Load() {
			sub.c.deliverPending(sub, ev)
			continue
		}
		if ev.pub != nil && ev.pub.Offset != 0 && ev.pub.Offset <= sub.skipTo {
			// The engine stores a publication before it delivers it: a
			// subscribe in between already got it from history.
			continue
		}
		fo.hub = sub.c.sess.Hub()
		if sub.c.protobuf {
			fo.proto = append(fo.proto, sub.c.sess)
		} else {
			fo.json = append(fo.json, sub.c.sess)
		}
	}
	// Frames are queued before the lock is released, so that once an
	// unsubscribe has removed a subscriber (under the write lock) nothing
	// more of the channel reaches it.
	if len(fo.json)+len(fo.proto) > 0 {
		r := &protocol.Reply{Push: mk()}
		sent := 0
		if len(fo.json) > 0 {
			if p, err := appendReply(fo.buf[:0], r, false); err == nil {
				fo.buf = p
				f := session.NewFrame(session.Text, p)
				sent += fo.hub.SendFrameAll(fo.json, f)
				f.Release()
			}
		}
		if len(fo.proto) > 0 {
			if p, err := appendReply(fo.buf[:0], r, true); err == nil {
				fo.buf = p
				f := session.NewFrame(session.Binary, p)
				sent += fo.hub.SendFrameAll(fo.proto, f)
				f.Release()
			}
		}
		if ev.pub != nil {
			n.metrics.PublicationsOut.Add(uint64(sent))
		}
	}
	sh.mu.RUnlock()
	if len(stale) > 0 {
		n.metrics.InsufficientState.Add(uint64(len(stale)))
		go n.resubscribeStale(ch, stale) // takes the index lock, and may publish leaves
	}
	clear(fo.json)
	clear(fo.proto)
	fo.json, fo.proto, fo.hub = fo.json[:0], fo.proto[:0], nil
	if cap(fo.buf) > maxFanOutBuf {
		fo.buf = nil
	}
	fanOutPool.Put(fo)
}

// HandlePublication implements broker.EventHandler.
func (n *Node) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition) {
	n.deliver(ch, event{pub: pub, epoch: sp.Epoch}, sp.Epoch, func() *protocol.Push {
		return &protocol.Push{Channel: ch, Pub: toProtoPub(pub, sp.Epoch)}
	})
}

// HandleJoin implements broker.EventHandler.
func (n *Node) HandleJoin(ch string, info *broker.ClientInfo) {
	n.deliver(ch, event{info: info}, "", func() *protocol.Push {
		return &protocol.Push{Channel: ch, Join: &protocol.Join{Info: toProtoInfo(info)}}
	})
}

// HandleLeave implements broker.EventHandler.
func (n *Node) HandleLeave(ch string, info *broker.ClientInfo) {
	n.deliver(ch, event{info: info, leave: true}, "", func() *protocol.Push {
		return &protocol.Push{Channel: ch, Leave: &protocol.Leave{Info: toProtoInfo(info)}}
	})
}

// resubscribeStale makes subscribers that missed publications recover them,
// as Centrifuge does on a detected gap: a client-side subscription gets an
// unsubscribe push 2500 "insufficient state", on which the SDKs resubscribe
// from their last offset (and recover the gap from history); a server-side
// one cannot be resubscribed by the client, so its connection is closed
// with 3010 "insufficient state" (the SDKs reconnect and recover).
func (n *Node) resubscribeStale(ch string, subs []*subscription) {
	for _, sub := range subs {
		c := sub.c
		if sub.flags&flagServerSide != 0 {
			c.disconnect(DisconnectInsufficientState)
			continue
		}
		if c.unsubscribeChannel(ch) {
			c.sendReply(&protocol.Reply{Push: &protocol.Push{Channel: ch,
				Unsubscribe: &protocol.Unsubscribe{Code: 2500, Reason: "insufficient state"}}})
		}
	}
}

// toProtoPub converts a publication of the stream whose epoch is epoch.
// The first publication of a stream (offset 1) carries the epoch
// (Publication.epoch, protocol field 14), as Centrifuge sends it, so that a
// client subscribed before the stream existed, or before it was recreated,
// learns the epoch to recover from; later ones omit it.
func toProtoPub(p *broker.Publication, epoch string) *protocol.Publication {
	pp := &protocol.Publication{Data: p.Data, Info: toProtoInfo(p.Info), Offset: p.Offset, Tags: p.Tags}
	if p.Offset == 1 {
		pp.Epoch = epoch
	}
	return pp
}

func toProtoInfo(i *broker.ClientInfo) *protocol.ClientInfo {
	if i == nil {
		return nil
	}
	return &protocol.ClientInfo{User: i.UserID, Client: i.ClientID, ConnInfo: i.ConnInfo, ChanInfo: i.ChanInfo}
}
