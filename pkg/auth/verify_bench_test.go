package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func benchVerify(b *testing.B, v *Verifier, tok string) {
	b.ReportAllocs()
	if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.VerifyConnectToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// typical is a connection token as an application issues it.
func typical() jwt.MapClaims {
	return jwt.MapClaims{"sub": "1234567", "exp": inHour(), "iat": inHour() - 7200, "info": map[string]any{"name": "Alice"}}
}

func BenchmarkVerifyConnectHS256(b *testing.B) {
	benchVerify(b, newHMAC(b), hs256(b, typical()))
}

func BenchmarkVerifyConnectRS256(b *testing.B) {
	testKeys(b)
	v, err := NewVerifier(Config{RSAPublicKeyPEM: pemPKIX(b, &rsaKey.PublicKey)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, v, sign(b, jwt.SigningMethodRS256, rsaKey, typical(), nil))
}

func BenchmarkVerifyConnectES256(b *testing.B) {
	testKeys(b)
	v, err := NewVerifier(Config{ECDSAPublicKeyPEM: pemPKIX(b, &ecKeys["ES256"].PublicKey)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, v, sign(b, jwt.SigningMethodES256, ecKeys["ES256"], typical(), nil))
}

// BenchmarkVerifyInvalidHS256 is the cost of rejecting a forged token.
func BenchmarkVerifyInvalidHS256(b *testing.B) {
	v := newHMAC(b)
	tok := sign(b, jwt.SigningMethodHS256, []byte("wrong"), typical(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyConnectToken(ctx, tok); err == nil {
			b.Fatal("accepted")
		}
	}
}
