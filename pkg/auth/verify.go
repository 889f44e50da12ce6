package auth

import (
	"context"
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
	if err := v.checkRegistered(&c.RegisteredClaims); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	if c.Channel != "" {
		return ConnectToken{}, v.fail("connect", errChannelInConnect)
	}
	if err := checkTime(&c.RegisteredClaims, time.Now()); err != nil {
		return ConnectToken{}, v.fail("connect", err)
	}
	ct := ConnectToken{
		ExpireAt: expireAt(c.ExpireAt, &c.RegisteredClaims),
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
	if ct.UserID, err = v.userID(&c.RegisteredClaims, payload); err != nil {
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
	if err := v.checkRegistered(&c.RegisteredClaims); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if err := checkTime(&c.RegisteredClaims, time.Now()); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if c.Channel == "" {
		return SubscribeToken{}, v.fail("subscribe", errNoChannel)
	}
	st := SubscribeToken{
		Channel:  c.Channel,
		Client:   c.Client,
		ExpireAt: expireAt(c.ExpireAt, &c.RegisteredClaims),
		Override: c.Override.toOverride(),
	}
	if st.Info, err = rawOrBase64(c.Info, c.Base64Info, "b64info"); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if st.Data, err = rawOrBase64(c.Data, c.Base64Data, "b64data"); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	if st.UserID, err = v.userID(&c.RegisteredClaims, payload); err != nil {
		return SubscribeToken{}, v.fail("subscribe", err)
	}
	return st, nil
}

// parse checks the token's format and signature and decodes its claims into
// claims. It returns the raw payload only when a custom user id claim needs it.
func (v *Verifier) parse(ctx context.Context, token string, claims jwt.Claims) ([]byte, error) {
	if token == "" {
		return nil, errors.New("empty token")
	}
	kf := v.keyFunc
	if v.jwks != nil {
		kf = func(t *jwt.Token) (any, error) { return v.jwksKey(ctx, t) }
	}
	if _, err := v.parser.ParseWithClaims(token, claims, kf); err != nil {
		return nil, err
	}
	if v.userPath == nil {
		return nil, nil
	}
	// The signature is valid, so the token has three segments.
	p := token[strings.IndexByte(token, '.')+1:]
	return v.parser.DecodeSegment(p[:strings.IndexByte(p, '.')])
}

func (v *Verifier) checkRegistered(rc *jwt.RegisteredClaims) error {
	if v.audience != "" && !hasAudience(rc.Audience, v.audience) {
		return errAudience
	}
	if v.issuer != "" && rc.Issuer != v.issuer {
		return errIssuer
	}
	return nil
}

func hasAudience(auds jwt.ClaimStrings, want string) bool {
	for _, a := range auds {
		if a == want {
			return true
		}
	}
	return false
}

// checkTime is cristalhq/jwt's IsValidExpiresAt and IsValidNotBefore, as
// Centrifugo uses them: valid when exp is after now and nbf before now, no leeway.
func checkTime(rc *jwt.RegisteredClaims, now time.Time) error {
	if rc.ExpiresAt != nil && !rc.ExpiresAt.After(now) {
		return ErrTokenExpired
	}
	if rc.NotBefore != nil && !rc.NotBefore.Before(now) {
		return ErrTokenExpired
	}
	return nil
}

func (v *Verifier) userID(rc *jwt.RegisteredClaims, payload []byte) (string, error) {
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
	v.log.Debug("auth: invalid token", zap.String("token", kind), zap.String("reason", err.Error()))
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}
