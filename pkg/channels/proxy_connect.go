package channels

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/proxy"
)

// maxHeld bounds the commands a client may send while its connect is with
// the connect proxy (the SDKs send their subscribes in the connect's
// frame); past it the connection is closed with 3013.
const maxHeld = 128

// errHold is dispatch's answer for a command that must wait for the
// connect proxy: the caller keeps it, and the rest of the frame, in held.
var errHold = &Disconnect{Code: 0, Reason: "hold"}

// connectViaProxy asks the connect proxy who the client is (reference
// 9.3-9.4). The client's following commands are held until it answers.
func (c *client) connectViaProxy(id uint32, req *protocol.ConnectRequest, px *proxy.Proxy, b *batch) *Disconnect {
	n := c.node
	// req aliases the frame, which the worker reuses: copy what the call
	// and the connect result need.
	preq := &proxy.ConnectRequest{Common: c.common(), Name: strings.Clone(req.Name), Version: strings.Clone(req.Version)}
	preq.Data, preq.B64Data = px.EncodePayload(bytes.Clone(req.Data))
	keep := &protocol.ConnectRequest{Name: preq.Name}
	if len(req.Subs) > 0 {
		keep.Subs = make(map[string]*protocol.SubscribeRequest, len(req.Subs))
		for ch, s := range req.Subs {
			ch = strings.Clone(ch)
			preq.Channels = append(preq.Channels, ch) // the server-side channels the client recovers
			if s != nil {
				keep.Subs[ch] = &protocol.SubscribeRequest{Recover: s.Recover, Offset: s.Offset, Epoch: strings.Clone(s.Epoch)}
			}
		}
		slices.Sort(preq.Channels)
	}
	c.mu.Lock()
	c.holding = true
	c.emulated = n.keepEmulated(req.Headers)
	c.mu.Unlock()
	err := c.goCall(b, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.Connect(ctx, c.headers(), preq)
		var d *Disconnect
		switch {
		case err != nil:
			d = c.connectError(id, c.callError(px, err), b)
		case reply.Disconnect != nil:
			n.metrics.command("connect", "disconnect")
			d = backendDisconnect(reply.Disconnect)
		case reply.Error != nil:
			d = c.connectError(id, backendError(reply.Error), b)
		case reply.Result == nil && !n.cfg.AllowAnonymousConnectWithoutToken:
			n.metrics.command("connect", "no_credentials")
			d = DisconnectBadRequest
		default:
			d = c.connectResult(id, keep, reply.Result, b)
		}
		if d == nil && c.connected() {
			b.flush() // the connect reply precedes the held commands' replies
			return c.drainHeld(b)
		}
		c.mu.Lock()
		c.holding, c.held = false, nil
		c.mu.Unlock()
		return d
	})
	if err != nil {
		return c.connectError(id, ErrorTooManyRequests, b)
	}
	return nil
}

// connectResult accepts a connect proxy's result.
func (c *client) connectResult(id uint32, req *protocol.ConnectRequest, r *proxy.ConnectResult, b *batch) *Disconnect {
	if r == nil {
		r = &proxy.ConnectResult{}
	}
	info, err := payload(r.Info, r.B64Info)
	if err != nil {
		return c.connectError(id, ErrorInternal, b)
	}
	data, err := payload(r.Data, r.B64Data)
	if err != nil {
		return c.connectError(id, ErrorInternal, b)
	}
	tok := ConnectToken{UserID: r.User, ExpireAt: r.ExpireAt, Info: info, Channels: r.Channels, Meta: bytes.Clone(r.Meta)}
	if len(r.Subs) > 0 {
		tok.Subs = make(map[string]SubOptions, len(r.Subs))
		for ch, o := range r.Subs {
			si, err1 := payload(o.Info, o.B64Info)
			sd, err2 := payload(o.Data, o.B64Data)
			if err1 != nil || err2 != nil {
				return c.connectError(id, ErrorInternal, b)
			}
			tok.Subs[ch] = SubOptions{Info: si, Data: sd, Override: protoOverride(o.Override)}
		}
	}
	if tok.ExpireAt > 0 && tok.ExpireAt <= time.Now().Unix() {
		return c.connectError(id, ErrorExpired, b)
	}
	return c.connectAccepted(id, req, tok, data, b)
}

func (c *client) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateConnected
}

// drainHeld runs the commands held while the connect proxy answered, in
// order, then lets the frame workers run the client's commands again.
func (c *client) drainHeld(b *batch) *Disconnect {
	for {
		c.mu.Lock()
		held := c.held
		c.held = nil
		if len(held) == 0 {
			c.holding = false
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		for _, cmd := range held {
			if d := c.run(cmd, b); d != nil {
				c.mu.Lock()
				c.holding, c.held = false, nil
				c.mu.Unlock()
				return d
			}
		}
	}
}

// holdFrame keeps the commands of data from the skip-th on (0-based) until
// the connect proxy answers. data is copied: the worker reuses it.
func (c *client) holdFrame(data []byte, skip int, b *batch) {
	data = bytes.Clone(data)
	var dec protocol.CommandDecoder
	if c.protobuf {
		dec = protocol.NewProtobufCommandDecoder(data)
	} else {
		dec = protocol.NewJSONCommandDecoder(data)
	}
	var cmds []*protocol.Command
	bad := false
	for i := 0; ; i++ {
		cmd, err := dec.Decode()
		if cmd != nil && i >= skip {
			cmds = append(cmds, cmd)
		}
		if err != nil {
			bad = !errors.Is(err, io.EOF) || cmd == nil
			break
		}
	}
	c.mu.Lock()
	if !c.holding {
		// The connect finished meanwhile: run them here, in order.
		c.mu.Unlock()
		for _, cmd := range cmds {
			if d := c.run(cmd, b); d != nil {
				c.reject(b, d, "")
				return
			}
		}
		if bad {
			c.reject(b, DisconnectBadRequest, "malformed command")
		}
		return
	}
	if len(c.held)+len(cmds) > maxHeld {
		c.mu.Unlock()
		c.reject(b, DisconnectTooManyRequests, "too many commands before the connect proxy answered")
		return
	}
	c.held = append(c.held, cmds...)
	c.mu.Unlock()
	if bad {
		c.reject(b, DisconnectBadRequest, "malformed command")
	}
}

// keepEmulated keeps the connect's emulated headers that a proxy forwards
// (proxy.Config.EmulatedHeaders); nothing else is kept per connection.
func (n *Node) keepEmulated(h map[string]string) map[string]string {
	if len(h) == 0 || len(n.emulatedAllow) == 0 {
		return nil
	}
	var out map[string]string
	for k, v := range h {
		if n.emulatedAllow[strings.ToLower(k)] {
			if out == nil {
				out = make(map[string]string, len(n.emulatedAllow))
			}
			out[strings.Clone(k)] = strings.Clone(v)
		}
	}
	return out
}

// refreshViaProxy asks the refresh proxy to extend the connection (the
// ticker calls it at expiry). Reference 9.2/9.4: no answer extends the
// connection by 60 s; a missing result or expired closes with 3005;
// error and disconnect answers are ignored.
func (c *client) refreshViaProxy(px *proxy.Proxy) {
	n := c.node
	c.mu.Lock()
	req := &proxy.RefreshRequest{Common: c.common(), User: c.user}
	c.mu.Unlock()
	req.Meta = c.metaFor(px)
	err := c.goCall(nil, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.Refresh(ctx, c.headers(), req)
		now := time.Now().Unix()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.refreshing = false
		switch {
		case err != nil:
			c.expireAt = now + 60
		case reply.Result == nil || reply.Result.Expired:
			n.metrics.command("refresh", "expired")
			return DisconnectExpired
		default:
			r := reply.Result
			c.expireAt = r.ExpireAt
			if info, err := payload(r.Info, r.B64Info); err == nil && info != nil {
				c.info = info
			}
			if len(r.Meta) > 0 {
				c.meta = bytes.Clone(r.Meta)
			}
			n.metrics.command("refresh", "ok")
		}
		if c.state == stateConnected {
			c.recomputeDueLocked()
		}
		return nil
	})
	if err != nil {
		c.mu.Lock()
		c.refreshing = false
		c.recomputeDueLocked()
		c.mu.Unlock()
	}
}
