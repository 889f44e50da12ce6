package channels

import (
	"context"
	"errors"
	"time"

	"github.com/centrifugal/protocol"
)

// refresh handles the refresh command (reference 4.5): a new connection
// token extends the connection's expiry.
func (c *client) refresh(id uint32, req *protocol.RefreshRequest, b *batch) *Disconnect {
	n := c.node
	if n.proxies.Refresh != nil {
		// Server-side refresh: the connect result said expires:false.
		n.metrics.command("refresh", "bad_request")
		return DisconnectBadRequest
	}
	if req.Token == "" || n.tokens == nil {
		n.metrics.command("refresh", "bad_request")
		if req.Token == "" {
			return DisconnectBadRequest
		}
		return DisconnectInvalidToken
	}
	tok, err := n.tokens.VerifyConnectToken(context.Background(), req.Token)
	if err != nil {
		if errors.Is(err, ErrTokenExpired) {
			n.metrics.tokenFailure("refresh", "expired")
			n.metrics.command("refresh", "expired")
			return DisconnectExpired
		}
		n.metrics.tokenFailure("refresh", "invalid")
		n.metrics.command("refresh", "invalid_token")
		return DisconnectInvalidToken
	}
	c.mu.Lock()
	if tok.UserID != c.user {
		c.mu.Unlock()
		n.metrics.tokenFailure("refresh", "mismatch")
		return DisconnectInvalidToken
	}
	c.expireAt = tok.ExpireAt
	c.recomputeDueLocked()
	c.mu.Unlock()
	// Centrifuge fills expires and ttl only.
	res := &protocol.RefreshResult{}
	if tok.ExpireAt > 0 {
		now := time.Now().Unix()
		if tok.ExpireAt <= now {
			return DisconnectExpired
		}
		res.Expires, res.Ttl = true, uint32(tok.ExpireAt-now)
	}
	n.metrics.command("refresh", "ok")
	b.reply(&protocol.Reply{Id: id, Refresh: res})
	return nil
}

// subRefresh handles sub_refresh (reference 4.6).
func (c *client) subRefresh(id uint32, req *protocol.SubRefreshRequest, b *batch) *Disconnect {
	n := c.node
	if req.Channel == "" {
		n.metrics.command("sub_refresh", "bad_request")
		return DisconnectBadRequest
	}
	c.mu.Lock()
	sub, user := c.subs.get(req.Channel), c.user
	c.mu.Unlock()
	fail := func(e *Error) *Disconnect {
		n.metrics.command("sub_refresh", codeLabel(e.Code))
		b.replyError(id, e)
		return nil
	}
	if sub == nil {
		return fail(ErrorPermissionDenied)
	}
	if req.Token == "" {
		return fail(ErrorBadRequest)
	}
	if n.tokens == nil {
		return DisconnectInvalidToken
	}
	tok, err := n.tokens.VerifySubscribeToken(context.Background(), req.Token)
	if err != nil {
		if errors.Is(err, ErrTokenExpired) {
			n.metrics.tokenFailure("sub_refresh", "expired")
			return fail(ErrorTokenExpired)
		}
		n.metrics.tokenFailure("sub_refresh", "invalid")
		return DisconnectInvalidToken
	}
	if tok.Channel != req.Channel || tok.UserID != user || (tok.Client != "" && tok.Client != c.id) {
		n.metrics.tokenFailure("sub_refresh", "mismatch")
		return DisconnectInvalidToken
	}
	res := &protocol.SubRefreshResult{}
	if tok.ExpireAt > 0 {
		now := time.Now().Unix()
		if tok.ExpireAt <= now {
			return fail(ErrorExpired)
		}
		res.Expires, res.Ttl = true, uint32(tok.ExpireAt-now)
	}
	c.mu.Lock()
	sub.expireAt = tok.ExpireAt
	c.recomputeDueLocked()
	c.mu.Unlock()
	n.metrics.command("sub_refresh", "ok")
	b.reply(&protocol.Reply{Id: id, SubRefresh: res})
	return nil
}
