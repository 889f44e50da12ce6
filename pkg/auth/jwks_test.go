package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// jwksServer is a real JWKS endpoint on loopback whose key set can change and
// that counts its requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []map[string]any
	status int
	delay  time.Duration
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		keys, status, delay := s.keys, s.status, s.delay
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]any) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid, alg string, k *rsa.PublicKey) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func ecJWK(t *testing.T, kid, alg string) map[string]any {
	k := ecKeys[alg]
	size := (k.Curve.Params().BitSize + 7) / 8
	crv := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(k.X.FillBytes(make([]byte, size))), "y": b64(k.Y.FillBytes(make([]byte, size)))}
}

func newJWKSVerifier(t *testing.T, url string, ttl time.Duration, minRefetch time.Duration) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{JWKSURL: url, JWKSCacheTTL: ttl}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.jwks.minRefetch = minRefetch
	t.Cleanup(v.Close)
	return v
}

func kidToken(t *testing.T, m jwt.SigningMethod, key any, kid string) string {
	return sign(t, m, key, jwt.MapClaims{"sub": "u-" + kid, "exp": inHour()}, map[string]any{"kid": kid})
}

func TestJWKSAlgorithms(t *testing.T) {
	testKeys(t)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t,
		rsaJWK("rsa", "", &rsaKey.PublicKey),
		rsaJWK("rs512", "RS512", &rsaKey.PublicKey),
		ecJWK(t, "es256", "ES256"), ecJWK(t, "es384", "ES384"), ecJWK(t, "es512", "ES512"),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(edPub), "alg": "EdDSA"},
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(rsaKey.N.Bytes()), "e": "AQAB"},
		map[string]any{"kty": "oct", "kid": "hmac", "k": b64([]byte(testSecret))},
		map[string]any{"kty": "EC", "kid": "badec", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
	)
	v := newJWKSVerifier(t, srv.URL, time.Hour, time.Hour)
	ok := map[string]string{
		"RS256 any-alg key":    kidToken(t, jwt.SigningMethodRS256, rsaKey, "rsa"),
		"RS384 any-alg key":    kidToken(t, jwt.SigningMethodRS384, rsaKey, "rsa"),
		"RS512 with alg RS512": kidToken(t, jwt.SigningMethodRS512, rsaKey, "rs512"),
		"ES256":                kidToken(t, jwt.SigningMethodES256, ecKeys["ES256"], "es256"),
		"ES384":                kidToken(t, jwt.SigningMethodES384, ecKeys["ES384"], "es384"),
		"ES512":                kidToken(t, jwt.SigningMethodES512, ecKeys["ES512"], "es512"),
		"EdDSA":                kidToken(t, jwt.SigningMethodEdDSA, edPriv, "ed"),
	}
	for name, tok := range ok {
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"RS256 on alg RS512 key":       kidToken(t, jwt.SigningMethodRS256, rsaKey, "rs512"),
		"ES384 on P-256 key":           kidToken(t, jwt.SigningMethodES384, ecKeys["ES384"], "es256"),
		"ES256 on RSA key":             kidToken(t, jwt.SigningMethodES256, ecKeys["ES256"], "rsa"),
		"PS256 on RSA key":             kidToken(t, jwt.SigningMethodPS256, rsaKey, "rsa"),
		"HS256 with RSA modulus":       kidToken(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), "rsa"),
		"HS256 oct key not supported":  kidToken(t, jwt.SigningMethodHS256, []byte(testSecret), "hmac"),
		"use enc skipped":              kidToken(t, jwt.SigningMethodRS256, rsaKey, "enc"),
		"malformed key skipped":        kidToken(t, jwt.SigningMethodES256, ecKeys["ES256"], "badec"),
		"no kid":                       sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{}, nil),
		"wrong key for kid":            kidToken(t, jwt.SigningMethodRS256, rsaKey2, "rsa"),
		"none with kid":                sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{}, map[string]any{"kid": "rsa"}),
		"EdDSA token on an RSA key id": kidToken(t, jwt.SigningMethodEdDSA, edPriv, "rsa"),
	}
	for name, tok := range bad {
		if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cache, refetch limited)", n)
	}
}

func TestJWKSUnknownKidRateLimit(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	const interval = time.Second // long enough for a flood under -race on a busy machine
	v := newJWKSVerifier(t, srv.URL, time.Hour, interval)
	if _, err := v.VerifyConnectToken(ctx, kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")); err != nil {
		t.Fatal(err)
	}
	// A flood of unknown kids right after a fetch: no request at all.
	unknown := kidToken(t, jwt.SigningMethodRS256, rsaKey, "nope")
	flood := func() {
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.VerifyConnectToken(ctx, unknown); !errors.Is(err, ErrInvalidToken) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	flood()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}
	// After the interval: exactly one more request for the whole flood.
	time.Sleep(interval + 50*time.Millisecond)
	flood()
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
}

func TestJWKSRotation(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	v := newJWKSVerifier(t, srv.URL, time.Hour, 100*time.Millisecond)
	old := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")
	rotated := kidToken(t, jwt.SigningMethodRS256, rsaKey2, "k2")
	if _, err := v.VerifyConnectToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	srv.set(rsaJWK("k2", "RS256", &rsaKey2.PublicKey))
	// The cached set still holds k1 and not yet k2 (refetch rate limited).
	if _, err := v.VerifyConnectToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyConnectToken(ctx, rotated); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("k2 accepted before the refetch", err)
	}
	time.Sleep(150 * time.Millisecond)
	ct, err := v.VerifyConnectToken(ctx, rotated)
	if err != nil || ct.UserID != "u-k2" {
		t.Fatal(ct, err)
	}
	// The new set replaced the old one: k1 is gone.
	if _, err := v.VerifyConnectToken(ctx, old); !errors.Is(err, ErrInvalidToken) {
		t.Fatal("k1 accepted after rotation", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
}

func TestJWKSCacheTTL(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	const ttl = 300 * time.Millisecond
	v := newJWKSVerifier(t, srv.URL, ttl, time.Hour)
	tok := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")
	for i := 0; i < 5; i++ {
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("hits = %d within ttl, want 1", n)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d after ttl, want 2", n)
	}
	// Expired cache and the key removed: rejected after the refetch.
	srv.set(rsaJWK("other", "RS256", &rsaKey2.PublicKey))
	time.Sleep(ttl + 50*time.Millisecond)
	if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
}

func TestJWKSSharedFetch(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	srv.delay = 200 * time.Millisecond
	v := newJWKSVerifier(t, srv.URL, time.Hour, time.Hour)
	tok := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1 shared fetch", n)
	}
}

func TestJWKSServerDown(t *testing.T) {
	testKeys(t)
	tok := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")

	t.Run("never reached", func(t *testing.T) {
		srv := newJWKSServer(t)
		url := srv.URL
		srv.Close()
		v := newJWKSVerifier(t, url, time.Hour, time.Hour)
		_, err := v.VerifyConnectToken(ctx, tok)
		if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrKeysUnavailable) {
			t.Fatal(err)
		}
	})
	t.Run("error status, failures rate limited", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
		srv.status = http.StatusServiceUnavailable
		const interval = 300 * time.Millisecond
		v := newJWKSVerifier(t, srv.URL, time.Hour, interval)
		for i := 0; i < 20; i++ {
			if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatal(err)
			}
		}
		if n := srv.hits.Load(); n != 1 {
			t.Fatalf("hits = %d, want 1", n)
		}
		srv.mu.Lock()
		srv.status = http.StatusOK
		srv.mu.Unlock()
		time.Sleep(interval + 50*time.Millisecond)
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			t.Fatal("not recovered:", err)
		}
	})
	t.Run("down after ttl", func(t *testing.T) {
		srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
		const ttl = 200 * time.Millisecond
		v := newJWKSVerifier(t, srv.URL, ttl, time.Millisecond)
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		time.Sleep(ttl + 50*time.Millisecond)
		if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrKeysUnavailable) {
			t.Fatal("stale keys used:", err)
		}
	})
	t.Run("bad documents", func(t *testing.T) {
		for name, body := range map[string]string{
			"not json": "<html>",
			"no keys":  `{"keys":[]}`,
			"only enc": `{"keys":[{"kty":"RSA","kid":"k1","use":"enc","n":"AQAB","e":"AQAB"}]}`,
		} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
			v := newJWKSVerifier(t, srv.URL, time.Hour, time.Hour)
			if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrKeysUnavailable) {
				t.Errorf("%s: %v", name, err)
			}
			srv.Close()
		}
	})
}

func TestJWKSContextAndClose(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	srv.delay = 2 * time.Second
	v := newJWKSVerifier(t, srv.URL, time.Hour, time.Hour)
	tok := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := v.VerifyConnectToken(c, tok); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("waited %s past the caller's deadline", d)
	}
	// Close cancels the fetch still in flight (the server would answer in
	// 2 s) and waits for its goroutine.
	start = time.Now()
	v.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %s: it waited for the server instead of cancelling", d)
	}
	v.Close()
	if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
}

func TestTokensNeverLogged(t *testing.T) {
	testKeys(t)
	core, logs := observer.New(zap.DebugLevel)
	srv := newJWKSServer(t)
	srv.status = http.StatusInternalServerError
	vj, err := NewVerifier(Config{JWKSURL: srv.URL + "/jwks?secret=s3cr3t"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer vj.Close()
	vh, err := NewVerifier(Config{HMACSecret: testSecret}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	toks := []string{
		kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1"),
		sign(t, jwt.SigningMethodHS256, []byte("x"), jwt.MapClaims{"sub": "secret-user"}, nil),
		hs256(t, jwt.MapClaims{"channel": "c", "sub": "secret-user"}),
		hs256(t, jwt.MapClaims{"exp": 1, "sub": "secret-user"}),
		"eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
	}
	for _, tok := range toks {
		_, _ = vj.VerifyConnectToken(ctx, tok)
		_, _ = vh.VerifyConnectToken(ctx, tok)
		_, _ = vh.VerifySubscribeToken(ctx, tok)
	}
	if logs.Len() == 0 {
		t.Fatal("no log lines: the test checks nothing")
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(map[string]any{"msg": e.Message, "ctx": e.ContextMap()})
		for _, tok := range toks {
			for _, part := range []string{tok, tok[:20], tok[len(tok)-10:]} {
				if strings.Contains(string(line), part) {
					t.Fatalf("log line holds token material %q: %s", part, line)
				}
			}
		}
		for _, secret := range []string{"s3cr3t", "secret-user", testSecret} {
			if strings.Contains(string(line), secret) {
				t.Fatalf("log line holds %q: %s", secret, line)
			}
		}
	}
}

func TestJWKSRefreshAhead(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", "RS256", &rsaKey.PublicKey))
	const ttl = time.Second
	v := newJWKSVerifier(t, srv.URL, ttl, time.Millisecond)
	tok := kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1")
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl - ttl/20) // inside the last tenth
	srv.mu.Lock()
	srv.delay = 300 * time.Millisecond // a slow refresh must not be waited for
	srv.mu.Unlock()
	start := time.Now()
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Fatalf("a hit waited %s for the background refresh", d)
	}
	// The refresh lands and renews the cache: past the first ttl the key is
	// still served, with no further request.
	deadline := time.Now().Add(5 * time.Second)
	for {
		v.jwks.mu.Lock()
		renewed := v.jwks.inflight == nil && time.Since(v.jwks.fetchedAt) < ttl/2
		v.jwks.mu.Unlock()
		if renewed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh never landed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d, want 2", n)
	}
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits = %d after renewal, want 2", n)
	}
}
