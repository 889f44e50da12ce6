package auth

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func selfSigned(t *testing.T, pub, priv any) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestPEMForms(t *testing.T) {
	testKeys(t)
	rsaTok := sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"sub": "r"}, nil)
	ecTok := sign(t, jwt.SigningMethodES256, ecKeys["ES256"], jwt.MapClaims{"sub": "e"}, nil)
	for name, c := range map[string]struct {
		cfg Config
		tok string
	}{
		"rsa PKIX":        {Config{RSAPublicKeyPEM: pemPKIX(t, &rsaKey.PublicKey)}, rsaTok},
		"rsa PKCS1":       {Config{RSAPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}))}, rsaTok},
		"rsa certificate": {Config{RSAPublicKeyPEM: selfSigned(t, &rsaKey.PublicKey, rsaKey)}, rsaTok},
		"ec certificate":  {Config{ECDSAPublicKeyPEM: selfSigned(t, &ecKeys["ES256"].PublicKey, ecKeys["ES256"])}, ecTok},
		"rsa with text":   {Config{RSAPublicKeyPEM: "comment line\n" + pemPKIX(t, &rsaKey.PublicKey)}, rsaTok},
	} {
		v, err := NewVerifier(c.cfg, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := v.VerifyConnectToken(ctx, c.tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, cfg := range map[string]Config{
		"rsa cert is ec":     {RSAPublicKeyPEM: selfSigned(t, &ecKeys["ES256"].PublicKey, ecKeys["ES256"])},
		"bad cert":           {RSAPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}))},
		"bad PKIX":           {ECDSAPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}))},
		"negative jwks ttl":  {JWKSURL: "http://127.0.0.1:1/", JWKSCacheTTL: -time.Second},
		"jwks unparsable":    {JWKSURL: "http://[::1"},
		"ecdsa empty block":  {ECDSAPublicKeyPEM: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"},
		"rsa PKCS1 is bogus": {RSAPublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte{1}}))},
	} {
		if _, err := NewVerifier(cfg, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseJWK(t *testing.T) {
	testKeys(t)
	good := rsaJWK("k", "", &rsaKey.PublicKey)
	for name, k := range map[string]jwkJSON{
		"rsa no n":       {Kty: "RSA", E: "AQAB"},
		"rsa bad n":      {Kty: "RSA", N: "*", E: "AQAB"},
		"rsa no e":       {Kty: "RSA", N: good["n"].(string)},
		"rsa e=1":        {Kty: "RSA", N: good["n"].(string), E: "AQ"},
		"rsa e too long": {Kty: "RSA", N: good["n"].(string), E: "AQABAQAB"},
		"ec bad crv":     {Kty: "EC", Crv: "P-224", X: "AA", Y: "AA"},
		"ec short x":     {Kty: "EC", Crv: "P-256", X: "AAAA", Y: strings.Repeat("A", 43)},
		"ec off curve":   {Kty: "EC", Crv: "P-256", X: strings.Repeat("A", 43), Y: strings.Repeat("A", 43)},
		"okp bad crv":    {Kty: "OKP", Crv: "X25519", X: strings.Repeat("A", 43)},
		"okp short":      {Kty: "OKP", Crv: "Ed25519", X: "AAAA"},
		"oct":            {Kty: "oct"},
		"empty":          {},
	} {
		if key, err := parseJWK(&k); err == nil {
			t.Errorf("%s: parsed %T", name, key)
		}
	}
	// Padded base64url is tolerated (some issuers write it).
	k := jwkJSON{Kty: "RSA", N: good["n"].(string) + "==", E: "AQAB"}
	if _, err := parseJWK(&k); err != nil {
		t.Error(err)
	}
}

func TestJWKSBodyLimit(t *testing.T) {
	testKeys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[],"pad":"`))
		_, _ = w.Write([]byte(strings.Repeat("x", jwksMaxBody)))
		_, _ = w.Write([]byte(`"}`))
	}))
	defer srv.Close()
	v := newJWKSVerifier(t, srv.URL, time.Hour, time.Hour)
	_, err := v.VerifyConnectToken(ctx, kidToken(t, jwt.SigningMethodRS256, rsaKey, "k1"))
	if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Fatal(err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@idp.example/jwks?key=s": "https://idp.example/jwks",
		"http://127.0.0.1:8080/.well-known/jwks":   "http://127.0.0.1:8080/.well-known/jwks",
		"http://[::1":                              "(unparsable)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
