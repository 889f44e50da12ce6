package proxy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Encoding of payloads in requests: "json" embeds them as raw JSON in data
// fields, "binary" (Config.BinaryEncoding) sends base64 in b64data fields.
const (
	EncodingJSON   = "json"
	EncodingBinary = "binary"
)

// Common holds the fields every request carries (proxy.proto).
type Common struct {
	Client    string `json:"client"`             // the connection's client ID
	Transport string `json:"transport"`          // "websocket"
	Protocol  string `json:"protocol"`           // "json" or "protobuf"
	Encoding  string `json:"encoding,omitempty"` // set by the Proxy
}

// ConnectRequest is the connect event: a client connected without a token
// (or always, where configured).
type ConnectRequest struct {
	Common
	Name     string          `json:"name,omitempty"`
	Version  string          `json:"version,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	B64Data  string          `json:"b64data,omitempty"`
	Channels []string        `json:"channels,omitempty"`
}

// RefreshRequest is the refresh event: the connection is about to expire.
type RefreshRequest struct {
	Common
	User string          `json:"user"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

// SubscribeRequest is the subscribe event.
type SubscribeRequest struct {
	Common
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Token   string          `json:"token,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	B64Data string          `json:"b64data,omitempty"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

// PublishRequest is the publish event: the backend may refuse the
// publication or replace its data.
type PublishRequest struct {
	Common
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data,omitempty"`
	B64Data string          `json:"b64data,omitempty"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

// SubRefreshRequest is the sub_refresh event.
type SubRefreshRequest struct {
	Common
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

// RPCRequest is the rpc event.
type RPCRequest struct {
	Common
	User    string          `json:"user"`
	Method  string          `json:"method,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	B64Data string          `json:"b64data,omitempty"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

// Error is a backend's error answer. Codes in [400, 1999] reach the client
// unchanged; others are the protocol's own.
type Error struct {
	Code      uint32 `json:"code"`
	Message   string `json:"message"`
	Temporary bool   `json:"temporary,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("backend error %d: %s", e.Code, e.Message) }

// Disconnect is a backend's disconnect answer: codes 4000-4499 make the
// client reconnect, 4500-4999 do not; reason at most 32 bytes.
type Disconnect struct {
	Code   uint32 `json:"code"`
	Reason string `json:"reason"`
}

func (d *Disconnect) Error() string {
	return fmt.Sprintf("backend disconnect %d: %s", d.Code, d.Reason)
}

// BoolValue is the override field shape {"value": bool}.
type BoolValue struct {
	Value bool `json:"value"`
}

// Override replaces namespace options for one subscription.
type Override struct {
	Presence           *BoolValue `json:"presence,omitempty"`
	JoinLeave          *BoolValue `json:"join_leave,omitempty"`
	ForcePushJoinLeave *BoolValue `json:"force_push_join_leave,omitempty"`
	ForcePositioning   *BoolValue `json:"force_positioning,omitempty"`
	ForceRecovery      *BoolValue `json:"force_recovery,omitempty"`
}

// SubscribeOptions are per-channel options of a connect result's subs.
type SubscribeOptions struct {
	Info     json.RawMessage `json:"info,omitempty"`
	B64Info  string          `json:"b64info,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	B64Data  string          `json:"b64data,omitempty"`
	Override *Override       `json:"override,omitempty"`
}

// ConnectResult is a successful connect answer.
type ConnectResult struct {
	User     string                      `json:"user"`
	ExpireAt int64                       `json:"expire_at,omitempty"` // Unix s; 0: never
	Info     json.RawMessage             `json:"info,omitempty"`
	B64Info  string                      `json:"b64info,omitempty"`
	Data     json.RawMessage             `json:"data,omitempty"`
	B64Data  string                      `json:"b64data,omitempty"`
	Channels []string                    `json:"channels,omitempty"`
	Subs     map[string]SubscribeOptions `json:"subs,omitempty"`
	Meta     json.RawMessage             `json:"meta,omitempty"`
}

// RefreshResult is a refresh or sub_refresh answer.
type RefreshResult struct {
	Expired  bool            `json:"expired,omitempty"` // close with 3005 (sub: unsubscribe)
	ExpireAt int64           `json:"expire_at,omitempty"`
	Info     json.RawMessage `json:"info,omitempty"`
	B64Info  string          `json:"b64info,omitempty"`
	Meta     json.RawMessage `json:"meta,omitempty"`
}

// SubscribeResult is a successful subscribe answer; {} allows with the
// namespace's defaults.
type SubscribeResult struct {
	Info     json.RawMessage `json:"info,omitempty"`
	B64Info  string          `json:"b64info,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	B64Data  string          `json:"b64data,omitempty"`
	Override *Override       `json:"override,omitempty"`
	ExpireAt int64           `json:"expire_at,omitempty"`
}

// PublishResult is a successful publish answer; Data or B64Data, when
// set, replace the client's data.
type PublishResult struct {
	Data           json.RawMessage   `json:"data,omitempty"`
	B64Data        string            `json:"b64data,omitempty"`
	SkipHistory    bool              `json:"skip_history,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
}

// RPCResult is a successful rpc answer.
type RPCResult struct {
	Data    json.RawMessage `json:"data,omitempty"`
	B64Data string          `json:"b64data,omitempty"`
}

// Reply is a backend's answer: exactly one of Disconnect, Error and Result
// is acted on, checked in that order (as Centrifugo does). A reply with
// none of them is a Result of the zero value for subscribe (allowed) and
// "no credentials" for connect.
type Reply[T any] struct {
	Result     *T          `json:"result,omitempty"`
	Error      *Error      `json:"error,omitempty"`
	Disconnect *Disconnect `json:"disconnect,omitempty"`
}

// Payload returns the bytes of a raw-JSON/base64 field pair: b64 wins when
// set (Centrifugo's rule), an invalid base64 string is an error.
func Payload(raw json.RawMessage, b64 string) ([]byte, error) {
	if b64 != "" {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("proxy: b64 field: %w", err)
		}
		return b, nil
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return raw, nil
}
