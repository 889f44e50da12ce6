package channels

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/centrifugal/protocol"
	"go.uber.org/zap"
)

// connect authenticates the connection (reference 4.1-4.2), subscribes it
// to the token's server-side channels and answers with the connect result.
func (c *client) connect(id uint32, req *protocol.ConnectRequest, b *batch) *Disconnect {
	n := c.node
	if n.cfg.MaxConnectDataSize > 0 && len(req.Data) > n.cfg.MaxConnectDataSize {
		n.metrics.command("connect", "bad_request")
		n.logReject(c, DisconnectBadRequest, "connect data larger than max_connect_data_size")
		return DisconnectBadRequest
	}
	if px := n.proxies.Connect; px != nil && (req.Token == "" || n.proxies.ConnectAlways) {
		return c.connectViaProxy(id, req, px, b)
	}
	var tok ConnectToken
	switch {
	case req.Token != "":
		var err error
		if n.tokens == nil {
			err = ErrInvalidToken
		} else {
			tok, err = n.tokens.VerifyConnectToken(context.Background(), req.Token)
		}
		if err != nil {
			if errors.Is(err, ErrTokenExpired) {
				n.metrics.tokenFailure("connect", "expired")
				n.logReject(c, nil, "connection token expired")
				return c.connectError(id, ErrorTokenExpired, b)
			}
			n.metrics.tokenFailure("connect", "invalid")
			n.logReject(c, DisconnectInvalidToken, "invalid connection token: "+err.Error())
			n.metrics.command("connect", "invalid_token")
			return DisconnectInvalidToken
		}
	case n.cfg.AllowAnonymousConnectWithoutToken:
	default:
		n.logReject(c, DisconnectBadRequest, "client credentials not found")
		n.metrics.command("connect", "no_credentials")
		return DisconnectBadRequest
	}
	if tok.ExpireAt > 0 && tok.ExpireAt <= time.Now().Unix() {
		n.logReject(c, nil, "connection expire_at in the past")
		return c.connectError(id, ErrorExpired, b)
	}
	if n.proxies.any() {
		c.mu.Lock()
		c.emulated = n.keepEmulated(req.Headers)
		c.mu.Unlock()
	}
	return c.connectAccepted(id, req, tok, nil, b)
}

// connectAccepted connects a client whose credentials a token or the
// connect proxy gave, and answers with the connect result carrying data.
func (c *client) connectAccepted(id uint32, req *protocol.ConnectRequest, tok ConnectToken, data []byte, b *batch) *Disconnect {
	n := c.node
	now := time.Now().Unix()

	// Server-side subscriptions: subs wins over channels (reference 4.3).
	type serverSub struct {
		channel string
		opts    SubOptions
	}
	var serverSubs []serverSub
	for _, ch := range tok.Channels {
		if _, ok := tok.Subs[ch]; !ok {
			serverSubs = append(serverSubs, serverSub{channel: ch})
		}
	}
	for ch, o := range tok.Subs {
		serverSubs = append(serverSubs, serverSub{channel: ch, opts: o})
	}
	if len(serverSubs) > n.cfg.ChannelLimit {
		n.logReject(c, DisconnectChannelLimit, "too many server-side channels")
		return DisconnectChannelLimit
	}
	for _, s := range serverSubs {
		if _, err := n.resolve(s.channel); err != nil {
			n.logReject(c, nil, "server-side channel "+s.channel+": "+err.Error())
			return c.connectError(id, asError(err), b)
		}
	}

	c.mu.Lock()
	if c.state == stateClosed { // gone while the connect proxy answered
		c.mu.Unlock()
		return DisconnectConnectionClosed
	}
	if lim := n.cfg.UserConnectionLimit; lim > 0 && tok.UserID != "" {
		if !n.userConns.Acquire(tok.UserID, lim) {
			c.mu.Unlock()
			n.metrics.command("connect", "connection_limit")
			n.logReject(c, DisconnectConnectionLimit, "user connection limit")
			return DisconnectConnectionLimit
		}
		c.userCounted = true
	}
	if n.proxies.any() {
		c.meta = tok.Meta
	}
	c.state = stateConnected
	c.user = tok.UserID
	c.info = tok.Info
	c.expireAt = tok.ExpireAt
	now64 := n.now()
	if n.cfg.PingInterval > 0 {
		// The first ping comes after a random delay in [interval/2,
		// interval), which spreads the pings of clients that connected
		// together over the interval.
		half := int64(n.cfg.PingInterval) / 2
		c.nextPing = now64 + half + rand.Int64N(half)
	}
	c.recomputeDueLocked()
	c.mu.Unlock()
	n.clients.addUser(c.user, c)

	res := &protocol.ConnectResult{Client: c.id, Version: n.cfg.Version, Data: data}
	if n.cfg.PingInterval > 0 {
		res.Ping = uint32(n.cfg.PingInterval / time.Second)
		res.Pong = n.cfg.PongTimeout > 0
	}
	if tok.ExpireAt > 0 && n.proxies.Refresh == nil { // refresh proxy: server-side refresh
		res.Expires, res.Ttl = true, uint32(max(tok.ExpireAt-now, 1))
	}
	if len(serverSubs) > 0 {
		res.Subs = make(map[string]*protocol.SubscribeResult, len(serverSubs))
		for _, s := range serverSubs {
			sreq := &protocol.SubscribeRequest{Channel: s.channel}
			if r, ok := req.Subs[s.channel]; ok && r != nil {
				sreq.Recover, sreq.Offset, sreq.Epoch = r.Recover, r.Offset, r.Epoch
			}
			grant := &grant{info: s.opts.Info, data: s.opts.Data, override: s.opts.Override, serverSide: true}
			sr, err := c.subscribeGranted(sreq, grant, b)
			if err != nil {
				var d *Disconnect
				if errors.As(err, &d) {
					return d
				}
				return c.connectError(id, asError(err), b)
			}
			res.Subs[s.channel] = sr
		}
	}
	n.metrics.command("connect", "ok")
	// The connect reply must precede the server-side subscriptions'
	// publications: they go live when the batch is flushed.
	b.reply(&protocol.Reply{Id: id, Connect: res})
	if ce := n.log.Check(zap.DebugLevel, "client connected"); ce != nil {
		ce.Write(zap.String("client", c.id), zap.String("user", c.user), zap.String("name", req.Name))
	}
	return nil
}

// connectError answers the connect with e; the connection then reads no
// more commands and is closed as stale unless the client closes first.
func (c *client) connectError(id uint32, e *Error, b *batch) *Disconnect {
	c.node.metrics.command("connect", codeLabel(e.Code))
	c.mu.Lock()
	c.state = stateFailed
	c.mu.Unlock()
	b.replyError(id, e)
	return nil
}

// pong handles an empty command (id 0): a pong (reference section 3).
func (c *client) pong(state clientState) *Disconnect {
	if state != stateConnected {
		return DisconnectBadRequest
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pongDeadline == 0 {
		return DisconnectBadRequest // a pong without a ping
	}
	c.pongDeadline = 0
	c.recomputeDueLocked()
	return nil
}

// asError returns err as a protocol error, or 100 internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrorInternal
}

// logReject logs a rejected connect or a protocol violation, once, with
// the session ID. Tokens are never logged.
func (n *Node) logReject(c *client, d *Disconnect, why string) {
	fields := []zap.Field{zap.String("session", c.id), zap.String("reason", why), zap.Stringer("ip", c.sess.ClientIP())}
	if d != nil {
		fields = append(fields, zap.Uint32("code", d.Code))
	}
	n.log.Info("channel client rejected", fields...)
}
