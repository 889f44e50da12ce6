package auth

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerifyConnectToken feeds arbitrary strings to a Verifier holding an HMAC
// secret and an RSA key. Properties: no panic; every error is exactly one of
// ErrInvalidToken / ErrTokenExpired; a token that is accepted carries a
// signature that verifies with the configured key under its header's algorithm,
// checked here with crypto/hmac and crypto/rsa directly (not through the
// verifier's key selection), and has no "channel" claim.
func FuzzVerifyConnectToken(f *testing.F) {
	testKeys(f)
	v, err := NewVerifier(Config{HMACSecret: testSecret, RSAPublicKeyPEM: pemPKIX(f, &rsaKey.PublicKey)}, nil)
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		hs256(f, jwt.MapClaims{"sub": "1", "exp": inHour(), "info": map[string]any{"a": 1}}),
		sign(f, jwt.SigningMethodHS512, []byte(testSecret), jwt.MapClaims{"subs": map[string]any{"a": map[string]any{"b64info": "AA=="}}}, nil),
		sign(f, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"sub": "2", "channels": []string{"x"}}, nil),
		sign(f, jwt.SigningMethodHS256, []byte(pemPKIX(f, &rsaKey.PublicKey)), jwt.MapClaims{"sub": "1"}, nil),
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "1"}, nil),
		hs256(f, jwt.MapClaims{"exp": 1}),
		"", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.VerifyConnectToken(ctx, tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) == errors.Is(err, ErrTokenExpired) {
				t.Fatalf("error is not exactly one of the two: %v", err)
			}
			return
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d segments", len(parts))
		}
		var hdr struct {
			Alg string `json:"alg"`
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil || json.Unmarshal(raw, &hdr) != nil {
			t.Fatalf("accepted an undecodable header: %v", err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("accepted an undecodable signature: %v", err)
		}
		if !signatureOK(hdr.Alg, parts[0]+"."+parts[1], sig) {
			t.Fatalf("accepted a token whose %q signature does not verify with the configured key", hdr.Alg)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			Channel string `json:"channel"`
		}
		if json.Unmarshal(payload, &c) != nil || c.Channel != "" {
			t.Fatalf("accepted a payload with a channel claim or bad JSON: %q", payload)
		}
	})
}

func signatureOK(alg, signed string, sig []byte) bool {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	if len(alg) != 5 {
		return false
	}
	h, ok := hashes[alg[2:]]
	if !ok {
		return false
	}
	switch alg[:2] {
	case "HS":
		m := hmac.New(h.New, []byte(testSecret))
		m.Write([]byte(signed))
		return hmac.Equal(m.Sum(nil), sig)
	case "RS":
		d := h.New()
		d.Write([]byte(signed))
		return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, h, d.Sum(nil), sig) == nil
	}
	return false
}

// foldedClaims reads the top-level members of a JSON object the way
// encoding/json fills a struct (and so Centrifugo's claims): names match case-
// insensitively (strings.EqualFold) and the last member wins.
func foldedClaims(payload []byte) (map[string]json.RawMessage, error) {
	var members []struct {
		k string
		v json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v %v", tok, err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		members = append(members, struct {
			k string
			v json.RawMessage
		}{k.(string), v})
	}
	out := map[string]json.RawMessage{}
	for _, m := range members {
		for _, name := range []string{"sub", "exp", "expire_at", "info", "b64info", "channels", "meta", "channel"} {
			if strings.EqualFold(m.k, name) {
				out[name] = m.v
			}
		}
	}
	return out, nil
}

// FuzzConnectClaims signs arbitrary payloads with the configured secret, so
// every input reaches claim decoding (of both token kinds; a subscription
// token accepted has the claim's non-empty channel). Properties: no panic; an accepted
// payload is a JSON object without a non-empty "channel"; UserID, ExpireAt,
// Info, Channels and Meta are what the raw claims say, computed here from a
// generic decode (b64info wins over info; expire_at over exp, <= 0 = never).
func FuzzConnectClaims(f *testing.F) {
	v := newHMAC(f)
	for _, s := range []string{
		`{}`, `{"sub":"1","exp":4000000000,"expire_at":0}`, `{"info":{"a":[1,2]},"b64info":"AAE="}`,
		`{"channels":["a","b"],"meta":{"k":"v"},"subs":{"a":{"override":{"presence":{"value":true}}}}}`,
		`{"channel":"x"}`, `{"channel":""}`, `{"channel":"a","Channel":"b"}`, `{"exp":1.5}`, `{"nbf":1e10}`, `{"aud":["a"]}`, `[]`, `null`, `{"sub":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		p := base64.RawURLEncoding.EncodeToString(payload)
		m := hmac.New(crypto.SHA256.New, []byte(testSecret))
		m.Write([]byte(h + "." + p))
		tok := h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		if st, err := v.VerifySubscribeToken(ctx, tok); err == nil {
			raw, err := foldedClaims(payload)
			if err != nil {
				t.Fatalf("subscribe accepted a payload that is not a JSON object: %v", err)
			}
			var ch string
			_ = json.Unmarshal(raw["channel"], &ch)
			if st.Channel == "" || st.Channel != ch {
				t.Fatalf("subscribe Channel %q, claim %s", st.Channel, raw["channel"])
			}
		} else if errors.Is(err, ErrInvalidToken) == errors.Is(err, ErrTokenExpired) {
			t.Fatalf("subscribe error is not exactly one of the two: %v", err)
		}
		ct, err := v.VerifyConnectToken(ctx, tok)
		if err != nil {
			if errors.Is(err, ErrInvalidToken) == errors.Is(err, ErrTokenExpired) {
				t.Fatalf("error is not exactly one of the two: %v", err)
			}
			return
		}
		raw, err := foldedClaims(payload)
		if err != nil {
			t.Fatalf("accepted a payload that is not a JSON object: %v", err)
		}
		str := func(k string) string {
			var s string
			_ = json.Unmarshal(raw[k], &s)
			return s
		}
		if str("channel") != "" {
			t.Fatal("accepted a channel claim")
		}
		if ct.UserID != str("sub") {
			t.Fatalf("UserID %q, sub %s", ct.UserID, raw["sub"])
		}
		var want int64
		if e, ok := raw["expire_at"]; ok && string(e) != "null" {
			var n int64
			if json.Unmarshal(e, &n) != nil {
				t.Fatalf("accepted expire_at %s", e)
			}
			want = max(n, 0)
		} else if e, ok := raw["exp"]; ok && string(e) != "null" {
			var x float64
			if json.Unmarshal(e, &x) != nil {
				t.Fatalf("accepted exp %s", e)
			}
			want = int64(x)
		}
		if ct.ExpireAt != want {
			t.Fatalf("ExpireAt %d, want %d", ct.ExpireAt, want)
		}
		wantInfo := []byte(raw["info"])
		if b := str("b64info"); b != "" {
			wantInfo, _ = base64.StdEncoding.DecodeString(b)
		}
		if !bytes.Equal(ct.Info, wantInfo) {
			t.Fatalf("Info %q, want %q", ct.Info, wantInfo)
		}
		if !bytes.Equal(ct.Meta, raw["meta"]) {
			t.Fatalf("Meta %q, want %q", ct.Meta, raw["meta"])
		}
		var chs []string
		_ = json.Unmarshal(raw["channels"], &chs)
		if len(chs) != len(ct.Channels) {
			t.Fatalf("Channels %q, want %q", ct.Channels, chs)
		}
		for i := range chs {
			if chs[i] != ct.Channels[i] {
				t.Fatalf("Channels %q, want %q", ct.Channels, chs)
			}
		}
	})
}
