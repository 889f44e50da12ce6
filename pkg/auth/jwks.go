package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

const (
	// jwksFetchTimeout bounds one JWKS request: verifications wait for it.
	jwksFetchTimeout = 3 * time.Second
	// jwksMinRefetch is the least time between two fetches caused by an
	// unknown kid or by a failed fetch, so that a flood of tokens with made-up
	// kids (or a down endpoint) costs the JWKS server one request per interval.
	jwksMinRefetch = 5 * time.Second
	// jwksMaxBody caps the JWKS response.
	jwksMaxBody = 1 << 20
)

var (
	errNoKid       = errors.New(`token has no "kid" header (needed with JWKS)`)
	errUnknownKid  = errors.New("kid not found in JWKS")
	errJWKSClosed  = errors.New("verifier closed")
	errAlgMismatch = errors.New("algorithm does not match the JWKS key")
)

// jwk is one usable key of the set.
type jwk struct {
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	alg string // JWK "alg", optional
}

// jwks fetches and caches a JSON Web Key Set. Fetches run in one goroutine at
// a time; every verification that needs the set waits for that fetch.
type jwks struct {
	url        string
	ttl        time.Duration
	minRefetch time.Duration
	client     *http.Client
	transport  *http.Transport
	log        *zap.Logger
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu          sync.Mutex
	keys        map[string]jwk // by kid
	fetchedAt   time.Time      // last successful fetch
	lastAttempt time.Time      // start of the last fetch
	lastErr     error          // of the last fetch; nil after a success
	inflight    chan struct{}  // closed when the running fetch ends; nil when none
	closed      bool
}

func newJWKS(rawURL string, ttl time.Duration, log *zap.Logger) (*jwks, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks_url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("auth: jwks_url: want an http(s) URL with a host, got scheme %q host %q", u.Scheme, u.Host)
	}
	if ttl < 0 {
		return nil, fmt.Errorf("auth: jwks_cache_ttl: must be >= 0, got %s", ttl)
	}
	if ttl == 0 {
		ttl = DefaultJWKSCacheTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Our own transport, so that Close can drop its idle connections.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &jwks{
		url:        rawURL,
		ttl:        ttl,
		minRefetch: jwksMinRefetch,
		client:     &http.Client{Timeout: jwksFetchTimeout, Transport: tr},
		transport:  tr,
		log:        log,
		ctx:        ctx,
		cancel:     cancel,
	}, nil
}

func (j *jwks) close() {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.cancel()
	j.wg.Wait()
	j.transport.CloseIdleConnections()
}

// jwksKey is the jwt.Keyfunc for JWKS mode: the key named by the token's kid,
// if its type (and "alg", when the JWK has one) fits the token's algorithm.
func (v *Verifier) jwksKey(ctx context.Context, method jwt.SigningMethod, kid string) (any, error) {
	if kid == "" {
		return nil, errNoKid
	}
	k, err := v.jwks.get(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k.alg != "" && k.alg != method.Alg() && !(k.alg == "Ed25519" && method.Alg() == "EdDSA") {
		return nil, errAlgMismatch
	}
	switch m := method.(type) {
	case *jwt.SigningMethodRSA:
		if _, ok := k.key.(*rsa.PublicKey); ok {
			return k.key, nil
		}
	case *jwt.SigningMethodECDSA:
		if ek, ok := k.key.(*ecdsa.PublicKey); ok && curveMatches(m, ek) {
			return k.key, nil
		}
	case *jwt.SigningMethodEd25519:
		if _, ok := k.key.(ed25519.PublicKey); ok {
			return k.key, nil
		}
	}
	return nil, errAlgMismatch
}

// get returns the key of kid. It fetches the set when the cache is empty or
// older than ttl, or when kid is unknown (at most once per minRefetch), and
// waits for a running fetch instead of starting another. A hit in the last
// tenth of the ttl starts a fetch without waiting for it.
func (j *jwks) get(ctx context.Context, kid string) (jwk, error) {
	j.mu.Lock()
	waited := false
	for {
		if j.closed {
			j.mu.Unlock()
			return jwk{}, errJWKSClosed
		}
		now := time.Now()
		fresh := !j.fetchedAt.IsZero() && now.Sub(j.fetchedAt) < j.ttl
		if fresh {
			if k, ok := j.keys[kid]; ok {
				// Refresh ahead: in the last tenth of the TTL a hit starts a
				// background fetch, so that a busy verifier's cache does not
				// expire under it and make verifications wait.
				if j.inflight == nil && now.Sub(j.fetchedAt) > j.ttl-j.ttl/10 && now.Sub(j.lastAttempt) >= j.minRefetch {
					j.startFetch(now)
				}
				j.mu.Unlock()
				return k, nil
			}
		}
		if j.inflight == nil {
			recent := !j.lastAttempt.IsZero() && now.Sub(j.lastAttempt) < j.minRefetch
			switch {
			case waited && fresh:
				j.mu.Unlock()
				return jwk{}, errUnknownKid
			case waited || (recent && j.lastErr != nil && !fresh):
				err := j.lastErr
				j.mu.Unlock()
				if err == nil {
					err = errors.New("no fresh keys")
				}
				return jwk{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
			case recent && fresh:
				j.mu.Unlock()
				return jwk{}, errUnknownKid
			}
			j.startFetch(now)
		}
		ch := j.inflight
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return jwk{}, fmt.Errorf("%w: waiting for JWKS: %w", ErrKeysUnavailable, ctx.Err())
		}
		j.mu.Lock()
		waited = true
	}
}

// startFetch runs one fetch in its own goroutine, so that a waiter that gives
// up (ctx) does not cancel it for the others. j.mu must be held.
func (j *jwks) startFetch(now time.Time) {
	j.lastAttempt = now
	done := make(chan struct{})
	j.inflight = done
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		keys, err := j.fetch()
		j.mu.Lock()
		if err != nil {
			j.lastErr = err
			j.log.Warn("auth: JWKS fetch failed", zap.String("url", redactURL(j.url)), zap.Error(err))
		} else {
			j.keys, j.fetchedAt, j.lastErr = keys, time.Now(), nil
		}
		j.inflight = nil
		close(done)
		j.mu.Unlock()
	}()
}

func (j *jwks) fetch() (map[string]jwk, error) {
	ctx, cancel := context.WithTimeout(j.ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, jwksMaxBody))
		return nil, fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBody {
		return nil, fmt.Errorf("response larger than %d bytes", jwksMaxBody)
	}
	return j.parseSet(body)
}

type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseSet reads a JWK Set (RFC 7517 section 5). Keys without kid, with a use
// other than "sig", of unknown type or malformed are skipped (the last two with
// a log line); a set without any usable key is an error.
func (j *jwks) parseSet(body []byte) (map[string]jwk, error) {
	var set struct {
		Keys []jwkJSON `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := make(map[string]jwk, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		key, err := parseJWK(&k)
		if err != nil {
			j.log.Warn("auth: JWKS key skipped", zap.String("kid", k.Kid), zap.Error(err))
			continue
		}
		keys[k.Kid] = jwk{key: key, alg: k.Alg}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

func parseJWK(k *jwkJSON) (any, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64url(k.N)
		if err != nil || len(n) == 0 {
			return nil, fmt.Errorf("bad n: %v", err)
		}
		e, err := b64url(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("bad e: %v", err)
		}
		ev := new(big.Int).SetBytes(e)
		if ev.Int64() < 2 {
			return nil, errors.New("bad e")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("unsupported crv %q", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err := b64url(k.X)
		if err != nil || len(x) != size {
			return nil, fmt.Errorf("bad x: %v", err)
		}
		y, err := b64url(k.Y)
		if err != nil || len(y) != size {
			return nil, fmt.Errorf("bad y: %v", err)
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported crv %q", k.Crv)
		}
		x, err := b64url(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bad x: %v", err)
		}
		return ed25519.PublicKey(x), nil
	default:
		return nil, fmt.Errorf("unsupported kty %q", k.Kty)
	}
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// redactURL drops user info and query from a URL for logs (they may hold secrets).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
