package channels

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/centrifugal/protocol"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/ratelimit"
	"github.com/xh-control/gateway/pkg/session"
)

type clientState uint8

const (
	stateConnecting clientState = iota // waiting for connect
	stateConnected
	stateFailed // connect answered with an error: further commands are ignored
	stateClosed
)

// client is one connection of the protocol. It owns no goroutine and no
// timer: the node's ticker looks at due and calls tick. Fields under mu
// are changed by the session's handler calls, the ticker and the server
// API, which may run at once.
type client struct {
	node     *Node
	sess     *session.Session
	id       string // the session ID: the protocol's client ID
	protobuf bool
	due      atomic.Int64 // unix ns of the earliest timer; 0: none

	mu              sync.Mutex
	state           clientState
	user            string
	info            []byte // connection info from the token
	expireAt        int64  // unix s; 0: does not expire
	connectDeadline int64  // unix ns, while connecting
	nextPing        int64  // unix ns; 0: pings off
	pongDeadline    int64  // unix ns; 0: no ping outstanding
	nextPresence    int64  // unix ns; 0: no presence to refresh
	subs            subList

	// Only with proxies or limits configured (nil/zero otherwise):
	calls       int  // proxy calls in flight (Config.MaxProxyCalls)
	holding     bool // the connect proxy has not answered: commands wait in held
	held        []*protocol.Command
	refreshing  bool              // a refresh proxy call is in flight
	emulated    map[string]string // the connect's headers a proxy forwards
	upgrade     http.Header       // the upgrade request's headers a proxy forwards
	meta        []byte            // connection meta (connect proxy or token), for include_connection_meta
	userCounted bool              // counted in node.userConns; released once in cleanup
	bucket      ratelimit.Bucket  // command rate; used by the session's reader only
}

// handler adapts a Node to session.Handler.
type handler Node

func (h *handler) OnOpen(s *session.Session) {
	n := (*Node)(h)
	c := &client{node: n, sess: s, id: s.ID().String(), protobuf: s.Info().Subprotocol == 2}
	c.connectDeadline = n.now() + int64(n.cfg.StaleCloseDelay)
	c.due.Store(c.connectDeadline)
	n.clients.add(c)
	n.metrics.ConnectionsOpen.Add(1)
}

func (h *handler) OnMessage(s *session.Session, m session.Message) {
	n := (*Node)(h)
	c := n.clients.get(s.ID())
	if c == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			n.metrics.Panics.Inc()
			n.log.Error("channel protocol panic; closing with 3004", zap.Stringer("session", s.ID()), zap.Any("panic", v), zap.Stack("stack"))
			c.disconnect(DisconnectServerError)
		}
	}()
	c.handleFrame(m.Data)
}

func (h *handler) OnClose(s *session.Session, info session.CloseInfo) {
	n := (*Node)(h)
	c := n.clients.get(s.ID())
	if c == nil {
		return
	}
	c.cleanup()
	n.clients.remove(c)
	n.metrics.ConnectionsOpen.Add(-1)
}

// OnShutdown implements session.ShutdownHandler: a shutting-down server
// tells each client 3001 "shutdown", which makes the SDKs reconnect (to
// another node) with backoff. The server spreads these calls over
// shutdown.spread.
func (h *handler) OnShutdown(s *session.Session) {
	if c := (*Node)(h).clients.get(s.ID()); c != nil {
		c.disconnect(DisconnectShutdown)
		return
	}
	s.Close(3001, DisconnectShutdown.Reason) // not connected yet
}

// disconnect closes the connection with d's code and reason.
func (c *client) disconnect(d *Disconnect) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	c.mu.Unlock()
	c.node.metrics.disconnect(d.Code)
	c.sess.Close(codec.StatusCode(d.Code), d.Reason)
}

// cleanup drops the client's subscriptions, presence and user entry.
func (c *client) cleanup() {
	c.mu.Lock()
	c.state = stateClosed
	subs := c.subs
	c.subs = nil
	for _, sub := range subs {
		sub.removed = true
		sub.pending = nil
	}
	user := c.user
	counted := c.userCounted
	c.userCounted = false
	c.held = nil
	c.mu.Unlock()
	if counted {
		c.node.userConns.Release(user)
	}
	for _, sub := range subs {
		c.node.dropSubscription(sub, true)
	}
	c.node.clients.removeUser(user, c)
}

// clientInfo returns the client's ClientInfo with chanInfo.
func (c *client) clientInfo(chanInfo []byte) *broker.ClientInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &broker.ClientInfo{ClientID: c.id, UserID: c.user, ConnInfo: c.info, ChanInfo: chanInfo}
}

// recomputeDueLocked sets due to the earliest timer. c.mu is held.
func (c *client) recomputeDueLocked() {
	var due int64
	take := func(t int64) {
		if t != 0 && (due == 0 || t < due) {
			due = t
		}
	}
	switch c.state {
	case stateConnecting, stateFailed:
		take(c.connectDeadline)
	case stateConnected:
		take(c.nextPing)
		take(c.pongDeadline)
		take(c.nextPresence)
		if c.expireAt > 0 {
			switch {
			case c.node.proxies.Refresh == nil:
				take(c.expireAt*1e9 + int64(c.node.cfg.ExpiredCloseDelay))
			case !c.refreshing:
				take(c.expireAt * 1e9) // the refresh proxy is asked at expiry
			}
		}
		for _, s := range c.subs {
			switch {
			case s.expireAt == 0:
			case s.flags&flagProxyRefresh == 0:
				take(s.expireAt*1e9 + int64(c.node.cfg.ExpiredSubCloseDelay))
			case !s.refreshing:
				take(s.expireAt * 1e9) // the sub_refresh proxy is asked at expiry
			}
		}
	}
	c.due.Store(due)
}
