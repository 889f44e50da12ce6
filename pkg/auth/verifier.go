// Package auth verifies Centrifugo connection and subscription JWTs (protocol
// reference section 4; Centrifugo v6.9.1 internal/jwtverify/token_verifier_jwt.go).
//
// Keys: an HMAC secret (HS256/384/512), an RSA public key (RS256/384/512), an
// ECDSA public key (ES256/384/512), or a JWKS endpoint (RS*, ES*, EdDSA; keys
// chosen by the token's "kid"). A key only verifies its own algorithm family,
// so alg confusion (an HS256 token "signed" with the RSA public key) and "none"
// fail. Tokens are never logged.
package auth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// Errors of VerifyConnectToken and VerifySubscribeToken; returned errors wrap
// exactly one of them (test with errors.Is).
var (
	// ErrTokenExpired: the exp or nbf check failed. Protocol: reply error 109
	// (token expired), on connect and subscribe; close 3005 on refresh.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrInvalidToken: malformed token, bad signature, algorithm not allowed for
	// the configured key, no key, audience/issuer mismatch, bad claim types,
	// "channel" in a connection token or missing in a subscription token.
	// Protocol: close 3500 on connect/refresh, reply error 103 on subscribe.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrKeysUnavailable is wrapped together with ErrInvalidToken when the
	// JWKS endpoint could not be fetched (a caller may answer 100 "internal",
	// temporary, instead of a terminal 3500).
	ErrKeysUnavailable = errors.New("auth: JWKS keys unavailable")
)

// Config configures a Verifier. YAML names follow the gateway's config; the
// Centrifugo equivalents are client.token.hmac_secret_key, rsa_public_key,
// ecdsa_public_key, jwks_public_endpoint, audience, issuer, user_id_claim.
type Config struct {
	HMACSecret        string        `yaml:"hmac_secret"`      // HS256/384/512
	RSAPublicKeyPEM   string        `yaml:"rsa_public_key"`   // RS256/384/512; PKIX, PKCS#1 or certificate PEM
	ECDSAPublicKeyPEM string        `yaml:"ecdsa_public_key"` // ES256/384/512 (by the key's curve); PKIX or certificate PEM
	JWKSURL           string        `yaml:"jwks_url"`         // as Centrifugo: when set, the only source of keys
	JWKSCacheTTL      time.Duration `yaml:"jwks_cache_ttl"`   // 0: DefaultJWKSCacheTTL
	Audience          string        `yaml:"audience"`         // checked only when set
	Issuer            string        `yaml:"issuer"`           // checked only when set
	UserIDClaim       string        `yaml:"user_id_claim"`    // "": "sub"; dotted path into nested objects
}

// DefaultJWKSCacheTTL is how long fetched JWKS keys are used (Centrifugo: 1h).
const DefaultJWKSCacheTTL = time.Hour

// Verifier verifies tokens. It is safe for concurrent use.
type Verifier struct {
	log      *zap.Logger
	hmac     any // []byte, boxed once: returning it costs no allocation
	rsa      *rsa.PublicKey
	ecdsa    *ecdsa.PublicKey
	jwks     *jwks
	audience string
	issuer   string
	userPath []string // nil: "sub"
}

// NewVerifier checks cfg and returns a Verifier. It fails on unparsable keys or
// a bad JWKS URL; it does not fetch the JWKS (that happens on first use). A
// Verifier without any key rejects every token with ErrInvalidToken. log may be
// nil.
func NewVerifier(cfg Config, log *zap.Logger) (*Verifier, error) {
	if log == nil {
		log = zap.NewNop()
	}
	v := &Verifier{
		log:      log,
		audience: cfg.Audience,
		issuer:   cfg.Issuer,
	}
	if cfg.UserIDClaim != "" && cfg.UserIDClaim != "sub" {
		v.userPath = splitPath(cfg.UserIDClaim)
	}
	if cfg.JWKSURL != "" {
		if cfg.HMACSecret != "" || cfg.RSAPublicKeyPEM != "" || cfg.ECDSAPublicKeyPEM != "" {
			log.Warn("auth: jwks_url is set: hmac_secret, rsa_public_key and ecdsa_public_key are ignored (as in Centrifugo)")
		}
		j, err := newJWKS(cfg.JWKSURL, cfg.JWKSCacheTTL, log)
		if err != nil {
			return nil, err
		}
		v.jwks = j
		return v, nil
	}
	if cfg.HMACSecret != "" {
		v.hmac = []byte(cfg.HMACSecret)
	}
	if cfg.RSAPublicKeyPEM != "" {
		k, err := parseRSAPublicKey(cfg.RSAPublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: rsa_public_key: %w", err)
		}
		v.rsa = k
	}
	if cfg.ECDSAPublicKeyPEM != "" {
		k, err := parseECDSAPublicKey(cfg.ECDSAPublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: ecdsa_public_key: %w", err)
		}
		v.ecdsa = k
	}
	return v, nil
}

// Close stops JWKS fetching: an in-flight fetch is cancelled and later
// verifications that need the JWKS fail with ErrInvalidToken. Static keys keep
// working. Close is idempotent.
func (v *Verifier) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

var (
	errNoKey       = errors.New("no key configured for the token's algorithm")
	errAlgDisabled = errors.New("algorithm not allowed")
)

// staticKey returns the configured key of the token's algorithm family. The
// family check is what stops alg confusion: an HS* token never gets the RSA
// key, and "none" gets nothing.
func (v *Verifier) staticKey(method jwt.SigningMethod) (any, error) {
	switch m := method.(type) {
	case *jwt.SigningMethodHMAC:
		if v.hmac == nil {
			return nil, errNoKey
		}
		return v.hmac, nil
	case *jwt.SigningMethodRSA: // RS*, not PS*: Centrifugo does not accept RSASSA-PSS
		if v.rsa == nil {
			return nil, errNoKey
		}
		return v.rsa, nil
	case *jwt.SigningMethodECDSA:
		if v.ecdsa == nil {
			return nil, errNoKey
		}
		if !curveMatches(m, v.ecdsa) {
			return nil, errAlgDisabled
		}
		return v.ecdsa, nil
	default:
		return nil, errAlgDisabled
	}
}

// curveMatches reports whether key's curve is the one of m (ES256: P-256,
// ES384: P-384, ES512: P-521), as Centrifugo's verifiers require.
func curveMatches(m *jwt.SigningMethodECDSA, key *ecdsa.PublicKey) bool {
	return key.Curve != nil && key.Curve.Params().BitSize == m.CurveBits
}
