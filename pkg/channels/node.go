package channels

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/ratelimit"
	"github.com/xh-control/gateway/pkg/session"
)

// Subprotocols is what the endpoint negotiates, in session.Info.Subprotocol
// order: 1 is JSON, 2 is Protobuf.
var Subprotocols = []string{"centrifuge-json", "centrifuge-protobuf"}

// Node is the channel protocol on one gateway process: the clients
// connected here, their subscriptions, and the broker and presence
// manager behind them. Its Handler serves the sessions of the
// /connection/websocket endpoint. All methods are safe for concurrent use.
type Node struct {
	opts     Options
	cfg      *Config
	log      *zap.Logger
	broker   broker.Broker
	presence broker.PresenceManager
	rules    *namespace.Rules
	tokens   TokenVerifier
	index    subscriberIndex
	clients  clientTable
	metrics  *Metrics
	uid      string
	started  time.Time
	clock    atomic.Int64 // coarse unix ns, advanced by the ticker

	proxies       Proxies
	emulatedAllow map[string]bool // lowercase names any proxy forwards from the connect's headers
	userConns     *ratelimit.Counter[string]
	ctx           context.Context // proxy calls; canceled by Close
	cancel        context.CancelFunc
	calls         sync.WaitGroup // proxy calls in flight

	runOnce  sync.Once
	stop     chan struct{}
	tickDone chan struct{}
}

// NewNode returns a node; call Run before serving.
func NewNode(opts Options) *Node {
	opts.Config.setDefaults()
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = session.TickFor(opts.PingInterval, opts.PongTimeout, opts.StaleCloseDelay)
	}
	n := &Node{
		opts:     opts,
		log:      opts.Logger,
		broker:   opts.Broker,
		presence: opts.Presence,
		rules:    opts.Channels,
		tokens:   opts.Tokens,
		metrics:  newMetrics(),
		uid:      newUID(),
		started:  time.Now(),
		stop:     make(chan struct{}),
		tickDone: make(chan struct{}),
	}
	n.cfg = &n.opts.Config
	n.proxies = opts.Proxies
	n.metrics.proxies = n.proxies.all()
	for _, px := range n.proxies.all() {
		for _, h := range px.Config().EmulatedHeaders {
			if n.emulatedAllow == nil {
				n.emulatedAllow = map[string]bool{}
			}
			n.emulatedAllow[strings.ToLower(h)] = true
		}
	}
	n.userConns = ratelimit.NewCounter[string]()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.index.init()
	n.clients.init()
	n.clock.Store(time.Now().UnixNano())
	return n
}

// Metrics returns the node's counters (a prometheus.Collector).
func (n *Node) Metrics() *Metrics { return n.metrics }

// Config returns the node's effective configuration (defaults applied).
func (n *Node) Config() Config { return *n.cfg }

// Run starts the broker's event delivery and the node's ticker.
func (n *Node) Run() error {
	var err error
	n.runOnce.Do(func() {
		if err = n.broker.Run(n); err != nil {
			return
		}
		go n.tickLoop()
	})
	return err
}

// Close stops the ticker and disconnects every client with 3001 shutdown
// (the SDKs reconnect). The broker is the caller's to close.
func (n *Node) Close() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	n.runOnce.Do(func() { close(n.tickDone) })
	<-n.tickDone
	n.cancel()
	n.clients.each(func(c *client) { c.disconnect(DisconnectShutdown) })
	n.calls.Wait()
}

// now is the time deadlines are set from: the real clock, so that a
// deadline never falls before its delay has passed (the ticker then
// enforces it within one tick).
func (n *Node) now() int64 { return time.Now().UnixNano() }

func (n *Node) tickLoop() {
	defer close(n.tickDone)
	t := time.NewTicker(n.opts.TickInterval)
	defer t.Stop()
	var due []*client
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			ns := now.UnixNano()
			n.clock.Store(ns)
			due = n.clients.due(ns, due[:0])
			for i, c := range due {
				c.tick(ns)
				due[i] = nil
			}
		}
	}
}

// Handler returns the session handler of the channel protocol endpoint.
func (n *Node) Handler() session.Handler { return (*handler)(n) }

// QuerySubprotocol chooses Protobuf for ?format=protobuf or
// ?cf_protocol=protobuf (poller.Endpoint.QuerySubprotocol).
func QuerySubprotocol(query []byte) uint8 {
	for len(query) > 0 {
		var kv []byte
		if i := indexByte(query, '&'); i >= 0 {
			kv, query = query[:i], query[i+1:]
		} else {
			kv, query = query, nil
		}
		if string(kv) == "format=protobuf" || string(kv) == "cf_protocol=protobuf" {
			return 2
		}
	}
	return 0
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

var errNodeClosed = errors.New("channels: node closed")

func background() context.Context { return context.Background() }
