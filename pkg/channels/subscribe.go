package channels

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/centrifugal/protocol"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/namespace"
)

// subscription is one client's subscription to one channel. It sits in
// the client's map and in the channel's entry of the subscriber index.
type subscription struct {
	c       *client
	channel string
	opts    *ChannelOptions
	flags   subFlags
	// active is set once the subscribe reply is written; until then
	// publications are kept in pending (under c.mu) and merged after it.
	active   atomic.Bool
	live     atomic.Bool // subscribed and counted; dropSubscription clears it
	idx      int         // position in the channel entry, under the shard lock
	skipTo   uint64      // positioned: publications up to this offset are in the subscribe result or before it
	expireAt int64       // unix s; 0: does not expire
	chanInfo []byte
	pending  []event
	removed  bool // under c.mu
	// refreshing: a sub_refresh proxy call is in flight (under c.mu).
	refreshing bool
}

type subFlags uint8

const (
	flagPositioned subFlags = 1 << iota
	flagRecoverable
	flagPushJoinLeave // this subscriber gets join/leave pushes
	flagJoinLeave     // the channel emits join/leave for this subscriber
	flagPresence
	flagServerSide
	flagProxyRefresh // the sub_refresh proxy extends it at expiry
)

// maxPending bounds what a subscription buffers while its reply is being
// written; past it the subscriber cannot be kept consistent: 3010.
const maxPending = 4096

// event is a publication, join or leave waiting for a subscription to go
// live.
type event struct {
	pub   *broker.Publication
	epoch string             // the publication's stream epoch
	info  *broker.ClientInfo // join or leave
	leave bool
}

// grant is what a token or the server API grants a subscription.
type grant struct {
	info, data []byte
	override   *Override
	expireAt   int64
	serverSide bool
	// proxyRefresh: granted by the subscribe proxy in a namespace with
	// sub_refresh_proxy_enabled; the node refreshes it (expires:false).
	proxyRefresh bool
}

// subscribe handles the subscribe command: permission checks in
// Centrifugo's order (reference section 7), then subscribeGranted.
func (c *client) subscribe(id uint32, req *protocol.SubscribeRequest, b *batch) *Disconnect {
	n := c.node
	if req.Channel == "" {
		n.metrics.command("subscribe", "bad_request")
		return DisconnectBadRequest
	}
	g, err := c.authorizeSubscribe(req)
	if err == errSubscribeProxy {
		return c.subscribeViaProxy(id, req, b)
	}
	if err == nil {
		var res *protocol.SubscribeResult
		res, err = c.subscribeGranted(req, g, b)
		if err == nil {
			n.metrics.command("subscribe", "ok")
			b.reply(&protocol.Reply{Id: id, Subscribe: res})
			return nil
		}
	}
	var d *Disconnect
	if errors.As(err, &d) {
		n.metrics.command("subscribe", "disconnect")
		return d
	}
	e := asError(err)
	n.metrics.command("subscribe", codeLabel(e.Code))
	b.replyError(id, e)
	return nil
}

// authorizeSubscribe decides whether the client may subscribe.
func (c *client) authorizeSubscribe(req *protocol.SubscribeRequest) (*grant, error) {
	n := c.node
	ch := req.Channel
	opts, err := n.resolve(ch)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	user, subscribed, count := c.user, c.subs.get(ch) != nil, len(c.subs)
	c.mu.Unlock()
	if count >= n.cfg.ChannelLimit {
		return nil, ErrorLimitExceeded
	}
	if subscribed {
		return nil, ErrorAlreadySubscribed
	}
	if req.Token == "" && n.rules.IsPrivate(ch) {
		return nil, ErrorPermissionDenied
	}
	if req.Token != "" {
		if n.tokens == nil {
			return nil, ErrorPermissionDenied
		}
		tok, err := n.tokens.VerifySubscribeToken(context.Background(), req.Token)
		if err != nil {
			if errors.Is(err, ErrTokenExpired) {
				n.metrics.tokenFailure("subscribe", "expired")
				return nil, ErrorTokenExpired
			}
			n.metrics.tokenFailure("subscribe", "invalid")
			return nil, ErrorPermissionDenied
		}
		if tok.Channel != ch || tok.UserID != user || (tok.Client != "" && tok.Client != c.id) {
			n.metrics.tokenFailure("subscribe", "mismatch")
			return nil, DisconnectInvalidToken
		}
		if tok.ExpireAt > 0 && tok.ExpireAt <= time.Now().Unix() {
			return nil, ErrorExpired
		}
		return &grant{info: tok.Info, data: tok.Data, override: tok.Override, expireAt: tok.ExpireAt}, nil
	}
	if n.rules.IsUserLimited(ch, opts) {
		if n.rules.UserAllowed(ch, user) {
			return &grant{}, nil
		}
		return nil, ErrorPermissionDenied
	}
	if opts.SubscribeProxyEnabled && n.proxies.Subscribe != nil {
		return nil, errSubscribeProxy
	}
	if opts.AllowSubscribeForClient && (user != "" || opts.AllowSubscribeForAnonymous) {
		return &grant{}, nil
	}
	return nil, ErrorPermissionDenied
}

// subscribeGranted subscribes the client and builds the subscribe result,
// with recovery when asked (reference section 6). The subscription goes
// live when b is flushed, after the reply; b may be nil (server API), then
// the caller activates it.
func (c *client) subscribeGranted(req *protocol.SubscribeRequest, g *grant, b *batch) (*protocol.SubscribeResult, error) {
	n := c.node
	opts, err := n.resolve(req.Channel)
	if err != nil {
		return nil, err
	}
	opts = applyOverride(g.override, opts)
	c.mu.Lock()
	user, state := c.user, c.state
	if state != stateConnected {
		c.mu.Unlock()
		return nil, DisconnectBadRequest
	}
	if c.subs.get(req.Channel) != nil {
		c.mu.Unlock()
		return nil, ErrorAlreadySubscribed
	}
	if len(c.subs) >= n.cfg.ChannelLimit {
		c.mu.Unlock()
		return nil, ErrorLimitExceeded
	}
	sub := &subscription{c: c, channel: strings.Clone(req.Channel), opts: opts, expireAt: g.expireAt, chanInfo: g.info}
	c.subs = append(c.subs, sub) // reserves the name while it is indexed
	c.mu.Unlock()

	anon := user == ""
	historyPerm := (opts.AllowHistoryForClient || opts.AllowHistoryForSubscriber) && (!anon || opts.AllowHistoryForAnonymous)
	presencePerm := (opts.AllowPresenceForClient || opts.AllowPresenceForSubscriber) && (!anon || opts.AllowPresenceForAnonymous)
	if opts.HistoryEnabled() {
		if opts.ForcePositioning || req.Positioned && (opts.AllowPositioning || historyPerm) {
			sub.flags |= flagPositioned
		}
		if opts.ForceRecovery || req.Recoverable && (opts.AllowRecovery || historyPerm) {
			sub.flags |= flagRecoverable | flagPositioned
		}
	}
	if opts.JoinLeave {
		sub.flags |= flagJoinLeave
		if opts.ForcePushJoinLeave || req.JoinLeave && presencePerm {
			sub.flags |= flagPushJoinLeave
		}
	}
	if opts.Presence && n.presence != nil {
		sub.flags |= flagPresence
	}
	if g.serverSide {
		sub.flags |= flagServerSide
	}
	if g.proxyRefresh && g.expireAt > 0 {
		sub.flags |= flagProxyRefresh
	}

	fail := func(err error) (*protocol.SubscribeResult, error) {
		c.mu.Lock()
		c.subs.remove(sub)
		c.mu.Unlock()
		n.index.remove(n, sub)
		return nil, err
	}
	if err := n.index.add(n, sub); err != nil {
		c.brokerFailed("subscribe", sub.channel, err)
		return fail(ErrorInternal)
	}

	res := &protocol.SubscribeResult{Data: g.data}
	if g.expireAt > 0 && !g.proxyRefresh {
		res.Expires, res.Ttl = true, uint32(max(g.expireAt-time.Now().Unix(), 1))
	}
	if sub.flags&flagPositioned != 0 {
		if err := c.position(req, sub, res); err != nil {
			return fail(err)
		}
	}
	info := c.clientInfo(g.info)
	if sub.flags&flagPresence != 0 {
		if err := n.presence.AddPresence(context.Background(), sub.channel, info); err != nil {
			c.brokerFailed("add presence", sub.channel, err)
			return fail(ErrorInternal)
		}
		c.mu.Lock()
		if c.nextPresence == 0 {
			c.nextPresence = n.now() + int64(n.cfg.PresenceUpdateInterval)
		}
		c.mu.Unlock()
	}
	if sub.flags&flagJoinLeave != 0 {
		n.broker.PublishJoin(context.Background(), sub.channel, info)
	}
	c.mu.Lock()
	if sub.removed { // the client went away meanwhile
		c.mu.Unlock()
		return fail(DisconnectBadRequest)
	}
	c.recomputeDueLocked()
	sub.live.Store(true)
	c.mu.Unlock()
	n.metrics.Subscriptions.Add(1)
	if b != nil {
		b.pending = append(b.pending, sub)
	}
	return res, nil
}

// position fills the result's position and, when recovering, the missed
// publications (reference section 6, stream mode; cache mode returns the
// latest publication only).
func (c *client) position(req *protocol.SubscribeRequest, sub *subscription, res *protocol.SubscribeResult) error {
	n := c.node
	ctx := context.Background()
	ho := broker.HistoryOptions{MetaTTL: time.Duration(sub.opts.HistoryMetaTTL)}
	res.Positioned = true
	res.Recoverable = sub.flags&flagRecoverable != 0
	if req.Recover && res.Recoverable {
		res.WasRecovering = true
		if sub.opts.RecoveryMode() == namespace.RecoveryModeCache {
			ho.Limit, ho.Reverse = 1, true
		} else {
			ho.Since = &broker.StreamPosition{Offset: req.Offset, Epoch: req.Epoch}
			ho.Limit = n.cfg.RecoveryMaxPublicationLimit
		}
	}
	pubs, sp, err := n.broker.History(ctx, sub.channel, ho)
	if err != nil {
		c.brokerFailed("position", sub.channel, err)
		return ErrorInternal
	}
	res.Epoch, res.Offset = sp.Epoch, sp.Offset
	sub.skipTo = sp.Offset
	res.Publications = nil
	if !res.WasRecovering {
		return nil
	}
	epochOK := req.Epoch == "" || req.Epoch == sp.Epoch
	var recovered bool
	if sub.opts.RecoveryMode() == namespace.RecoveryModeCache {
		switch {
		case !epochOK:
		case len(pubs) > 0 && pubs[0].Offset > req.Offset:
			recovered = true
		case req.Offset == sp.Offset:
			recovered, pubs = true, nil
		}
		if len(pubs) > 0 && pubs[0].Offset <= req.Offset {
			pubs = nil
		}
	} else if epochOK {
		if len(pubs) == 0 {
			recovered = req.Offset == sp.Offset
		} else {
			recovered = pubs[0].Offset == req.Offset+1 && pubs[len(pubs)-1].Offset == sp.Offset
		}
	}
	res.Recovered = recovered
	if recovered {
		n.metrics.Recoveries.Inc()
		res.Offset = req.Offset
		res.Publications = make([]*protocol.Publication, 0, len(pubs))
		for _, p := range pubs {
			res.Publications = append(res.Publications, toProtoPub(p, sp.Epoch))
		}
	} else {
		n.metrics.RecoveryFailures.Inc()
	}
	return nil
}

// activate delivers what arrived while the subscribe reply was written and
// lets later publications go straight to the client.
func (c *client) activate(sub *subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range sub.pending {
		if !sub.removed {
			c.sendEventLocked(sub, ev)
		}
	}
	sub.pending = nil
	sub.active.Store(true)
}

// deliverPending handles an event for a subscription that is not live yet.
func (c *client) deliverPending(sub *subscription, ev event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sub.removed {
		return
	}
	if sub.active.Load() { // went live meanwhile
		c.sendEventLocked(sub, ev)
		return
	}
	if len(sub.pending) >= maxPending {
		go c.disconnect(DisconnectInsufficientState)
		return
	}
	sub.pending = append(sub.pending, ev)
}

// sendEventLocked sends one event to this client alone (the rare path:
// publications that raced a subscribe). c.mu is held.
func (c *client) sendEventLocked(sub *subscription, ev event) {
	push := &protocol.Push{Channel: sub.channel}
	switch {
	case ev.pub != nil:
		if ev.pub.Offset != 0 && ev.pub.Offset <= sub.skipTo {
			return // already in the subscribe result or before its position
		}
		push.Pub = toProtoPub(ev.pub, ev.epoch)
	case sub.flags&flagPushJoinLeave == 0:
		return
	case ev.leave:
		push.Leave = &protocol.Leave{Info: toProtoInfo(ev.info)}
	default:
		push.Join = &protocol.Join{Info: toProtoInfo(ev.info)}
	}
	c.sendReply(&protocol.Reply{Push: push})
}

// sendReply writes one reply or push as its own message.
func (c *client) sendReply(r *protocol.Reply) {
	buf, err := appendReply(nil, r, c.protobuf)
	if err != nil {
		return
	}
	c.sendRaw(buf)
}

func (c *client) sendRaw(buf []byte) {
	if c.protobuf {
		c.sess.Send(2, buf)
	} else {
		c.sess.Send(1, buf)
	}
}

// unsubscribe handles the unsubscribe command: unsubscribing from a
// channel the client is not subscribed to succeeds.
func (c *client) unsubscribe(id uint32, req *protocol.UnsubscribeRequest, b *batch) *Disconnect {
	if req.Channel == "" {
		c.node.metrics.command("unsubscribe", "bad_request")
		return DisconnectBadRequest
	}
	c.unsubscribeChannel(req.Channel)
	c.node.metrics.command("unsubscribe", "ok")
	b.reply(&protocol.Reply{Id: id, Unsubscribe: &protocol.UnsubscribeResult{}})
	return nil
}

// unsubscribeChannel drops the client's subscription to ch, if any, and
// reports whether there was one.
func (c *client) unsubscribeChannel(ch string) bool {
	c.mu.Lock()
	sub := c.subs.get(ch)
	if sub != nil {
		c.subs.remove(sub)
		sub.removed = true
		sub.pending = nil
		c.recomputeDueLocked()
	}
	c.mu.Unlock()
	if sub == nil {
		return false
	}
	c.node.dropSubscription(sub, true)
	return true
}

// dropSubscription removes sub from the index and the channel's presence
// and announces the leave.
func (n *Node) dropSubscription(sub *subscription, leave bool) {
	if !sub.live.CompareAndSwap(true, false) {
		return // not (or no longer) subscribed
	}
	n.index.remove(n, sub)
	n.metrics.Subscriptions.Add(-1)
	ctx := context.Background()
	info := sub.c.clientInfo(sub.chanInfo)
	if sub.flags&flagPresence != 0 {
		n.presence.RemovePresence(ctx, sub.channel, info.ClientID, info.UserID)
	}
	if leave && sub.flags&flagJoinLeave != 0 {
		n.broker.PublishLeave(ctx, sub.channel, info)
	}
}

// subList is a client's subscriptions: a slice, since clients hold few
// and a map costs a few hundred bytes even for one.
type subList []*subscription

func (l subList) get(ch string) *subscription {
	for _, s := range l {
		if s.channel == ch {
			return s
		}
	}
	return nil
}

func (l *subList) remove(s *subscription) {
	for i, x := range *l {
		if x == s {
			last := len(*l) - 1
			(*l)[i] = (*l)[last]
			(*l)[last] = nil
			*l = (*l)[:last]
			return
		}
	}
}

// brokerFailed logs a broker call that made a subscribe fail: the client
// gets 100 internal (temporary, so SDKs retry, as Centrifuge answers), the
// operator the cause (a NATS outage, say) with the session and channel.
func (c *client) brokerFailed(op, channel string, err error) {
	c.node.log.Warn("subscribe failed: broker error", zap.String("session", c.id),
		zap.String("channel", channel), zap.String("op", op), zap.Error(err))
}
