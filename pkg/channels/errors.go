// Package channels implements the Centrifugo client protocol v2 on top of
// the gateway's sessions: connect and tokens, subscriptions, publications,
// history and recovery, presence, and the server-side operations that the
// server API exposes. See ../../../shared/reference/centrifugo-protocol.md
// and github.com/centrifugal/protocol for the wire definitions.
package channels

import "fmt"

// Error is a protocol error reply (protocol Error: code 1, message 2,
// temporary 3). Codes 0-399 are the protocol's; applications use 400-1999.
type Error struct {
	Code      uint32
	Message   string
	Temporary bool
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// The protocol's error replies (centrifugal/centrifuge errors.go).
var (
	ErrorInternal              = &Error{Code: 100, Message: "internal server error", Temporary: true}
	ErrorUnauthorized          = &Error{Code: 101, Message: "unauthorized"}
	ErrorUnknownChannel        = &Error{Code: 102, Message: "unknown channel"}
	ErrorPermissionDenied      = &Error{Code: 103, Message: "permission denied"}
	ErrorMethodNotFound        = &Error{Code: 104, Message: "method not found"}
	ErrorAlreadySubscribed     = &Error{Code: 105, Message: "already subscribed"}
	ErrorLimitExceeded         = &Error{Code: 106, Message: "limit exceeded"}
	ErrorBadRequest            = &Error{Code: 107, Message: "bad request"}
	ErrorNotAvailable          = &Error{Code: 108, Message: "not available"}
	ErrorTokenExpired          = &Error{Code: 109, Message: "token expired"}
	ErrorExpired               = &Error{Code: 110, Message: "expired"}
	ErrorTooManyRequests       = &Error{Code: 111, Message: "too many requests", Temporary: true}
	ErrorUnrecoverablePosition = &Error{Code: 112, Message: "unrecoverable position"}
)

// Disconnect is a protocol disconnect: the WebSocket close code and a short
// plain-text reason (never a JSON object: the SDKs would read it as a
// protocol v1 reason). Codes 3000-3499 and 4000-4499 make the SDKs
// reconnect; 3500-3999 and 4500-4999 do not.
type Disconnect struct {
	Code   uint32
	Reason string
}

func (d *Disconnect) Error() string { return fmt.Sprintf("disconnect %d: %s", d.Code, d.Reason) }

// Reconnect reports whether the SDKs reconnect after this disconnect.
func (d *Disconnect) Reconnect() bool {
	return !(d.Code >= 3500 && d.Code < 4000 || d.Code >= 4500 && d.Code < 5000)
}

// The protocol's disconnects (centrifugal/centrifuge disconnect.go).
var (
	DisconnectConnectionClosed   = &Disconnect{Code: 3000, Reason: "connection closed"}
	DisconnectShutdown           = &Disconnect{Code: 3001, Reason: "shutdown"}
	DisconnectServerError        = &Disconnect{Code: 3004, Reason: "internal server error"}
	DisconnectExpired            = &Disconnect{Code: 3005, Reason: "connection expired"}
	DisconnectSubExpired         = &Disconnect{Code: 3006, Reason: "subscription expired"}
	DisconnectSlow               = &Disconnect{Code: 3008, Reason: "slow"}
	DisconnectWriteError         = &Disconnect{Code: 3009, Reason: "write error"}
	DisconnectInsufficientState  = &Disconnect{Code: 3010, Reason: "insufficient state"}
	DisconnectForceReconnect     = &Disconnect{Code: 3011, Reason: "force reconnect"}
	DisconnectNoPong             = &Disconnect{Code: 3012, Reason: "no pong"}
	DisconnectTooManyRequests    = &Disconnect{Code: 3013, Reason: "too many requests"}
	DisconnectInvalidToken       = &Disconnect{Code: 3500, Reason: "invalid token"}
	DisconnectBadRequest         = &Disconnect{Code: 3501, Reason: "bad request"}
	DisconnectStale              = &Disconnect{Code: 3502, Reason: "stale"}
	DisconnectForceNoReconnect   = &Disconnect{Code: 3503, Reason: "force disconnect"}
	DisconnectConnectionLimit    = &Disconnect{Code: 3504, Reason: "connection limit"}
	DisconnectChannelLimit       = &Disconnect{Code: 3505, Reason: "channel limit"}
	DisconnectInappropriateProto = &Disconnect{Code: 3506, Reason: "inappropriate protocol"}
	DisconnectPermissionDenied   = &Disconnect{Code: 3507, Reason: "permission denied"}
	DisconnectNotAvailable       = &Disconnect{Code: 3508, Reason: "not available"}
	DisconnectTooManyErrors      = &Disconnect{Code: 3509, Reason: "too many errors"}
)
