package channels

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/proxy"
	"github.com/xh-control/gateway/pkg/session"
)

// Proxies are the backends the node consults (reference section 9, "When
// proxies are consulted"). A nil proxy is not consulted.
type Proxies struct {
	// Connect authenticates connects without a token (all connects when
	// ConnectAlways).
	Connect       *proxy.Proxy
	ConnectAlways bool
	// Refresh makes refresh server-side: connect results say expires:false,
	// the ticker calls the backend at expiry, refresh commands close 3501.
	Refresh *proxy.Proxy
	// Subscribe, Publish and SubRefresh are asked for channels whose
	// namespace sets subscribe_proxy_enabled, publish_proxy_enabled or
	// sub_refresh_proxy_enabled.
	Subscribe  *proxy.Proxy
	Publish    *proxy.Proxy
	SubRefresh *proxy.Proxy
	// RPC routes rpc methods: the first route whose Pattern matches the
	// method (path.Match syntax: "*" matches any method without '/') gets
	// the call, an empty Pattern matches every method; no match answers
	// 104 method not found.
	RPC []RPCRoute
}

// RPCRoute sends rpc methods matching Pattern to Proxy.
type RPCRoute struct {
	Pattern string
	Proxy   *proxy.Proxy
}

// any reports whether a proxy is configured at all: only then does a
// connection keep what proxies forward (emulated headers, meta).
func (p *Proxies) any() bool {
	return p.Connect != nil || p.Refresh != nil || p.Subscribe != nil || p.Publish != nil || p.SubRefresh != nil || len(p.RPC) > 0
}

// rpcProxy returns the proxy of method, or nil.
func (p *Proxies) rpcProxy(method string) *proxy.Proxy {
	for _, r := range p.RPC {
		if r.Pattern == "" {
			return r.Proxy
		}
		if ok, _ := path.Match(r.Pattern, method); ok {
			return r.Proxy
		}
	}
	return nil
}

// all lists the configured proxies, for metrics.
func (p *Proxies) all() []*proxy.Proxy {
	var out []*proxy.Proxy
	for _, x := range []*proxy.Proxy{p.Connect, p.Refresh, p.Subscribe, p.Publish, p.SubRefresh} {
		if x != nil {
			out = append(out, x)
		}
	}
	for _, r := range p.RPC {
		out = append(out, r.Proxy)
	}
	return out
}

// DefaultMaxProxyCalls is Config.MaxProxyCalls's default.
const DefaultMaxProxyCalls = 8

// errBusy is returned by goCall when the client has MaxProxyCalls calls in
// flight: the command is answered 111.
var errBusy = errors.New("channels: too many proxy calls in flight")

// goCall runs f off the frame worker (a slow backend must not hold one):
// one goroutine per call, bounded per client by Config.MaxProxyCalls and
// per node by the proxy's MaxConcurrency. f answers through its own batch,
// flushed when it returns; a returned Disconnect closes the connection.
// The caller's batch cur, when not nil, is written first: the replies
// before the command precede the call's reply on the wire.
func (c *client) goCall(cur *batch, f func(ctx context.Context, b *batch) *Disconnect) error {
	c.mu.Lock()
	if c.calls >= c.node.cfg.MaxProxyCalls {
		c.mu.Unlock()
		return errBusy
	}
	c.calls++
	c.mu.Unlock()
	if cur != nil {
		cur.flush()
	}
	c.node.calls.Add(1)
	go func() {
		defer c.node.calls.Done()
		b := batchPool.Get().(*batch)
		b.c = c
		defer func() {
			if v := recover(); v != nil {
				c.node.metrics.Panics.Inc()
				c.node.log.Error("proxy call panic; closing with 3004", zap.String("session", c.id), zap.Any("panic", v), zap.Stack("stack"))
				b.buf = b.buf[:0]
				c.disconnect(DisconnectServerError)
			}
			c.mu.Lock()
			c.calls--
			c.mu.Unlock()
			b.c = nil
			batchPool.Put(b)
		}()
		ctx := c.node.ctx
		d := f(ctx, b)
		if c.closed() {
			b.buf, b.pending = b.buf[:0], b.pending[:0]
			return
		}
		if d != nil {
			c.reject(b, d, "")
			return
		}
		b.flush()
	}()
	return nil
}

func (c *client) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateClosed
}

// headers is what a call may forward: the upgrade request's headers a
// proxy lists (kept by OnHeaders), X-Forwarded-For and X-Real-Ip carry
// the client's address as the real-IP logic sees it (session.ClientIP),
// and the connect command's emulated headers, kept only when the proxies
// list some (Config.EmulatedHeaders of any proxy).
func (c *client) headers() proxy.Headers {
	h := proxy.Headers{HTTP: http.Header{}}
	c.mu.Lock()
	for k, v := range c.upgrade {
		h.HTTP[k] = v
	}
	c.mu.Unlock()
	if ip := c.sess.ClientIP(); ip.IsValid() {
		s := ip.String()
		h.HTTP.Set("X-Forwarded-For", s)
		h.HTTP.Set("X-Real-Ip", s)
	}
	c.mu.Lock()
	h.Emulated = c.emulated
	c.mu.Unlock()
	return h
}

// common fills the fields every request carries.
func (c *client) common() proxy.Common {
	p := "json"
	if c.protobuf {
		p = "protobuf"
	}
	return proxy.Common{Client: c.id, Transport: "websocket", Protocol: p}
}

// meta returns the connection meta when px includes it.
func (c *client) metaFor(px *proxy.Proxy) []byte {
	if !px.Config().IncludeConnectionMeta {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta
}

// callError maps a failed call (no backend answer) to the client's error:
// 111 when overloaded, else 100 internal (temporary), reference 9.2.
func (c *client) callError(px *proxy.Proxy, err error) *Error {
	if errors.Is(err, proxy.ErrOverloaded) {
		return ErrorTooManyRequests
	}
	c.node.log.Warn("proxy call failed", zap.String("session", c.id), zap.String("proxy", px.Name()), zap.Error(err))
	return ErrorInternal
}

// backendError maps a backend's error answer. Custom codes 400-1999 pass
// through unchanged (temporary included), and so do the protocol's own
// 100-399 (a backend answering 104 method not found, as Centrifugo passes
// them); code 0 or past 1999 becomes 100 internal.
func backendError(e *proxy.Error) *Error {
	if e.Code < 100 || e.Code > 1999 {
		return ErrorInternal
	}
	return &Error{Code: e.Code, Message: e.Message, Temporary: e.Temporary}
}

// backendDisconnect maps a backend's disconnect answer: codes 4000-4999
// (custom) and 3000-3999 (the protocol's) close with the code and reason,
// cut to 32 bytes (reference 9.4); others close with 3004 internal.
func backendDisconnect(d *proxy.Disconnect) *Disconnect {
	if d.Code < 3000 || d.Code > 4999 {
		return DisconnectServerError
	}
	r := d.Reason
	if len(r) > 32 {
		r = r[:32]
	}
	return &Disconnect{Code: d.Code, Reason: r}
}

// payload returns the bytes of a raw/base64 field pair of a reply; an
// invalid base64 string is the backend's fault: 100 internal.
func payload(raw []byte, b64 string) ([]byte, error) {
	b, err := proxy.Payload(raw, b64)
	if err != nil {
		return nil, ErrorInternal
	}
	return bytes.Clone(b), nil
}

// protoOverride converts a backend's override.
func protoOverride(o *proxy.Override) *Override {
	if o == nil {
		return nil
	}
	v := func(b *proxy.BoolValue) *bool {
		if b == nil {
			return nil
		}
		x := b.Value
		return &x
	}
	return &Override{Presence: v(o.Presence), JoinLeave: v(o.JoinLeave), ForcePushJoinLeave: v(o.ForcePushJoinLeave),
		ForceRecovery: v(o.ForceRecovery), ForcePositioning: v(o.ForcePositioning)}
}

// KeepHeaders lists the upgrade-request headers the proxies forward
// (proxy.Config.HTTPHeaders), for poller.Endpoint.KeepHeaders; nil when no
// proxy forwards any. X-Forwarded-For and X-Real-Ip are not kept: they are
// the client IP as the real-IP logic found it (session.ClientIP).
func (n *Node) KeepHeaders() []string {
	seen := map[string]bool{"x-forwarded-for": true, "x-real-ip": true}
	var out []string
	for _, px := range n.proxies.all() {
		for _, h := range px.Config().HTTPHeaders {
			if l := strings.ToLower(h); !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// OnHeaders keeps a session's upgrade-request headers that KeepHeaders
// named (poller.Endpoint.OnHeaders).
func (n *Node) OnHeaders(s *session.Session, h http.Header) {
	if len(h) == 0 {
		return
	}
	if c := n.clients.get(s.ID()); c != nil {
		c.mu.Lock()
		c.upgrade = h
		c.mu.Unlock()
	}
}
