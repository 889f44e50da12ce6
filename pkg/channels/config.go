package channels

import (
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/ratelimit"
)

// Config holds the client-side options, named after Centrifugo's client.*
// section. Zero values take the defaults shown.
type Config struct {
	// AllowAnonymousConnectWithoutToken lets a connect without a token in as
	// an anonymous user (""); otherwise it is closed with 3501.
	AllowAnonymousConnectWithoutToken bool
	// PingInterval is how often the server pings (an empty reply) and the
	// "ping" of the connect result, in whole seconds on the wire: 25s.
	// Negative disables pings.
	PingInterval time.Duration
	// PongTimeout is how long after a ping a pong must arrive, else close
	// 3012: 8s. Negative disables pongs ("pong": false). Must be smaller
	// than PingInterval.
	PongTimeout time.Duration
	// StaleCloseDelay is how long a connection may stay without a
	// successful connect before close 3502: 10s.
	StaleCloseDelay time.Duration
	// ExpiredCloseDelay is how long past its expiry a connection may stay
	// without a refresh before close 3005: 25s.
	ExpiredCloseDelay time.Duration
	// ExpiredSubCloseDelay is the same for subscriptions (unsubscribe push
	// 2501, or close 3006 for server-side ones): 25s.
	ExpiredSubCloseDelay time.Duration
	// ChannelLimit is the most channels one connection may subscribe to
	// (error 106 past it): 128.
	ChannelLimit int
	// HistoryMaxPublicationLimit caps the history command's limit: 300.
	HistoryMaxPublicationLimit int
	// RecoveryMaxPublicationLimit caps what a recovery may return: 300.
	RecoveryMaxPublicationLimit int
	// PresenceUpdateInterval is how often a connection's presence entries
	// are refreshed: 25s.
	PresenceUpdateInterval time.Duration
	// Version is the "version" of the connect result.
	Version string
	// Name names this node in the server API's info.
	Name string

	// CommandRate bounds one connection's commands (token bucket; zero
	// Rate: no limit). Past it a command is answered 111 too many
	// requests, or the connection is closed with 3013 when
	// CommandRateDisconnect.
	CommandRate           ratelimit.Limit
	CommandRateDisconnect bool
	// UserConnectionLimit is the most connections one user ID (not the
	// anonymous "") may hold on this node; past it the connect is closed
	// with 3504 connection limit. 0: no limit.
	UserConnectionLimit int
	// Size limits per command type, in bytes of the data field; 0: none.
	// Past them publish and rpc are answered 107 bad request and connect
	// is closed with 3501 bad request.
	MaxPublishSize     int
	MaxRPCSize         int
	MaxConnectDataSize int
	// MaxProxyCalls bounds one connection's proxy calls in flight; past
	// it a command is answered 111 too many requests: 8.
	MaxProxyCalls int
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PingInterval, 25*time.Second)
	def(&c.PongTimeout, 8*time.Second)
	def(&c.StaleCloseDelay, 10*time.Second)
	def(&c.ExpiredCloseDelay, 25*time.Second)
	def(&c.ExpiredSubCloseDelay, 25*time.Second)
	def(&c.PresenceUpdateInterval, 25*time.Second)
	if c.MaxProxyCalls <= 0 {
		c.MaxProxyCalls = DefaultMaxProxyCalls
	}
	if c.ChannelLimit <= 0 {
		c.ChannelLimit = 128
	}
	if c.HistoryMaxPublicationLimit <= 0 {
		c.HistoryMaxPublicationLimit = 300
	}
	if c.RecoveryMaxPublicationLimit <= 0 {
		c.RecoveryMaxPublicationLimit = 300
	}
	if c.PingInterval < 0 || c.PongTimeout >= c.PingInterval {
		c.PongTimeout = -1
	}
}

// Options are what a Node is built from.
type Options struct {
	Config
	// Broker carries publications and keeps history; required.
	Broker broker.Broker
	// Presence keeps presence; nil answers presence commands with 108.
	Presence broker.PresenceManager
	// Tokens verifies connection and subscription JWTs; nil refuses every
	// token (3500 on connect, 103 on subscribe).
	Tokens TokenVerifier
	// Channels resolves namespaces and their options; required.
	Channels *namespace.Rules
	Logger   *zap.Logger
	// Proxies are the backends consulted (reference section 9).
	Proxies Proxies
	// TickInterval drives pings, timeouts and expiries; derived from the
	// intervals when 0 (a tenth of the shortest, 10ms to 1s).
	TickInterval time.Duration
}
