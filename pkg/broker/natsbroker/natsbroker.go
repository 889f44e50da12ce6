package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
)

// shardBuffer is how many deliveries one dispatch shard queues. When a
// shard's queue is full nats.go drops the message and reports a slow
// consumer (logged); subscribers with recovery see the offset gap.
const shardBuffer = 8192

// Broker is the NATS engine. Create it with New; it is safe for concurrent
// use.
type Broker struct {
	opts Options
	subj subjects
	log  *zap.Logger
	nc   *nats.Conn
	js   jetstream.JetStream

	h      broker.EventHandler
	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
	seed   maphash.Seed
	shards []chan *nats.Msg

	mu      sync.Mutex
	subs    map[string]*nats.Subscription
	ctlSubs []*nats.Subscription

	resMu sync.Mutex
	res   atomic.Pointer[resources]
	tails *tails
}

var (
	_ broker.Broker          = (*Broker)(nil)
	_ broker.PresenceManager = (*Broker)(nil)
)

// New connects to NATS and returns the engine. It does not wait for NATS:
// an unreachable server is retried in the background (Options.MaxReconnects,
// ReconnectWait), so New fails only on options it cannot use.
func New(opts Options) (*Broker, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	b := &Broker{
		opts:  opts,
		subj:  newSubjects(opts.Prefix),
		log:   opts.Logger.With(zap.String("node", opts.Name)),
		done:  make(chan struct{}),
		seed:  maphash.MakeSeed(),
		subs:  make(map[string]*nats.Subscription),
		tails: newTails(),
	}
	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(opts.MaxReconnects),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectJitter(opts.ReconnectJitter, opts.ReconnectJitter),
		nats.Timeout(opts.ConnectTimeout),
		// No buffering while disconnected: a publish then fails at once
		// (ErrUnavailable) instead of being sent late or lost silently.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			// The server may have lost memory streams: check them again.
			b.res.Store(nil)
			b.tails.reset()
			b.log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats connected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Error("nats async error", zap.String("subject", subject), zap.Error(err))
		}),
	}
	if opts.TLS.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLS.CAFile))
	}
	if opts.TLS.CertFile != "" || opts.TLS.KeyFile != "" {
		nopts = append(nopts, nats.ClientCert(opts.TLS.CertFile, opts.TLS.KeyFile))
	}
	if opts.CredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	}
	if opts.Token != "" {
		nopts = append(nopts, nats.Token(opts.Token))
	}
	if opts.User != "" {
		nopts = append(nopts, nats.UserInfo(opts.User, opts.Password))
	}
	nc, err := nats.Connect(joinURLs(opts.URLs), nopts...)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(opts.RequestTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	n := runtime.GOMAXPROCS(0)
	b.shards = make([]chan *nats.Msg, n)
	for i := range b.shards {
		b.shards[i] = make(chan *nats.Msg, shardBuffer)
	}
	return b, nil
}

func joinURLs(urls []string) string {
	s := ""
	for i, u := range urls {
		if i > 0 {
			s += ","
		}
		s += u
	}
	return s
}

// Healthy reports whether the connection to NATS is up. /readyz uses it.
func (b *Broker) Healthy() bool { return !b.closed.Load() && b.nc.IsConnected() }

// Status is the connection state in words (CONNECTED, RECONNECTING, ...).
func (b *Broker) Status() string { return b.nc.Status().String() }

// CheckJetStream makes sure the history stream and the buckets exist,
// creating them if needed; it returns broker.ErrUnavailable when JetStream
// cannot be reached.
func (b *Broker) CheckJetStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	_, err := b.resources(ctx)
	return err
}

// Run starts delivering to h: one dispatch goroutine per shard, and the
// control subjects.
func (b *Broker) Run(h broker.EventHandler) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	b.h = h
	for _, ch := range b.shards {
		b.wg.Add(1)
		go b.dispatch(ch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range []string{b.subj.control, b.subj.nodeSubject(b.opts.Name)} {
		// One shard for both: control messages arrive in the order the
		// server sent them.
		sub, err := b.nc.ChanSubscribe(s, b.shards[0])
		if err != nil {
			return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
		}
		b.ctlSubs = append(b.ctlSubs, sub)
	}
	if b.nc.IsConnected() {
		// Control messages sent after Run returns reach this node. A failed
		// flush is only a slow server: the subscriptions stand.
		_ = b.nc.FlushTimeout(b.opts.RequestTimeout)
	}
	return nil
}

func (b *Broker) shard(subject string) chan *nats.Msg {
	return b.shards[maphash.String(b.seed, subject)%uint64(len(b.shards))]
}

// dispatch delivers one shard's messages. A channel's subject always maps
// to the same shard, so one channel's events come in order and never
// concurrently.
func (b *Broker) dispatch(ch chan *nats.Msg) {
	defer b.wg.Done()
	var env envelope
	for {
		select {
		case <-b.done:
			return
		case m := <-ch:
			b.deliver(m, &env)
		}
	}
}

func (b *Broker) deliver(m *nats.Msg, env *envelope) {
	if len(m.Subject) > len(b.subj.live) && m.Subject[:len(b.subj.live)] == b.subj.live {
		channel, ok := untoken(m.Subject[len(b.subj.live):])
		if !ok {
			return
		}
		if err := env.decode(m.Data); err != nil {
			b.log.Warn("undecodable message", zap.String("subject", m.Subject), zap.Error(err))
			return
		}
		switch env.kind {
		case kindPublication:
			var sp broker.StreamPosition
			if env.offset > 0 {
				sp = broker.StreamPosition{Offset: env.offset, Epoch: env.epoch}
			}
			b.h.HandlePublication(channel, env.publication(), sp)
		case kindJoin:
			if env.info != nil {
				b.h.HandleJoin(channel, env.info)
			}
		case kindLeave:
			if env.info != nil {
				b.h.HandleLeave(channel, env.info)
			}
		}
		return
	}
	b.h.HandleControl(m.Data)
}

// Subscribe subscribes to channel's live subject and waits until the NATS
// server has it; a second Subscribe of the same channel is a no-op. While
// NATS is down the subscription is recorded, made when the connection
// returns, and Subscribe returns nil.
func (b *Broker) Subscribe(channel string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[channel]; ok {
		return nil
	}
	s := b.subj.liveSubject(channel)
	sub, err := b.nc.ChanSubscribe(s, b.shard(s))
	if err != nil {
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	b.subs[channel] = sub
	if !b.nc.IsConnected() {
		return nil // made when the connection returns
	}
	// The server has the interest when Flush returns, so a publication
	// made anywhere afterwards is delivered.
	if err := b.nc.FlushTimeout(b.opts.RequestTimeout); err != nil {
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	return nil
}

// Unsubscribe drops the channel's subscription; unknown channels are a
// no-op.
func (b *Broker) Unsubscribe(channel string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	b.mu.Lock()
	sub, ok := b.subs[channel]
	delete(b.subs, channel)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	return nil
}

// Publish delivers a publication to every node subscribed to channel. With
// history (HistorySize and HistoryTTL > 0) it is stored first and the
// stream delivers it (history.go); without, it is one core NATS message,
// at most once: it is lost if the connection fails after Publish returns.
func (b *Broker) Publish(ctx context.Context, channel string, data []byte, opts broker.PublishOptions) (broker.StreamPosition, error) {
	if err := b.usable(); err != nil {
		return broker.StreamPosition{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	if opts.HistorySize > 0 && opts.HistoryTTL > 0 {
		return b.publishHistory(ctx, channel, data, &opts)
	}
	if opts.IdempotencyKey != "" {
		first, err := b.firstUse(ctx, channel, opts.IdempotencyKey, opts.IdempotentResultTTL)
		if err != nil || !first {
			return broker.StreamPosition{}, err
		}
	}
	env := envelope{kind: kindPublication, time: time.Now().UnixMilli(), info: opts.ClientInfo, tags: opts.Tags, data: data}
	return broker.StreamPosition{}, b.publishLive(channel, &env)
}

// PublishJoin delivers a join event to the nodes subscribed to channel.
func (b *Broker) PublishJoin(_ context.Context, channel string, info *broker.ClientInfo) error {
	if err := b.usable(); err != nil {
		return err
	}
	return b.publishLive(channel, &envelope{kind: kindJoin, info: info})
}

// PublishLeave delivers a leave event to the nodes subscribed to channel.
func (b *Broker) PublishLeave(_ context.Context, channel string, info *broker.ClientInfo) error {
	if err := b.usable(); err != nil {
		return err
	}
	return b.publishLive(channel, &envelope{kind: kindLeave, info: info})
}

func (b *Broker) publishLive(channel string, env *envelope) error {
	if err := b.nc.Publish(b.subj.liveSubject(channel), env.encode(nil)); err != nil {
		return unavailable(err)
	}
	return nil
}

// PublishControl sends data to the node named nodeID, or to every node
// (this one included) when nodeID is "", and returns when the NATS server
// has it (so that control messages from one node keep their order against
// later ones from any node). Delivery is at most once: a node that is
// disconnected misses it.
func (b *Broker) PublishControl(ctx context.Context, data []byte, nodeID string) error {
	if err := b.usable(); err != nil {
		return err
	}
	s := b.subj.control
	if nodeID != "" {
		s = b.subj.nodeSubject(nodeID)
	}
	if err := b.nc.Publish(s, data); err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close unsubscribes, closes the connection and stops the dispatchers.
// Events queued but not yet delivered are dropped.
func (b *Broker) Close(context.Context) error {
	if b.closed.Swap(true) {
		return nil
	}
	b.nc.Close()
	close(b.done)
	b.wg.Wait()
	return nil
}

// usable returns ErrClosed or, while NATS is not connected,
// ErrUnavailable.
func (b *Broker) usable() error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("%w: nats %s", broker.ErrUnavailable, b.nc.Status())
	}
	return nil
}

// unavailable wraps a NATS error as broker.ErrUnavailable; the caller's own
// cancellation stays what it is.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
}
