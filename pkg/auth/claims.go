package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Override changes a namespace option for one subscription (claim "override",
// each field {"value": bool}); nil = keep the namespace's value.
type Override struct {
	Presence           *bool
	JoinLeave          *bool
	ForcePushJoinLeave *bool
	ForceRecovery      *bool
	ForcePositioning   *bool
}

// SubOptions is one entry of a connection token's "subs" claim.
type SubOptions struct {
	Info     []byte    // raw JSON "info", or decoded "b64info" (wins)
	Data     []byte    // raw JSON "data", or decoded "b64data" (wins); sent in the subscribe push
	Override *Override // nil when absent
}

// ConnectToken is a verified connection token (reference 4.3).
type ConnectToken struct {
	UserID string // "sub" (or Config.UserIDClaim); "" = anonymous
	// ExpireAt is the connection expiry in Unix seconds: "expire_at" when
	// present (0 or negative: never expires), else "exp", else 0 (never).
	ExpireAt int64
	Info     []byte                // raw JSON "info", or decoded "b64info" (wins)
	Channels []string              // "channels": server-side subscriptions; "subs" takes precedence
	Subs     map[string]SubOptions // "subs"; nil when absent
	Meta     json.RawMessage       // "meta"; server-side only
}

// SubscribeToken is a verified subscription token (reference 4.4). The caller
// checks Channel against the subscribe command, UserID against the connection
// and, when non-empty, Client against the client id (mismatch: close 3500).
type SubscribeToken struct {
	UserID   string // "sub" (or Config.UserIDClaim)
	Channel  string // "channel", never empty
	Client   string // "client" (deprecated v3 claim)
	ExpireAt int64  // as ConnectToken.ExpireAt
	Info     []byte // info / b64info (wins)
	Data     []byte // data / b64data (wins)
	Override *Override
}

type boolValue struct {
	Value bool `json:"value"`
}

type overrideClaim struct {
	Presence           *boolValue `json:"presence"`
	JoinLeave          *boolValue `json:"join_leave"`
	ForcePushJoinLeave *boolValue `json:"force_push_join_leave"`
	ForceRecovery      *boolValue `json:"force_recovery"`
	ForcePositioning   *boolValue `json:"force_positioning"`
}

type subOptionsClaim struct {
	Info       json.RawMessage `json:"info"`
	Base64Info string          `json:"b64info"`
	Data       json.RawMessage `json:"data"`
	Base64Data string          `json:"b64data"`
	Override   *overrideClaim  `json:"override"`
}

// registered are the RFC 7519 claims Centrifugo checks; iat and jti are not
// used and not decoded.
type registered struct {
	Subject   string      `json:"sub"`
	Issuer    string      `json:"iss"`
	Audience  audience    `json:"aud"`
	ExpiresAt numericDate `json:"exp"`
	NotBefore numericDate `json:"nbf"`
}

// numericDate is RFC 7519's NumericDate: seconds since the epoch, fractions
// allowed; null is absent. A value, not a pointer, to save an allocation.
type numericDate struct {
	set bool
	t   time.Time
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = numericDate{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62/1e9 {
		return fmt.Errorf("NumericDate must be a number of seconds, got %.20q", b)
	}
	sec, frac := math.Modf(f)
	*d = numericDate{set: true, t: time.Unix(int64(sec), int64(frac*1e9))}
	return nil
}

// audience is "aud": one string or an array of strings (RFC 7519 section 4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// connectClaims are Centrifugo's ConnectTokenClaims.
type connectClaims struct {
	registered
	ExpireAt   *int64                     `json:"expire_at"`
	Info       json.RawMessage            `json:"info"`
	Base64Info string                     `json:"b64info"`
	Channels   []string                   `json:"channels"`
	Subs       map[string]subOptionsClaim `json:"subs"`
	Meta       json.RawMessage            `json:"meta"`
	Channel    string                     `json:"channel"` // must be empty
}

// subscribeClaims are Centrifugo's SubscribeTokenClaims.
type subscribeClaims struct {
	registered
	subOptionsClaim
	Channel  string `json:"channel"`
	Client   string `json:"client"`
	ExpireAt *int64 `json:"expire_at"`
}

func (o *overrideClaim) toOverride() *Override {
	if o == nil {
		return nil
	}
	return &Override{
		Presence:           o.Presence.ptr(),
		JoinLeave:          o.JoinLeave.ptr(),
		ForcePushJoinLeave: o.ForcePushJoinLeave.ptr(),
		ForceRecovery:      o.ForceRecovery.ptr(),
		ForcePositioning:   o.ForcePositioning.ptr(),
	}
}

func (b *boolValue) ptr() *bool {
	if b == nil {
		return nil
	}
	v := b.Value
	return &v
}

// rawOrBase64 returns the decoded b64 (std encoding) when set, else raw: the
// b64* claims win, as in Centrifugo.
func rawOrBase64(raw json.RawMessage, b64, claim string) ([]byte, error) {
	if b64 == "" {
		if len(raw) == 0 {
			return nil, nil
		}
		return raw, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", claim, err)
	}
	return b, nil
}

// expireAt applies Centrifugo's rule: "expire_at" when present (<= 0: never),
// else "exp", else 0.
func expireAt(claim *int64, rc *registered) int64 {
	if claim != nil {
		if *claim > 0 {
			return *claim
		}
		return 0
	}
	if rc.ExpiresAt.set {
		return rc.ExpiresAt.t.Unix()
	}
	return 0
}

// splitPath splits a user_id_claim such as "user.id" into its keys.
func splitPath(claim string) []string { return strings.Split(claim, ".") }

// lookupUserID finds path in the JSON payload and turns the value into a string
// as gjson's Result.String does for Centrifugo: strings unquoted, numbers and
// booleans as written, null or missing as "", objects and arrays as raw JSON.
func lookupUserID(payload []byte, path []string) (string, error) {
	raw := json.RawMessage(payload)
	for _, key := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", nil // not an object on the way: missing
		}
		var ok bool
		if raw, ok = obj[key]; !ok {
			return "", nil
		}
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return "", nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	default:
		return string(raw), nil
	}
}
