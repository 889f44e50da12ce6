package channels

import (
	"context"
	"errors"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/broker"
)

// publish handles the publish command (reference section 7: 102/107,
// data format, then allow_publish_*).
func (c *client) publish(id uint32, req *protocol.PublishRequest, b *batch) *Disconnect {
	n := c.node
	if req.Channel == "" {
		n.metrics.command("publish", "bad_request")
		return DisconnectBadRequest
	}
	if n.cfg.MaxPublishSize > 0 && len(req.Data) > n.cfg.MaxPublishSize {
		n.metrics.command("publish", "bad_request")
		b.replyError(id, ErrorBadRequest)
		return nil
	}
	if opts, err := n.resolve(req.Channel); err == nil && opts.PublishProxyEnabled && n.proxies.Publish != nil {
		return c.publishViaProxy(id, req, opts, b)
	}
	e := c.publishErr(req)
	if e != nil {
		n.metrics.command("publish", codeLabel(e.Code))
		b.replyError(id, e)
		return nil
	}
	n.metrics.command("publish", "ok")
	b.reply(&protocol.Reply{Id: id, Publish: &protocol.PublishResult{}})
	return nil
}

func (c *client) publishErr(req *protocol.PublishRequest) *Error {
	n := c.node
	opts, err := n.resolve(req.Channel)
	if err != nil {
		return asError(err)
	}
	// A publish without data: Centrifugo v6.9.1 answers 107 and keeps the
	// connection (reference 2.2).
	if req.Data == nil || !n.rules.ValidData(opts, req.Data) {
		return ErrorBadRequest
	}
	c.mu.Lock()
	user := c.user
	subscribed := c.subs.get(req.Channel) != nil
	c.mu.Unlock()
	if !((opts.AllowPublishForClient || opts.AllowPublishForSubscriber && subscribed) &&
		(user != "" || opts.AllowPublishForAnonymous)) {
		return ErrorPermissionDenied
	}
	return c.publishData(req.Channel, req.Data, opts, false, nil)
}

// publishData publishes data to channel with opts's history; skipHistory
// and tags come from the publish proxy.
func (c *client) publishData(channel string, data []byte, opts *ChannelOptions, skipHistory bool, tags map[string]string) *Error {
	n := c.node
	n.metrics.PublicationsIn.Inc()
	po := broker.PublishOptions{
		HistorySize:    opts.HistorySize,
		HistoryTTL:     time.Duration(opts.HistoryTTL),
		HistoryMetaTTL: time.Duration(opts.HistoryMetaTTL),
		ClientInfo:     c.clientInfo(nil),
		Tags:           tags,
	}
	if skipHistory {
		po.HistorySize, po.HistoryTTL = 0, 0
	}
	if _, err := n.broker.Publish(context.Background(), channel, data, po); err != nil {
		return engineError(err)
	}
	return nil
}

// engineError maps a broker error to a protocol error.
func engineError(err error) *Error {
	if errors.Is(err, broker.ErrUnavailable) {
		return ErrorNotAvailable
	}
	return asError(err)
}

// presencePermission checks presence and presence_stats (reference 7).
func (c *client) presencePermission(ch string) *Error {
	n := c.node
	opts, err := n.resolve(ch)
	if err != nil {
		return asError(err)
	}
	if !opts.Presence || n.presence == nil {
		return ErrorNotAvailable
	}
	c.mu.Lock()
	user, subscribed := c.user, c.subs.get(ch) != nil
	c.mu.Unlock()
	if !((opts.AllowPresenceForClient || opts.AllowPresenceForSubscriber && subscribed) &&
		(user != "" || opts.AllowPresenceForAnonymous)) {
		return ErrorPermissionDenied
	}
	return nil
}

func (c *client) presenceCmd(id uint32, req *protocol.PresenceRequest, b *batch) *Disconnect {
	return c.presenceReply("presence", id, req.Channel, b, func() (*protocol.Reply, error) {
		m, err := c.node.presence.Presence(context.Background(), req.Channel)
		if err != nil {
			return nil, err
		}
		res := &protocol.PresenceResult{Presence: make(map[string]*protocol.ClientInfo, len(m))}
		for k, v := range m {
			res.Presence[k] = toProtoInfo(v)
		}
		return &protocol.Reply{Id: id, Presence: res}, nil
	})
}

func (c *client) presenceStats(id uint32, req *protocol.PresenceStatsRequest, b *batch) *Disconnect {
	return c.presenceReply("presence_stats", id, req.Channel, b, func() (*protocol.Reply, error) {
		st, err := c.node.presence.PresenceStats(context.Background(), req.Channel)
		if err != nil {
			return nil, err
		}
		return &protocol.Reply{Id: id, PresenceStats: &protocol.PresenceStatsResult{
			NumClients: uint32(st.NumClients), NumUsers: uint32(st.NumUsers)}}, nil
	})
}

// presenceReply answers command id, named cmd in the metrics, on channel
// ch: 3501 for an empty channel, the permission's error, or the reply
// result builds from the presence engine (its error mapped by engineError).
func (c *client) presenceReply(cmd string, id uint32, ch string, b *batch, result func() (*protocol.Reply, error)) *Disconnect {
	n := c.node
	if ch == "" {
		n.metrics.command(cmd, "bad_request")
		return DisconnectBadRequest
	}
	e := c.presencePermission(ch)
	if e == nil {
		r, err := result()
		if err == nil {
			n.metrics.command(cmd, "ok")
			b.reply(r)
			return nil
		}
		e = engineError(err)
	}
	n.metrics.command(cmd, codeLabel(e.Code))
	b.replyError(id, e)
	return nil
}

// history handles the history command (reference section 6).
func (c *client) history(id uint32, req *protocol.HistoryRequest, b *batch) *Disconnect {
	n := c.node
	if req.Channel == "" {
		n.metrics.command("history", "bad_request")
		return DisconnectBadRequest
	}
	res, e := c.historyResult(req)
	if e != nil {
		n.metrics.command("history", codeLabel(e.Code))
		b.replyError(id, e)
		return nil
	}
	n.metrics.command("history", "ok")
	b.reply(&protocol.Reply{Id: id, History: res})
	return nil
}

func (c *client) historyResult(req *protocol.HistoryRequest) (*protocol.HistoryResult, *Error) {
	n := c.node
	opts, err := n.resolve(req.Channel)
	if err != nil {
		return nil, asError(err)
	}
	if !opts.HistoryEnabled() {
		return nil, ErrorNotAvailable
	}
	c.mu.Lock()
	user, subscribed := c.user, c.subs.get(req.Channel) != nil
	c.mu.Unlock()
	if !((opts.AllowHistoryForClient || opts.AllowHistoryForSubscriber && subscribed) &&
		(user != "" || opts.AllowHistoryForAnonymous)) {
		return nil, ErrorPermissionDenied
	}
	var since *broker.StreamPosition
	if req.Since != nil {
		since = &broker.StreamPosition{Offset: req.Since.Offset, Epoch: req.Since.Epoch}
	}
	pubs, sp, e := n.History(context.Background(), req.Channel, broker.HistoryOptions{
		Since: since, Limit: int(req.Limit), Reverse: req.Reverse, MetaTTL: time.Duration(opts.HistoryMetaTTL)})
	if e != nil {
		return nil, asError(e)
	}
	res := &protocol.HistoryResult{Publications: make([]*protocol.Publication, 0, len(pubs)), Epoch: sp.Epoch, Offset: sp.Offset}
	for _, p := range pubs {
		res.Publications = append(res.Publications, toProtoPub(p, sp.Epoch))
	}
	return res, nil
}
