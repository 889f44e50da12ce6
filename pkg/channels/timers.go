package channels

import (
	"context"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/session"
)

// The ping is an empty reply (reference section 3): "{}" in JSON, a
// zero-length message (its varint length, 0x00) in Protobuf. The frames
// are built once and shared by every connection.
var (
	pingJSON  = session.NewFrame(session.Text, []byte("{}"))
	pingProto = session.NewFrame(session.Binary, []byte{0})
)

// tick runs the client's due timers; the node's ticker calls it.
func (c *client) tick(now int64) {
	n := c.node
	var (
		disconnect  *Disconnect
		ping        bool
		presence    []*subscription
		expiredSubs []*subscription
		refresh     bool
		refreshSubs []*subscription
	)
	c.mu.Lock()
	switch c.state {
	case stateConnecting, stateFailed:
		if now >= c.connectDeadline {
			disconnect = DisconnectStale
		}
	case stateConnected:
		switch {
		case c.pongDeadline != 0 && now >= c.pongDeadline:
			disconnect = DisconnectNoPong
		case c.expireAt > 0 && n.proxies.Refresh == nil && now >= c.expireAt*1e9+int64(n.cfg.ExpiredCloseDelay):
			disconnect = DisconnectExpired
		case c.expireAt > 0 && n.proxies.Refresh != nil && !c.refreshing && now >= c.expireAt*1e9:
			c.refreshing = true
			refresh = true
		}
		if c.nextPing != 0 && now >= c.nextPing {
			ping = true
			c.nextPing = now + int64(n.cfg.PingInterval)
			if n.cfg.PongTimeout > 0 && c.pongDeadline == 0 {
				c.pongDeadline = now + int64(n.cfg.PongTimeout)
			}
		}
		if c.nextPresence != 0 && now >= c.nextPresence {
			c.nextPresence = now + int64(n.cfg.PresenceUpdateInterval)
			for _, s := range c.subs {
				if s.flags&flagPresence != 0 {
					presence = append(presence, s)
				}
			}
			if len(presence) == 0 {
				c.nextPresence = 0
			}
		}
		for _, s := range c.subs {
			switch {
			case s.expireAt == 0:
			case s.flags&flagProxyRefresh != 0:
				if !s.refreshing && now >= s.expireAt*1e9 {
					s.refreshing = true
					refreshSubs = append(refreshSubs, s)
				}
			case now >= s.expireAt*1e9+int64(n.cfg.ExpiredSubCloseDelay):
				expiredSubs = append(expiredSubs, s)
			}
		}
	}
	if disconnect == nil {
		c.recomputeDueLocked()
	}
	c.mu.Unlock()

	if disconnect != nil {
		n.logReject(c, disconnect, disconnect.Reason)
		c.disconnect(disconnect)
		return
	}
	if refresh {
		c.refreshViaProxy(n.proxies.Refresh)
	}
	for _, s := range refreshSubs {
		c.subRefreshViaProxy(s)
	}
	if ping {
		f := pingJSON
		if c.protobuf {
			f = pingProto
		}
		c.sess.SendFrame(f)
	}
	for _, s := range presence {
		n.presence.AddPresence(context.Background(), s.channel, c.clientInfo(s.chanInfo))
	}
	for _, s := range expiredSubs {
		if s.flags&flagServerSide != 0 {
			c.disconnect(DisconnectSubExpired)
			return
		}
		if c.unsubscribeChannel(s.channel) {
			c.sendReply(&protocol.Reply{Push: &protocol.Push{Channel: s.channel,
				Unsubscribe: &protocol.Unsubscribe{Code: 2501, Reason: "subscription expired"}}})
		}
	}
}
