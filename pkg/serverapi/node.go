// Package serverapi serves the server HTTP API compatible with Centrifugo's
// (POST /api/<method> with a JSON body; key in X-API-Key or
// "Authorization: apikey <key>"), so that Centrifugo's API libraries and
// users' backends work unmodified. See
// ../../../shared/reference/centrifugo-protocol.md section 8.
package serverapi

import (
	"context"
	"time"

	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/broker"
)

// Node is what the API acts on: the channel protocol's node
// (*channels.Node implements it). Methods return *channels.Error for the
// protocol's error codes (102 unknown channel, 107 bad request, 108 not
// available, 112 unrecoverable position, ...), read through their
// ErrorCode method, wrapped or not; codes the API does not answer with, and
// any other error, are answered as 100 internal. The handler checks only
// what needs no channel options (a channel is given, base64 decodes); the
// Node checks the rest in Centrifugo's order (102 for an unknown namespace
// before 107 for empty data; 108 where presence or history is off).
type Node interface {
	Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (broker.StreamPosition, error)
	// Subscribe subscribes the user's connections (or one client, or one
	// session) to channel on whichever node holds them.
	Subscribe(ctx context.Context, req SubscribeRequest) error
	Unsubscribe(ctx context.Context, req UnsubscribeRequest) error
	Disconnect(ctx context.Context, req DisconnectRequest) error
	Refresh(ctx context.Context, req RefreshRequest) error
	Presence(ctx context.Context, channel string) (map[string]*broker.ClientInfo, error)
	PresenceStats(ctx context.Context, channel string) (broker.PresenceStats, error)
	History(ctx context.Context, channel string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error)
	HistoryRemove(ctx context.Context, channel string) error
	// Channels returns the active channels (at least one subscriber on some
	// node) matching pattern (a gobwas/glob; "" matches all), with their
	// subscriber counts.
	Channels(ctx context.Context, pattern string) (map[string]int, error)
	// Info describes every live node.
	Info(ctx context.Context) ([]NodeInfo, error)
}

// PublishOptions are the optional fields of the publish and broadcast
// methods.
type PublishOptions struct {
	SkipHistory    bool
	Tags           map[string]string
	IdempotencyKey string
}

// StreamPosition is a recovery position (offset, epoch).
type StreamPosition = broker.StreamPosition

// Override is the subscribe override object: each field, when not nil,
// replaces the namespace option (JSON {"value": bool}). The same type as a
// token's override, so the node applies both alike.
type Override = auth.Override

// SubscribeRequest is the subscribe method's request.
type SubscribeRequest struct {
	User, Channel, Client, Session string
	Info, Data                     []byte
	RecoverSince                   *StreamPosition
	Override                       *Override
	ExpireAt                       int64 // Unix seconds; 0: no expiry
}

// UnsubscribeRequest is the unsubscribe method's request.
type UnsubscribeRequest struct {
	User, Channel, Client, Session string
}

// DisconnectRequest is the disconnect method's request. Code 0 means 3503
// "force disconnect".
type DisconnectRequest struct {
	User, Client, Session string
	Whitelist             []string // client IDs kept
	Code                  uint32
	Reason                string
}

// RefreshRequest is the refresh method's request.
type RefreshRequest struct {
	User, Client, Session string
	Expired               bool
	ExpireAt              int64 // Unix seconds
	Info                  []byte
}

// NodeInfo is one node in the info method's result.
type NodeInfo struct {
	UID         string
	Name        string
	Version     string
	NumClients  int
	NumUsers    int
	NumChannels int
	NumSubs     int
	Uptime      time.Duration
}
