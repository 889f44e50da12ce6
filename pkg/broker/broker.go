// Package broker defines the seams between the channel protocol and where
// channels live: publication fan-out between nodes, history streams with
// offsets and epochs, and presence. The in-memory engine in this package
// serves one node with nothing external; the NATS engine (package
// broker/natsbroker) serves a cluster. Both pass the shared conformance
// suite in package broker/brokertest.
//
// The shapes follow centrifugal/centrifuge's broker.go and presence.go,
// which define the semantics of Centrifugo's history and recovery
// (client protocol v2, StreamPosition, epoch).
package broker

import (
	"context"
	"errors"
	"time"
)

// Errors returned by engines. Callers compare with errors.Is.
var (
	// ErrUnavailable: the engine cannot reach its backing system (a NATS
	// outage). Nothing was stored or delivered; the protocol answers
	// error 108 "not available" (or 100 with temporary set).
	ErrUnavailable = errors.New("broker: not available")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("broker: closed")
)

// ClientInfo identifies a connection in presence, join/leave and client
// publications: protocol ClientInfo (user 1, client 2, conn_info 3,
// chan_info 4).
type ClientInfo struct {
	ClientID string // the session ID (16 hex digits)
	UserID   string // "" for anonymous
	ConnInfo []byte // raw bytes from the connection token's info/b64info
	ChanInfo []byte // raw bytes from the subscription token's info/b64info
}

// Publication is one message in a channel: protocol Publication.
type Publication struct {
	// Offset is the position in the channel's stream (first is 1), or 0
	// when the channel keeps no history.
	Offset uint64
	Data   []byte
	Info   *ClientInfo // set for publications made by clients
	Tags   map[string]string
	// Time is when the publication was accepted, in Unix milliseconds.
	Time int64
}

// StreamPosition is a position in a channel's history stream: the offset of
// the latest publication and the stream's epoch. The epoch changes whenever
// the stream is lost or recreated, so that a client holding an offset of an
// older stream is told that recovery is impossible.
type StreamPosition struct {
	Offset uint64
	Epoch  string
}

// PublishOptions configure one Publish.
type PublishOptions struct {
	// HistorySize and HistoryTTL bound the channel's stream: the newest
	// HistorySize publications younger than HistoryTTL are kept. History
	// is kept only when both are > 0 (Centrifugo's history_size and
	// history_ttl).
	HistorySize int
	HistoryTTL  time.Duration
	// HistoryMetaTTL is how long the stream's position and epoch outlive
	// its last publication; 0 takes the engine's default (720h).
	HistoryMetaTTL time.Duration
	// ClientInfo is the publishing client, if any.
	ClientInfo *ClientInfo
	Tags       map[string]string
	// IdempotencyKey, when not empty, makes a repeated Publish with the
	// same key within IdempotentResultTTL return the first result without
	// publishing again (server API publish idempotency_key).
	IdempotencyKey      string
	IdempotentResultTTL time.Duration
}

// HistoryOptions configure one History call (protocol HistoryRequest).
type HistoryOptions struct {
	// Since, when not nil, returns publications after Since.Offset (before
	// it when Reverse). The engine does not compare epochs: callers do.
	// An offset older than the oldest kept publication reads from the
	// oldest kept one (the caller detects the gap); Reverse with offset 0
	// returns none.
	Since *StreamPosition
	// Limit is the most publications returned: 0 returns only the stream
	// position, a negative value returns all that are kept.
	Limit int
	// Reverse returns the newest first.
	Reverse bool
	// MetaTTL as in PublishOptions.HistoryMetaTTL.
	MetaTTL time.Duration
}

// EventHandler receives what an engine delivers to this node. Calls for one
// channel come in publication order, never concurrently for that channel;
// they must not block (the handler queues frames and returns).
//
// A handler must not call the engine's Publish, PublishJoin, PublishLeave,
// PublishControl or Close from within a call: an engine may deliver while
// it holds the channel's publish lock (the memory engine does, to keep the
// order), so such a call can deadlock. Hand that work to another goroutine.
type EventHandler interface {
	// HandlePublication delivers a publication to this node's subscribers
	// of channel. sp is the stream position after it (zero without
	// history). pub is shared: do not modify it.
	HandlePublication(channel string, pub *Publication, sp StreamPosition)
	// HandleJoin and HandleLeave deliver join/leave events.
	HandleJoin(channel string, info *ClientInfo)
	HandleLeave(channel string, info *ClientInfo)
	// HandleControl delivers a control-plane message published with
	// PublishControl (server API calls aimed at clients on any node, node
	// heartbeats).
	HandleControl(data []byte)
}

// Broker moves publications between nodes and keeps history. All methods
// are safe for concurrent use.
type Broker interface {
	// Run starts delivering events to h. It is called once, before any
	// other method.
	Run(h EventHandler) error
	// Subscribe registers this node's interest in channel: called when the
	// channel's first local subscriber arrives. Unsubscribe is called
	// after its last one leaves. A node that has not subscribed receives
	// nothing for the channel.
	Subscribe(channel string) error
	Unsubscribe(channel string) error
	// Publish stores pub in history (when opts ask for it) and delivers it
	// to every subscribed node, this one included. Publications to one
	// channel get contiguous offsets, whichever node publishes them. It
	// sets Publication.Time and returns the publication's stream position
	// (zero without history). The engine may keep data (the memory engine
	// stores the slice itself in history): the caller must not modify it
	// afterwards.
	Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (StreamPosition, error)
	// PublishJoin and PublishLeave deliver join/leave events.
	PublishJoin(ctx context.Context, channel string, info *ClientInfo) error
	PublishLeave(ctx context.Context, channel string, info *ClientInfo) error
	// PublishControl delivers data to the node named nodeID, or to every
	// node (this one included) when nodeID is "".
	PublishControl(ctx context.Context, data []byte, nodeID string) error
	// History returns publications of channel and its current position.
	// A channel that never had history returns no publications and a
	// position with offset 0 and a fresh epoch, which stays the channel's
	// epoch from then on (until the stream meta expires).
	History(ctx context.Context, channel string, opts HistoryOptions) ([]*Publication, StreamPosition, error)
	// RemoveHistory drops the channel's publications; the position and
	// epoch are kept.
	RemoveHistory(ctx context.Context, channel string) error
	// Close stops delivering events and releases the engine's resources.
	Close(ctx context.Context) error
}

// PresenceStats counts a channel's presence: protocol PresenceStatsResult.
type PresenceStats struct {
	NumClients int
	NumUsers   int
}

// PresenceManager keeps who is subscribed to channels with presence on.
// Entries live for the manager's TTL unless refreshed by AddPresence again,
// so that entries of a node that died disappear by themselves; the node
// refreshes its own clients' entries from its shared ticker. (The memory
// engine, one node in one process, keeps entries until RemovePresence
// unless MemoryOptions.PresenceTTL is set.) Presence returns a new map,
// empty and not nil when the channel has no entries; NumUsers counts
// distinct UserIDs, all anonymous clients ("") as one user, as centrifuge
// does.
type PresenceManager interface {
	AddPresence(ctx context.Context, channel string, info *ClientInfo) error
	RemovePresence(ctx context.Context, channel, clientID, userID string) error
	// Presence returns the channel's entries by client ID.
	Presence(ctx context.Context, channel string) (map[string]*ClientInfo, error)
	PresenceStats(ctx context.Context, channel string) (PresenceStats, error)
}
