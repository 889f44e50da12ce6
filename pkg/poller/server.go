// Package poller accepts TCP connections on netpoll's epoll loops, performs
// the WebSocket handshake, and feeds each connection's bytes through the
// codec into its session. No goroutine waits on a connection: netpoll reads
// when epoll says a socket is readable and runs the connection's task on a
// bounded worker pool; the task consumes what is buffered and returns.
//
// # The worker pool and blocking handlers
//
// Handler callbacks run on the worker pool (Options.Workers goroutines at
// most). Tasks of one connection run one at a time, in order. A handler
// that blocks holds its worker: if every worker is blocked, netpoll keeps
// reading sockets into memory but messages wait in the pool's backlog until
// a worker is free. Handlers should therefore hand slow work (a database
// call, an RPC) to their own goroutines or queues and return.
package poller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/internal/metric"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/session"
)

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	Path             string        // "/ws": the endpoint of the handler given to New
	Endpoints        []Endpoint    // further endpoints beside Path, with their own handlers
	HandshakeTimeout time.Duration // 10s: from accept to a complete request head
	MaxHeaderBytes   int           // 8192: larger request heads get 431
	MaxMessageSize   int64         // 1 MiB: larger messages close the session with 1009
	MaxConnections   int           // 0 (no limit): further handshakes get 503
	// MaxConnectionsPerIP bounds one client IP's connections (0: no
	// limit); further handshakes get 429. See admission.go.
	MaxConnectionsPerIP int
	// HandshakeRate paces upgrades, per second (0: no pacing), with
	// HandshakeBurst (1) at once after a quiet period; a handshake whose
	// slot is more than HandshakeQueue (0: none) away gets 503.
	HandshakeRate  float64
	HandshakeBurst int
	HandshakeQueue time.Duration
	// ShutdownSpread spreads Shutdown's session closes evenly over this
	// long (0: all at once).
	ShutdownSpread time.Duration
	Workers        int           // GOMAXPROCS*64: handler goroutines at most
	WorkerIdleTime time.Duration // 10s: idle workers exit after this
	TickInterval   time.Duration // derived from the timeouts (at most 1s)
	Origins        *OriginPolicy // same-origin and no-Origin clients allowed
	TrustedProxies *TrustedProxies
	Pages          map[string]Page // plain HTTP pages by path, such as "/"
	Compression    CompressionOptions
	Session        session.Options
	Logger         *zap.Logger
}

func (o *Options) setDefaults() {
	if o.Path == "" {
		o.Path = "/ws"
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 8192
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 1 << 20
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0) * 64
	}
	if o.WorkerIdleTime <= 0 {
		o.WorkerIdleTime = 10 * time.Second
	}
	if o.Origins == nil {
		o.Origins, _ = NewOriginPolicy(nil, true, true)
	}
	if o.TrustedProxies == nil {
		o.TrustedProxies = &TrustedProxies{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Session.Logger == nil {
		o.Session.Logger = o.Logger
	}
	if o.Compression.Enabled {
		if o.Compression.MinSize <= 0 {
			o.Compression.MinSize = 512
		}
		o.Session.Compressor = codec.NewCompressor(o.Compression.Level)
		o.Session.CompressMin = o.Compression.MinSize
	}
	if o.TickInterval <= 0 {
		o.TickInterval = session.TickFor(o.HandshakeTimeout, o.Session.PingInterval, o.Session.IdleTimeout,
			o.Session.WriteTimeout, o.Session.CloseTimeout)
	}
}

// Server is a WebSocket server on netpoll.
type Server struct {
	opts      Options
	endpoints []Endpoint // Path's first, then Options.Endpoints
	hub       *session.Hub
	pool      *workerPool
	log       *zap.Logger
	stats     Stats
	origins   atomic.Pointer[OriginPolicy]
	proxies   atomic.Pointer[TrustedProxies]
	upgrader  wsUpgrader
	inflater  *codec.Decompressor
	draining  atomic.Bool
	ready     atomic.Bool
	lastTick  atomic.Int64 // unix ns of the last tick, for watchdogs

	mu        sync.Mutex
	evl       netpoll.EventLoop
	ln        netpoll.Listener
	served    chan struct{} // closed when Serve returns
	stopTick  chan struct{}
	tickDone  chan struct{}
	startOnce sync.Once

	// Connections still in their handshake, oldest first: they all have the
	// same timeout, so the expired ones are always at the front.
	hsMu    sync.Mutex
	hsFirst *conn
	hsLast  *conn
	hsCount int

	admit *admission
}

// New returns a server that serves handler. It applies netpoll's process
// settings (see ConfigureProcess) if nobody did.
func New(opts Options, handler session.Handler) *Server {
	ConfigureProcess(ProcessOptions{})
	opts.setDefaults()
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		upgrader: defaultUpgrader,
		inflater: codec.NewDecompressor(),
		served:   make(chan struct{}),
		stopTick: make(chan struct{}),
		tickDone: make(chan struct{}),
	}
	s.stats.HandshakeLatency = metric.NewHistogram(metric.LatencyBounds)
	s.endpoints = append([]Endpoint{{Path: opts.Path, Handler: handler}}, opts.Endpoints...)
	if len(s.endpoints) > maxEndpoints {
		panic("poller: more than 256 endpoints")
	}
	if len(s.endpoints) > 1 {
		route := make(routeHandler, len(s.endpoints))
		for i, e := range s.endpoints {
			route[i] = e.Handler
		}
		handler = route
	}
	s.admit = newAdmission(&s.opts)
	s.hub = session.NewHub(opts.Session, handler)
	s.pool = newWorkerPool(opts.Workers, opts.WorkerIdleTime, s.reportPoolPanic)
	s.origins.Store(opts.Origins)
	s.proxies.Store(opts.TrustedProxies)
	return s
}

// Hub returns the server's sessions.
func (s *Server) Hub() *session.Hub { return s.hub }

// Stats returns the server's handshake counters.
func (s *Server) Stats() *Stats { return &s.stats }

// PoolStats returns how many workers are running handler tasks and how
// many tasks wait for a worker.
func (s *Server) PoolStats() (busy, queued int) { return s.pool.stats() }

// HandshakesInProgress returns the number of connections in their handshake.
func (s *Server) HandshakesInProgress() int {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	return s.hsCount
}

// Healthy reports whether the server's ticker, which drives every timeout,
// ran within the last three tick intervals: a watchdog should stop petting
// a process where it did not.
func (s *Server) Healthy() bool {
	last := s.lastTick.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 3*s.opts.TickInterval+time.Second
}

// Ready reports whether the server is accepting connections: it is serving
// and not draining.
func (s *Server) Ready() bool { return s.ready.Load() && !s.draining.Load() }

// SetOrigins replaces the origin policy; handshakes already answered are
// not affected. Safe to call at any time (configuration reload).
func (s *Server) SetOrigins(p *OriginPolicy) { s.origins.Store(p) }

// SetTrustedProxies replaces the trusted proxies, like SetOrigins.
func (s *Server) SetTrustedProxies(t *TrustedProxies) { s.proxies.Store(t) }

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("poller: server closed")

// Serve accepts connections on ln until Shutdown or Close. A Server serves
// one listener, once.
func (s *Server) Serve(ln net.Listener) error {
	npln, err := newListener(ln, &s.draining, &s.stats.Refused)
	if err != nil {
		return fmt.Errorf("poller: listener: %w", err)
	}
	evl, err := netpoll.NewEventLoop(
		func(ctx context.Context, _ netpoll.Connection) error {
			ctx.(*conn).onRequest()
			return nil // netpoll ignores it; connections close themselves
		},
		netpoll.WithOnPrepare(s.onPrepare),
	)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.evl != nil || s.draining.Load() {
		s.mu.Unlock()
		npln.file.Close()
		return ErrServerClosed
	}
	s.evl, s.ln = evl, npln
	s.mu.Unlock()
	defer close(s.served)
	s.startOnce.Do(func() { go s.tickLoop(); go s.runAdmission() })
	s.logAdmission()
	s.ready.Store(true)
	s.log.Info("listening", zap.Stringer("addr", ln.Addr()), zap.String("path", s.paths()))
	err = evl.Serve(npln)
	s.ready.Store(false)
	if s.draining.Load() {
		return ErrServerClosed
	}
	return err // the listener failed
}

// Addr returns the address the server listens on, once Serve was called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// onPrepare runs on a poller goroutine for every accepted connection, before
// netpoll watches it. The *conn it returns is the context of every later
// callback.
func (s *Server) onPrepare(nc netpoll.Connection) context.Context {
	c := &conn{Context: context.Background(), srv: s, nc: nc, acceptedAt: time.Now().UnixNano()}
	shrinkOutputBarrier(nc) // barrier.go
	if fc, ok := nc.(netpoll.Conn); ok {
		c.fd = fc.Fd()
	}
	switch a := nc.RemoteAddr().(type) {
	case tcpAddr: // listener.go
		c.remote = netip.AddrPort(a)
	case *net.TCPAddr:
		c.remote = a.AddrPort()
		c.remote = netip.AddrPortFrom(c.remote.Addr().Unmap(), c.remote.Port())
	}
	s.stats.Accepted.Inc()
	nc.AddCloseCallback(c.onClosed)
	if s.draining.Load() {
		nc.Close()
		return c
	}
	s.listHandshake(c)
	return c
}

func (s *Server) listHandshake(c *conn) {
	s.hsMu.Lock()
	c.prev, c.listed = s.hsLast, true
	if s.hsLast != nil {
		s.hsLast.next = c
	} else {
		s.hsFirst = c
	}
	s.hsLast = c
	s.hsCount++
	s.hsMu.Unlock()
}

func (s *Server) unlistHandshake(c *conn) {
	s.hsMu.Lock()
	if c.listed {
		if c.prev != nil {
			c.prev.next = c.next
		} else {
			s.hsFirst = c.next
		}
		if c.next != nil {
			c.next.prev = c.prev
		} else {
			s.hsLast = c.prev
		}
		c.prev, c.next, c.listed = nil, nil, false
		s.hsCount--
	}
	s.hsMu.Unlock()
}

// expireHandshakes closes connections whose handshake deadline passed.
func (s *Server) expireHandshakes(now time.Time) {
	cutoff := now.Add(-s.opts.HandshakeTimeout).UnixNano()
	var expired []*conn
	s.hsMu.Lock()
	for c := s.hsFirst; c != nil && c.acceptedAt <= cutoff; c = c.next {
		expired = append(expired, c)
	}
	s.hsMu.Unlock()
	for _, c := range expired {
		c.expire()
	}
}

// tickLoop is the server's only timer: it drives the sessions' heartbeat,
// the handshake deadline and the worker pool's idle trimming.
func (s *Server) tickLoop() {
	defer close(s.tickDone)
	s.lastTick.Store(time.Now().UnixNano())
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopTick:
			return
		case now := <-t.C:
			s.lastTick.Store(now.UnixNano())
			s.hub.Tick(now)
			s.expireHandshakes(now)
			s.pool.trim(now)
		}
	}
}

// Shutdown stops the server gracefully: it stops accepting connections,
// closes those still in their handshake, closes every session (spread over
// Options.ShutdownSpread; with close 1001 "going away", or the handler's
// OnShutdown, see session.ShutdownHandler), and waits until every session has closed (the client
// answered, or the close timeout passed) or ctx ends. Then it closes what is
// left and releases the listener. It returns nil when every session closed
// gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.draining.CompareAndSwap(false, true) {
		return ErrServerClosed
	}
	s.stopAccepting()
	s.closeHandshakes()
	s.hub.CloseAllSpread(ctx, s.opts.ShutdownSpread, nil)
	err := s.hub.Wait(ctx)
	if err != nil {
		s.log.Warn("shutdown timeout: closing remaining sessions", zap.Int("sessions", s.hub.Count()))
	}
	s.finish()
	return err
}

// Close closes every connection at once, without closing handshakes.
func (s *Server) Close() error {
	if !s.draining.CompareAndSwap(false, true) {
		return ErrServerClosed
	}
	s.stopAccepting()
	s.finish()
	return nil
}

// stopAccepting makes the listener refuse new connections: they are
// accepted and closed at once, so clients fail fast and retry elsewhere,
// while established connections are untouched. (Closing the listening
// socket itself is left to netpoll at the end of the shutdown.)
func (s *Server) stopAccepting() {
	s.ready.Store(false)
	s.draining.Store(true)
}

func (s *Server) closeHandshakes() {
	var all []*conn
	s.hsMu.Lock()
	for c := s.hsFirst; c != nil; c = c.next {
		all = append(all, c)
	}
	s.hsMu.Unlock()
	for _, c := range all {
		c.nc.Close()
	}
}

// finish closes every remaining connection, the listener, the ticker and
// the worker pool.
func (s *Server) finish() {
	s.closeHandshakes()
	s.hub.CloseTransports()
	s.mu.Lock()
	evl := s.evl
	s.mu.Unlock()
	if evl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		evl.Shutdown(ctx) // closes the listener and anything netpoll still holds
		cancel()
		<-s.served
	}
	s.startOnce.Do(func() { close(s.tickDone); close(s.admit.done) }) // never started: nothing to wait for
	close(s.stopTick)
	<-s.tickDone
	s.admit.close()
	<-s.admit.done
	// Wait for close callbacks already queued (OnClose of the last sessions).
	for deadline := time.Now().Add(time.Second); s.hub.Count() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	s.pool.stop()
}

func (s *Server) reportPanic(v any, c *conn) {
	s.stats.Panics.Inc()
	fields := []zap.Field{zap.Any("panic", v), zap.ByteString("stack", debug.Stack()), zap.Stringer("remote", c.remote)}
	if c.sess != nil {
		fields = append(fields, zap.Stringer("session", c.sess.ID()))
	}
	s.log.Error("handler panic; closing the connection with 1011", fields...)
}

func (s *Server) reportPoolPanic(v any) {
	s.stats.Panics.Inc()
	s.log.Error("panic in worker task", zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
}
