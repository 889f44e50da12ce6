package channels

import (
	"bytes"
	"context"
	"strings"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/proxy"
)

// rpc handles the rpc command: the method goes to the backend of the
// first Proxies.RPC route matching it; no route answers 104 method not
// found. Data larger than Config.MaxRPCSize is answered 107.
func (c *client) rpc(id uint32, req *protocol.RPCRequest, b *batch) *Disconnect {
	n := c.node
	if n.cfg.MaxRPCSize > 0 && len(req.Data) > n.cfg.MaxRPCSize {
		n.metrics.command("rpc", "bad_request")
		b.replyError(id, ErrorBadRequest)
		return nil
	}
	px := n.proxies.rpcProxy(req.Method)
	if px == nil {
		n.metrics.command("rpc", "method_not_found")
		b.replyError(id, ErrorMethodNotFound)
		return nil
	}
	c.mu.Lock()
	preq := &proxy.RPCRequest{Common: c.common(), User: c.user, Method: strings.Clone(req.Method)}
	c.mu.Unlock()
	preq.Data, preq.B64Data = px.EncodePayload(bytes.Clone(req.Data))
	preq.Meta = c.metaFor(px)
	err := c.goCall(b, func(ctx context.Context, b *batch) *Disconnect {
		reply, err := px.RPC(ctx, c.headers(), preq)
		switch {
		case err != nil:
			e := c.callError(px, err)
			n.metrics.command("rpc", codeLabel(e.Code))
			b.replyError(id, e)
		case reply.Disconnect != nil:
			n.metrics.command("rpc", "disconnect")
			return backendDisconnect(reply.Disconnect)
		case reply.Error != nil:
			e := backendError(reply.Error)
			n.metrics.command("rpc", codeLabel(e.Code))
			b.replyError(id, e)
		default:
			res := &protocol.RPCResult{}
			if reply.Result != nil {
				data, err := payload(reply.Result.Data, reply.Result.B64Data)
				if err != nil {
					b.replyError(id, ErrorInternal)
					return nil
				}
				res.Data = data
			}
			n.metrics.command("rpc", "ok")
			b.reply(&protocol.Reply{Id: id, Rpc: res})
		}
		return nil
	})
	if err != nil {
		n.metrics.command("rpc", "too_many_requests")
		b.replyError(id, ErrorTooManyRequests)
	}
	return nil
}
