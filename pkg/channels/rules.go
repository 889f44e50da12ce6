package channels

import (
	"context"
	"errors"

	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/namespace"
)

// ChannelOptions are a namespace's options (reference section 7).
type ChannelOptions = namespace.Options

// Token errors, as package auth returns them; compare with errors.Is.
var (
	// ErrTokenExpired: the token's exp (or nbf) check failed: error 109.
	ErrTokenExpired = auth.ErrTokenExpired
	// ErrInvalidToken: bad signature, claims or algorithm: close 3500 on
	// connect, error 103 on subscribe.
	ErrInvalidToken = auth.ErrInvalidToken
)

// TokenVerifier verifies JWTs; *auth.Verifier implements it.
type TokenVerifier interface {
	VerifyConnectToken(ctx context.Context, token string) (auth.ConnectToken, error)
	VerifySubscribeToken(ctx context.Context, token string) (auth.SubscribeToken, error)
}

type (
	// ConnectToken is a verified connection token's claims (reference 4.3).
	ConnectToken = auth.ConnectToken
	// SubscribeToken is a verified subscription token's claims (4.4).
	SubscribeToken = auth.SubscribeToken
	// SubOptions are a server-side subscription's options (subs claim).
	SubOptions = auth.SubOptions
	// Override replaces namespace options for one subscription.
	Override = auth.Override
)

// resolve returns the options of channel's namespace, or the protocol's
// 102 unknown channel / 107 bad request.
func (n *Node) resolve(channel string) (*ChannelOptions, error) {
	opts, _, err := n.rules.Resolve(channel)
	switch {
	case err == nil:
		return opts, nil
	case errors.Is(err, namespace.ErrUnknownChannel):
		return nil, ErrorUnknownChannel
	default:
		return nil, ErrorBadRequest
	}
}

// applyOverride returns opts with o's fields applied.
func applyOverride(o *Override, opts *ChannelOptions) *ChannelOptions {
	if o == nil {
		return opts
	}
	c := *opts
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Presence, o.Presence)
	set(&c.JoinLeave, o.JoinLeave)
	set(&c.ForcePushJoinLeave, o.ForcePushJoinLeave)
	set(&c.ForceRecovery, o.ForceRecovery)
	set(&c.ForcePositioning, o.ForcePositioning)
	return &c
}
