package channels

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/proxy"
)

// errSubscribeProxy: authorizeSubscribe leaves the decision to the
// subscribe proxy (namespace subscribe_proxy_enabled; not for
// subscriptions with a token nor user-limited channels).
var errSubscribeProxy = errors.New("channels: ask the subscribe proxy")

// subscribeViaProxy asks the subscribe proxy (reference 9.3-9.4): a result
// ({} included) grants with the namespace's options, overridden as the
// result says; an error is answered; a disconnect closes.
func (c *client) subscribeViaProxy(id uint32, req *protocol.SubscribeRequest, b *batch) *Disconnect {
	n := c.node
	px := n.proxies.Subscribe
	// req aliases the frame: keep a copy.
	sreq := &protocol.SubscribeRequest{Channel: strings.Clone(req.Channel), Recover: req.Recover, Epoch: strings.Clone(req.Epoch),
		Offset: req.Offset, Positioned: req.Positioned, Recoverable: req.Recoverable, JoinLeave: req.JoinLeave}
	c.mu.Lock()
	preq := &proxy.SubscribeRequest{Common: c.common(), User: c.user, Channel: sreq.Channel}
	c.mu.Unlock()
	preq.Data, preq.B64Data = px.EncodePayload(bytes.Clone(req.Data))
	preq.Meta = c.metaFor(px)
	refresh := false
	if opts, err := n.resolve(sreq.Channel); err == nil {
		refresh = opts.SubRefreshProxyEnabled && n.proxies.SubRefresh != nil
	}
	err := c.goCall(b, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.Subscribe(ctx, c.headers(), preq)
		var g *grant
		switch {
		case err != nil:
			return c.subscribeFailed(id, c.callError(px, err), b)
		case reply.Disconnect != nil:
			n.metrics.command("subscribe", "disconnect")
			return backendDisconnect(reply.Disconnect)
		case reply.Error != nil:
			return c.subscribeFailed(id, backendError(reply.Error), b)
		case reply.Result == nil:
			g = &grant{}
		default:
			r := reply.Result
			info, err1 := payload(r.Info, r.B64Info)
			data, err2 := payload(r.Data, r.B64Data)
			if err1 != nil || err2 != nil {
				return c.subscribeFailed(id, ErrorInternal, b)
			}
			g = &grant{info: info, data: data, override: protoOverride(r.Override), expireAt: r.ExpireAt, proxyRefresh: refresh}
		}
		res, err := c.subscribeGranted(sreq, g, b)
		if err != nil {
			var d *Disconnect
			if errors.As(err, &d) {
				return d
			}
			return c.subscribeFailed(id, asError(err), b)
		}
		n.metrics.command("subscribe", "ok")
		b.reply(&protocol.Reply{Id: id, Subscribe: res})
		return nil
	})
	if err != nil {
		return c.subscribeFailed(id, ErrorTooManyRequests, b)
	}
	return nil
}

func (c *client) subscribeFailed(id uint32, e *Error, b *batch) *Disconnect {
	c.node.metrics.command("subscribe", codeLabel(e.Code))
	b.replyError(id, e)
	return nil
}

// publishViaProxy asks the publish proxy instead of the allow_publish_*
// options (reference 9.4): the backend may refuse, or replace the data,
// skip history and set tags; the node then publishes.
func (c *client) publishViaProxy(id uint32, req *protocol.PublishRequest, opts *ChannelOptions, b *batch) *Disconnect {
	n := c.node
	px := n.proxies.Publish
	if req.Data == nil || !n.rules.ValidData(opts, req.Data) {
		n.metrics.command("publish", "bad_request")
		b.replyError(id, ErrorBadRequest)
		return nil
	}
	channel, data := strings.Clone(req.Channel), bytes.Clone(req.Data)
	c.mu.Lock()
	preq := &proxy.PublishRequest{Common: c.common(), User: c.user, Channel: channel}
	c.mu.Unlock()
	preq.Data, preq.B64Data = px.EncodePayload(data)
	preq.Meta = c.metaFor(px)
	fail := func(e *Error, b *batch) *Disconnect {
		n.metrics.command("publish", codeLabel(e.Code))
		b.replyError(id, e)
		return nil
	}
	err := c.goCall(b, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.Publish(ctx, c.headers(), preq)
		var skip bool
		var tags map[string]string
		switch {
		case err != nil:
			return fail(c.callError(px, err), b)
		case reply.Disconnect != nil:
			n.metrics.command("publish", "disconnect")
			return backendDisconnect(reply.Disconnect)
		case reply.Error != nil:
			return fail(backendError(reply.Error), b)
		case reply.Result != nil:
			r := reply.Result
			if r.Data != nil || r.B64Data != "" {
				d, err := payload(r.Data, r.B64Data)
				if err != nil {
					return fail(ErrorInternal, b)
				}
				data = d
			}
			skip, tags = r.SkipHistory, r.Tags
		}
		if e := c.publishData(channel, data, opts, skip, tags); e != nil {
			return fail(e, b)
		}
		n.metrics.command("publish", "ok")
		b.reply(&protocol.Reply{Id: id, Publish: &protocol.PublishResult{}})
		return nil
	})
	if err != nil {
		return fail(ErrorTooManyRequests, b)
	}
	return nil
}

// subRefreshViaProxy asks the sub_refresh proxy to extend sub (the ticker
// calls it at the subscription's expiry). Reference 9.4: no answer
// extends it by 60 s; a missing result or expired unsubscribes it (push
// 2501); error and disconnect answers are ignored.
func (c *client) subRefreshViaProxy(sub *subscription) {
	n := c.node
	px := n.proxies.SubRefresh
	c.mu.Lock()
	req := &proxy.SubRefreshRequest{Common: c.common(), User: c.user, Channel: sub.channel}
	c.mu.Unlock()
	req.Meta = c.metaFor(px)
	err := c.goCall(nil, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.SubRefresh(ctx, c.headers(), req)
		now := time.Now().Unix()
		c.mu.Lock()
		sub.refreshing = false
		expired := false
		switch {
		case err != nil:
			sub.expireAt = now + 60
		case reply.Result == nil || reply.Result.Expired:
			expired = true
		default:
			sub.expireAt = reply.Result.ExpireAt
			if info, err := payload(reply.Result.Info, reply.Result.B64Info); err == nil && info != nil {
				sub.chanInfo = info
			}
		}
		if c.state == stateConnected {
			c.recomputeDueLocked()
		}
		c.mu.Unlock()
		if expired {
			n.metrics.command("sub_refresh", "expired")
			if c.unsubscribeChannel(sub.channel) {
				b.reply(&protocol.Reply{Push: &protocol.Push{Channel: sub.channel,
					Unsubscribe: &protocol.Unsubscribe{Code: 2501, Reason: "subscription expired"}}})
			}
			return nil
		}
		n.metrics.command("sub_refresh", "ok")
		return nil
	})
	if err != nil {
		c.mu.Lock()
		sub.refreshing = false
		c.recomputeDueLocked()
		c.mu.Unlock()
	}
}
