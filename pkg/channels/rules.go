package channels

import (
	"context"
	"encoding/json"
	"errors"
)

// ChannelOptions are a namespace's options, named after Centrifugo's
// (reference section 7).
type ChannelOptions struct {
	Presence           bool
	JoinLeave          bool
	ForcePushJoinLeave bool
	HistorySize        int
	HistoryTTL         int64 // nanoseconds (time.Duration)
	HistoryMetaTTL     int64 // nanoseconds; 0: the engine's default
	ForcePositioning   bool
	AllowPositioning   bool
	ForceRecovery      bool
	AllowRecovery      bool
	// ForceRecoveryMode is "stream" (or "") or "cache".
	ForceRecoveryMode string

	AllowSubscribeForClient    bool
	AllowSubscribeForAnonymous bool
	AllowPublishForClient      bool
	AllowPublishForSubscriber  bool
	AllowPublishForAnonymous   bool
	AllowPresenceForClient     bool
	AllowPresenceForSubscriber bool
	AllowPresenceForAnonymous  bool
	AllowHistoryForClient      bool
	AllowHistoryForSubscriber  bool
	AllowHistoryForAnonymous   bool
	AllowUserLimitedChannels   bool
}

// HistoryEnabled reports whether the channel keeps history: both size and
// TTL are positive.
func (o *ChannelOptions) HistoryEnabled() bool { return o.HistorySize > 0 && o.HistoryTTL > 0 }

// ChannelRules resolves channel names (package namespace implements the
// rules; cmd/gateway adapts it).
type ChannelRules interface {
	// Resolve returns the options of channel's namespace, or
	// ErrorUnknownChannel (102) / ErrorBadRequest (107).
	Resolve(channel string) (*ChannelOptions, error)
	// IsPrivate reports whether channel needs a subscription token ($).
	IsPrivate(channel string) bool
	// UserLimited reports whether channel is user-limited under opts
	// (name#user1,user2), and if so whether user is one of its users.
	UserLimited(channel, user string, opts *ChannelOptions) (limited, allowed bool)
	// ValidData checks a publication's data against the namespace's
	// publication_data_format.
	ValidData(opts *ChannelOptions, data []byte) bool
}

// Token errors a TokenVerifier returns; callers compare with errors.Is.
var (
	// ErrTokenExpired: the token's exp (or nbf) check failed: error 109.
	ErrTokenExpired = errors.New("channels: token expired")
	// ErrInvalidToken: bad signature, claims or algorithm: close 3500 on
	// connect, error 103 on subscribe.
	ErrInvalidToken = errors.New("channels: invalid token")
)

// TokenVerifier verifies JWTs (package auth implements it; cmd/gateway
// adapts it).
type TokenVerifier interface {
	VerifyConnectToken(ctx context.Context, token string) (ConnectToken, error)
	VerifySubscribeToken(ctx context.Context, token string) (SubscribeToken, error)
}

// ConnectToken is a verified connection token's claims (reference 4.3).
type ConnectToken struct {
	UserID   string
	ExpireAt int64 // Unix seconds; 0: the connection does not expire
	Info     []byte
	Channels []string
	Subs     map[string]SubOptions
	Meta     json.RawMessage
}

// SubOptions are a server-side subscription's options from the subs claim.
type SubOptions struct {
	Info, Data []byte
	Override   *Override
}

// Override replaces namespace options for one subscription; nil fields
// keep the namespace's value.
type Override struct {
	Presence           *bool
	JoinLeave          *bool
	ForcePushJoinLeave *bool
	ForceRecovery      *bool
	ForcePositioning   *bool
}

// SubscribeToken is a verified subscription token's claims (reference 4.4).
type SubscribeToken struct {
	UserID, Channel, Client string
	ExpireAt                int64
	Info, Data              []byte
	Override                *Override
}

// apply returns opts with o's fields applied.
func (o *Override) apply(opts *ChannelOptions) *ChannelOptions {
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
