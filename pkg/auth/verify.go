package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

var (
	errChannelInConnect = errors.New(`connection token must not contain a "channel" claim`)
	errNoChannel        = errors.New(`subscription token needs a "channel" claim`)
	errAudience         = errors.New("audience mismatch")
	errIssuer           = errors.New("issuer mismatch")
)

// VerifyConnectToken verifies a connection token and returns its claims.
// Checks, in Centrifugo's order: format and signature, aud/iss (only when
// configured), no "channel" claim, then exp and nbf (ErrTokenExpired). Every
// other failure wraps ErrInvalidToken. ctx bounds a JWKS fetch this call may
// wait for. Namespaces of Channels/Subs are not checked here (the caller answers
// 102 for unknown ones).
func (v *Verifier) VerifyConnectToken(ctx context.Context, token string) (ConnectToken, error) {
	var c connectClaims
	payload, err := v.parse(ctx, token, &c)
	if err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	if err := v.checkRegistered(&c.registered); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	if c.Channel != "" {
		return ConnectToken{}, v.fail("connect", errChannelInConnect)
	}
	if err := checkTime(&c.registered, time.Now()); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	ct := ConnectToken{
		ExpireAt: expireAt(c.ExpireAt, &c.registered),
		Channels: c.Channels,
		Meta:     c.Meta,
	}
	if len(c.Meta) == 0 {
		ct.Meta = nil
	}
	if ct.Info, err = rawOrBase64(c.Info, c.Base64Info, "b64info"); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	if c.Subs != nil {
		ct.Subs = make(map[string]SubOptions, len(c.Subs))
		for ch, s := range c.Subs {
			var so SubOptions
			if so.Info, err = rawOrBase64(s.Info, s.Base64Info, "subs."+ch+".b64info"); err != nil {
				return ConnectToken{}, v.fail("connect", err)
			}
			if so.Data, err = rawOrBase64(s.Data, s.Base64Data, "subs."+ch+".b64data"); err != nil {
				return ConnectToken{}, v.fail("connect", err)
			}
			so.Override = s.Override.toOverride()
			ct.Subs[ch] = so
		}
	}
	if ct.UserID, err = v.userID(&c.registered, payload); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	return ct, nil
}

// VerifySubscribeToken verifies a subscription token and returns its claims.
// Checks, in Centrifugo's order: format and signature, aud/iss (only when
// configured), exp and nbf (ErrTokenExpired), then a non-empty "channel". Every
// other failure wraps ErrInvalidToken.
func (v *Verifier) VerifySubscribeToken(ctx context.Context, token string) (SubscribeToken, error) {
	var c subscribeClaims
	payload, err := v.parse(ctx, token, &c)
	if err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if err := v.checkRegistered(&c.registered); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if err := checkTime(&c.registered, time.Now()); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if c.Channel == "" {
		return SubscribeToken{}, v.fail("subscribe", errNoChannel)
	}
	st := SubscribeToken{
		Channel:  c.Channel,
		Client:   c.Client,
		ExpireAt: expireAt(c.ExpireAt, &c.registered),
		Override: c.Override.toOverride(),
	}
	if st.Info, err = rawOrBase64(c.Info, c.Base64Info, "b64info"); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if st.Data, err = rawOrBase64(c.Data, c.Base64Data, "b64data"); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if st.UserID, err = v.userID(&c.registered, payload); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	return st, nil
}

var (
	errEmpty     = errors.New("empty token")
	errSegments  = errors.New("token must have three dot-separated segments")
	errNoAlg     = errors.New(`header has no known "alg"`)
	errNotObject = errors.New("claims are not a JSON object")
)

// parse verifies the token's JWS compact form (RFC 7515 section 7.1) and
// decodes its claims into claims; it returns the decoded payload. The signature
// is checked before the payload is base64- or JSON-decoded, so a forged token
// costs one header decode and one signature check. golang-jwt supplies the
// signature algorithms; the framing is done here to avoid its per-token header
// map and string joins.
func (v *Verifier) parse(ctx context.Context, token string, claims any) ([]byte, error) {
	if token == "" {
		return nil, errEmpty
	}
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return nil, errSegments
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return nil, errSegments
	}
	j += i + 1
	if strings.IndexByte(token[j+1:], '.') >= 0 {
		return nil, errSegments
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(token[:i])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var hdr struct {
		Alg string          `json:"alg"`
		Kid json.RawMessage `json:"kid"` // only JWKS mode needs it to be a string
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	method := jwt.GetSigningMethod(hdr.Alg)
	if method == nil {
		return nil, errNoAlg
	}
	var key any
	if v.jwks != nil {
		var kid string
		if len(hdr.Kid) > 0 && hdr.Kid[0] == '"' {
			_ = json.Unmarshal(hdr.Kid, &kid)
		}
		key, err = v.jwksKey(ctx, method, kid)
	} else {
		key, err = v.staticKey(method)
	}
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[j+1:])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if err := method.Verify(token[:j], sig, key); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[i+1 : j])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	// RFC 7519 section 7.2 step 10: the claims are a JSON object; "null" would
	// otherwise decode as an empty claim set.
	if p := bytes.TrimLeft(payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return nil, errNotObject
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return payload, nil
}

func (v *Verifier) checkRegistered(rc *registered) error {
	if v.audience != "" && !hasAudience(rc.Audience, v.audience) {
		return errAudience
	}
	if v.issuer != "" && rc.Issuer != v.issuer {
		return errIssuer
	}
	return nil
}

func hasAudience(auds audience, want string) bool {
	for _, a := range auds {
		if a == want {
			return true
		}
	}
	return false
}

// checkTime is cristalhq/jwt's IsValidExpiresAt and IsValidNotBefore, as
// Centrifugo uses them: valid when exp is after now and nbf before now, no leeway.
func checkTime(rc *registered, now time.Time) error {
	if rc.ExpiresAt.set && !rc.ExpiresAt.t.After(now) {
		return ErrTokenExpired
	}
	if rc.NotBefore.set && !rc.NotBefore.t.Before(now) {
		return ErrTokenExpired
	}
	return nil
}

func (v *Verifier) userID(rc *registered, payload []byte) (string, error) {
	if v.userPath == nil {
		return rc.Subject, nil
	}
	return lookupUserID(payload, v.userPath)
}

// fail logs the reason (never the token) and returns err wrapped so that it
// matches exactly one of ErrTokenExpired and ErrInvalidToken.
func (v *Verifier) fail(kind string, err error) error {
	if errors.Is(err, ErrTokenExpired) {
		v.log.Debug("auth: token expired", zap.String("token", kind))
		return ErrTokenExpired
	}
	if ce := v.log.Check(zap.DebugLevel, "auth: invalid token"); ce != nil {
		ce.Write(zap.String("token", kind), zap.String("reason", err.Error()))
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}
