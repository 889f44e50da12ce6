package channels

import (
	"context"
	"encoding/json"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/internal/glob"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
	"github.com/xh-control/gateway/pkg/session"
)

// Publish publishes data into channel on behalf of the server (the server
// API's publish): 102 unknown namespace, 107 bad name or empty data.
func (n *Node) Publish(ctx context.Context, channel string, data []byte, opts serverapi.PublishOptions) (broker.StreamPosition, error) {
	if channel == "" {
		return broker.StreamPosition{}, ErrorBadRequest
	}
	o, err := n.resolve(channel)
	if err != nil {
		return broker.StreamPosition{}, err
	}
	if len(data) == 0 || !n.rules.ValidData(o, data) {
		return broker.StreamPosition{}, ErrorBadRequest
	}
	po := broker.PublishOptions{Tags: opts.Tags, IdempotencyKey: opts.IdempotencyKey}
	if !opts.SkipHistory {
		po.HistorySize, po.HistoryTTL, po.HistoryMetaTTL = o.HistorySize, time.Duration(o.HistoryTTL), time.Duration(o.HistoryMetaTTL)
	}
	n.metrics.PublicationsIn.Inc()
	sp, err := n.broker.Publish(ctx, channel, data, po)
	if err != nil {
		return sp, engineError(err)
	}
	return sp, nil
}

// Presence returns the channel's presence: 108 where presence is off.
func (n *Node) Presence(ctx context.Context, channel string) (map[string]*broker.ClientInfo, error) {
	if err := n.presenceOn(channel); err != nil {
		return nil, err
	}
	m, err := n.presence.Presence(ctx, channel)
	if err != nil {
		return nil, engineError(err)
	}
	return m, nil
}

// PresenceStats returns the channel's presence counts: 108 where presence
// is off.
func (n *Node) PresenceStats(ctx context.Context, channel string) (broker.PresenceStats, error) {
	if err := n.presenceOn(channel); err != nil {
		return broker.PresenceStats{}, err
	}
	st, err := n.presence.PresenceStats(ctx, channel)
	if err != nil {
		return st, engineError(err)
	}
	return st, nil
}

func (n *Node) presenceOn(channel string) error {
	if channel == "" {
		return ErrorBadRequest
	}
	o, err := n.resolve(channel)
	if err != nil {
		return err
	}
	if !o.Presence || n.presence == nil {
		return ErrorNotAvailable
	}
	return nil
}

// History returns the channel's history (reference section 6): 108 where
// history is off, 112 when opts.Since names another epoch, 107 for reverse
// with since offset 0. Limit 0 returns only the position, -1 (or more than
// the configured maximum) the maximum.
func (n *Node) History(ctx context.Context, channel string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if channel == "" {
		return nil, broker.StreamPosition{}, ErrorBadRequest
	}
	o, err := n.resolve(channel)
	if err != nil {
		return nil, broker.StreamPosition{}, err
	}
	if !o.HistoryEnabled() {
		return nil, broker.StreamPosition{}, ErrorNotAvailable
	}
	if opts.Reverse && opts.Since != nil && opts.Since.Offset == 0 {
		return nil, broker.StreamPosition{}, ErrorBadRequest
	}
	if max := n.cfg.HistoryMaxPublicationLimit; opts.Limit < 0 || opts.Limit > max {
		opts.Limit = max
	}
	if opts.MetaTTL == 0 {
		opts.MetaTTL = time.Duration(o.HistoryMetaTTL)
	}
	pubs, sp, err := n.broker.History(ctx, channel, opts)
	if err != nil {
		return nil, sp, engineError(err)
	}
	if opts.Since != nil && opts.Since.Epoch != "" && opts.Since.Epoch != sp.Epoch {
		return nil, sp, ErrorUnrecoverablePosition
	}
	return pubs, sp, nil
}

// HistoryRemove drops the channel's publications: 108 where history is off.
func (n *Node) HistoryRemove(ctx context.Context, channel string) error {
	if channel == "" {
		return ErrorBadRequest
	}
	o, err := n.resolve(channel)
	if err != nil {
		return err
	}
	if !o.HistoryEnabled() {
		return ErrorNotAvailable
	}
	if err := n.broker.RemoveHistory(ctx, channel); err != nil {
		return engineError(err)
	}
	return nil
}

// Channels returns this node's channels with subscribers that match
// pattern ('*' any run, '?' one byte; "" matches all), with their counts.
func (n *Node) Channels(ctx context.Context, pattern string) (map[string]int, error) {
	out := map[string]int{}
	n.index.each(func(ch string, subs int) {
		if pattern == "" || glob.Match(pattern, ch) {
			out[ch] = subs
		}
	})
	return out, nil
}

// Info describes this node.
func (n *Node) Info(ctx context.Context) ([]serverapi.NodeInfo, error) {
	subs := 0
	nch := 0
	n.index.each(func(_ string, s int) { subs += s; nch++ })
	return []serverapi.NodeInfo{{
		UID: n.uid, Name: n.cfg.Name, Version: n.cfg.Version,
		NumClients: n.clients.count(), NumUsers: n.clients.numUsers(),
		NumChannels: nch, NumSubs: subs, Uptime: time.Since(n.started),
	}}, nil
}

// Subscribe subscribes the user's connections (or one client or session)
// to a channel, on whichever node holds them: the request travels as a
// control message through the broker.
func (n *Node) Subscribe(ctx context.Context, req serverapi.SubscribeRequest) error {
	if req.Channel == "" {
		return ErrorBadRequest
	}
	if _, err := n.resolve(req.Channel); err != nil {
		return err
	}
	return n.control(ctx, control{Op: "subscribe", User: req.User, Client: req.Client, Session: req.Session,
		Channel: req.Channel, Info: req.Info, Data: req.Data, RecoverSince: req.RecoverSince,
		Override: req.Override, ExpireAt: req.ExpireAt})
}

// Unsubscribe unsubscribes the user's connections (or one client or
// session) from a channel; they get an unsubscribe push with 2000.
func (n *Node) Unsubscribe(ctx context.Context, req serverapi.UnsubscribeRequest) error {
	if req.Channel == "" {
		return ErrorBadRequest
	}
	if _, err := n.resolve(req.Channel); err != nil {
		return err
	}
	return n.control(ctx, control{Op: "unsubscribe", User: req.User, Client: req.Client, Session: req.Session, Channel: req.Channel})
}

// Disconnect closes the user's connections (or one client or session),
// except the whitelisted clients; code 0 means 3503 force disconnect.
func (n *Node) Disconnect(ctx context.Context, req serverapi.DisconnectRequest) error {
	return n.control(ctx, control{Op: "disconnect", User: req.User, Client: req.Client, Session: req.Session,
		Whitelist: req.Whitelist, Code: req.Code, Reason: req.Reason})
}

// Refresh changes the expiry or info of the user's connections (or one
// client or session); Expired closes them with 3005.
func (n *Node) Refresh(ctx context.Context, req serverapi.RefreshRequest) error {
	return n.control(ctx, control{Op: "refresh", User: req.User, Client: req.Client, Session: req.Session,
		Expired: req.Expired, ExpireAt: req.ExpireAt, Info: req.Info})
}

// SendMessage sends an asynchronous message push (protocol Message) to
// one session of the endpoint; it reports whether the session was here.
func (n *Node) SendMessage(id session.ID, data []byte) bool {
	c := n.clients.get(id)
	if c == nil {
		return false
	}
	c.sendReply(&protocol.Reply{Push: &protocol.Push{Message: &protocol.Message{Data: data}}})
	return true
}

// control is a server API request aimed at clients on any node.
type control struct {
	Op           string                 `json:"op"`
	User         string                 `json:"user,omitempty"`
	Client       string                 `json:"client,omitempty"`
	Session      string                 `json:"session,omitempty"`
	Channel      string                 `json:"channel,omitempty"`
	Info         json.RawMessage        `json:"info,omitempty"`
	Data         json.RawMessage        `json:"data,omitempty"`
	RecoverSince *broker.StreamPosition `json:"recover_since,omitempty"`
	Override     *serverapi.Override    `json:"override,omitempty"`
	ExpireAt     int64                  `json:"expire_at,omitempty"`
	Whitelist    []string               `json:"whitelist,omitempty"`
	Code         uint32                 `json:"code,omitempty"`
	Reason       string                 `json:"reason,omitempty"`
	Expired      bool                   `json:"expired,omitempty"`
	_            struct{}               `json:"-"`
}

func (n *Node) control(ctx context.Context, m control) error {
	p, err := json.Marshal(m)
	if err != nil {
		return ErrorInternal
	}
	if err := n.broker.PublishControl(ctx, p, ""); err != nil {
		return engineError(err)
	}
	return nil
}

// HandleControl implements broker.EventHandler: it applies a server API
// request to the clients it names on this node.
func (n *Node) HandleControl(data []byte) {
	var m control
	if err := json.Unmarshal(data, &m); err != nil {
		return
	}
	for _, c := range n.targets(&m) {
		switch m.Op {
		case "subscribe":
			c.serverSubscribe(&m)
		case "unsubscribe":
			if c.unsubscribeChannel(m.Channel) {
				c.sendReply(&protocol.Reply{Push: &protocol.Push{Channel: m.Channel,
					Unsubscribe: &protocol.Unsubscribe{Code: 2000, Reason: "server unsubscribe"}}})
			}
		case "disconnect":
			d := DisconnectForceNoReconnect
			if m.Code != 0 {
				d = &Disconnect{Code: m.Code, Reason: m.Reason}
			}
			c.disconnect(d)
		case "refresh":
			if m.Expired {
				c.disconnect(DisconnectExpired)
				continue
			}
			c.mu.Lock()
			if m.ExpireAt != 0 {
				c.expireAt = m.ExpireAt
			}
			if m.Info != nil {
				c.info = m.Info
			}
			c.recomputeDueLocked()
			c.mu.Unlock()
			if m.ExpireAt > 0 {
				// The client learns its new expiry (push refresh), as
				// Centrifugo tells it.
				ttl := max(m.ExpireAt-time.Now().Unix(), 1)
				c.sendReply(&protocol.Reply{Push: &protocol.Push{Refresh: &protocol.Refresh{Expires: true, Ttl: uint32(ttl)}}})
			}
		}
	}
}

// targets returns the clients a control message names on this node.
func (n *Node) targets(m *control) []*client {
	var cs []*client
	for _, idStr := range []string{m.Client, m.Session} {
		if idStr == "" {
			continue
		}
		if id, err := session.ParseID(idStr); err == nil {
			if c := n.clients.get(id); c != nil {
				cs = append(cs, c)
			}
		}
		break
	}
	if m.Client == "" && m.Session == "" && m.User != "" {
		cs = n.clients.byUser(m.User)
	}
	out := cs[:0]
	for _, c := range cs {
		c.mu.Lock()
		ok := c.state == stateConnected && (m.User == "" || c.user == m.User)
		c.mu.Unlock()
		for _, w := range m.Whitelist {
			if w == c.id {
				ok = false
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// serverSubscribe applies the server API's subscribe to one client: the
// client gets a subscribe push, then the channel's publications.
func (c *client) serverSubscribe(m *control) {
	req := &protocol.SubscribeRequest{Channel: m.Channel}
	if m.RecoverSince != nil {
		req.Recover, req.Offset, req.Epoch = true, m.RecoverSince.Offset, m.RecoverSince.Epoch
	}
	res, err := c.subscribeGranted(req, &grant{info: m.Info, data: m.Data, override: m.Override, expireAt: m.ExpireAt, serverSide: true}, nil)
	if err != nil {
		return
	}
	c.mu.Lock()
	sub := c.subs.get(m.Channel)
	c.mu.Unlock()
	c.sendReply(&protocol.Reply{Push: &protocol.Push{Channel: m.Channel, Subscribe: &protocol.Subscribe{
		Recoverable: res.Recoverable, Epoch: res.Epoch, Offset: res.Offset, Positioned: res.Positioned, Data: res.Data}}})
	if sub != nil {
		c.activate(sub)
	}
}
