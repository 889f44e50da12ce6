package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var ctx = context.Background()

func TestEveryAlgorithm(t *testing.T) {
	testKeys(t)
	for _, alg := range []string{"ES256", "ES384", "ES512"} {
		t.Run(alg, func(t *testing.T) {
			k := ecKeys[alg]
			v, err := NewVerifier(Config{ECDSAPublicKeyPEM: pemPKIX(t, &k.PublicKey)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tok := sign(t, jwt.GetSigningMethod(alg), k, jwt.MapClaims{"sub": "42", "exp": inHour()}, nil)
			ct, err := v.VerifyConnectToken(ctx, tok)
			if err != nil || ct.UserID != "42" {
				t.Fatalf("got %+v, %v", ct, err)
			}
			// The same key under another ES alg: curve mismatch.
			for _, other := range []string{"ES256", "ES384", "ES512"} {
				if other == alg {
					continue
				}
				tok := sign(t, jwt.GetSigningMethod(other), ecKeys[other], jwt.MapClaims{"sub": "42"}, nil)
				if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("%s token accepted by %s key: %v", other, alg, err)
				}
			}
		})
	}
	for _, alg := range []string{"RS256", "RS384", "RS512"} {
		t.Run(alg, func(t *testing.T) {
			v, err := NewVerifier(Config{RSAPublicKeyPEM: pemPKIX(t, &rsaKey.PublicKey)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tok := sign(t, jwt.GetSigningMethod(alg), rsaKey, jwt.MapClaims{"sub": "42", "exp": inHour()}, nil)
			if ct, err := v.VerifyConnectToken(ctx, tok); err != nil || ct.UserID != "42" {
				t.Fatalf("got %+v, %v", ct, err)
			}
		})
	}
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			v := newHMAC(t)
			tok := sign(t, jwt.GetSigningMethod(alg), []byte(testSecret), jwt.MapClaims{"sub": "42", "exp": inHour()}, nil)
			if ct, err := v.VerifyConnectToken(ctx, tok); err != nil || ct.UserID != "42" {
				t.Fatalf("got %+v, %v", ct, err)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	testKeys(t)
	rsaPEM := pemPKIX(t, &rsaKey.PublicKey)
	all, err := NewVerifier(Config{HMACSecret: testSecret, RSAPublicKeyPEM: rsaPEM, ECDSAPublicKeyPEM: pemPKIX(t, &ecKeys["ES256"].PublicKey)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsaOnly, err := NewVerifier(Config{RSAPublicKeyPEM: rsaPEM}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := hs256(t, jwt.MapClaims{"sub": "1", "exp": inHour()})
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"2","exp":`+jwt.NewNumericDate(time.Now().Add(time.Hour)).String()+`}`)) + "." + parts[2]
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "1"}, nil)
	ps256 := sign(t, jwt.SigningMethodPS256, rsaKey, jwt.MapClaims{"sub": "1"}, nil)
	cases := []struct {
		name string
		v    *Verifier
		tok  string
	}{
		{"empty", all, ""},
		{"garbage", all, "a.b.c"},
		{"two segments", all, parts[0] + "." + parts[1]},
		{"wrong hmac secret", all, sign(t, jwt.SigningMethodHS256, []byte("other-secret"), jwt.MapClaims{"sub": "1"}, nil)},
		{"wrong rsa key", all, sign(t, jwt.SigningMethodRS256, rsaKey2, jwt.MapClaims{"sub": "1"}, nil)},
		{"wrong ecdsa key", all, sign(t, jwt.SigningMethodES256, ecOther, jwt.MapClaims{"sub": "1"}, nil)},
		{"tampered payload", all, tampered},
		{"tampered signature", all, parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		{"none", all, none},
		{"none without signature", all, parts[0][:0] + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		// Alg confusion: HS256 keyed with the RSA public key PEM, which an
		// attacker knows; only an RSA key is configured.
		{"alg confusion HS256 with RSA PEM", rsaOnly, sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), jwt.MapClaims{"sub": "1"}, nil)},
		{"alg confusion HS256 with RSA PEM, all keys", all, sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), jwt.MapClaims{"sub": "1"}, nil)},
		{"PS256 not accepted", all, ps256},
		{"HS256 without hmac key", rsaOnly, good},
		{"channel claim in connect token", all, hs256(t, jwt.MapClaims{"sub": "1", "channel": "news"})},
		{"bad b64info", all, hs256(t, jwt.MapClaims{"sub": "1", "b64info": "!!"})},
		{"bad subs b64data", all, hs256(t, jwt.MapClaims{"subs": map[string]any{"a": map[string]any{"b64data": "%%"}}})},
		{"wrong claim type", all, hs256(t, jwt.MapClaims{"sub": 1})},
		{"expire_at not int", all, hs256(t, jwt.MapClaims{"expire_at": "soon"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct, err := c.v.VerifyConnectToken(ctx, c.tok)
			if !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrTokenExpired) {
				t.Fatalf("got %+v, %v; want ErrInvalidToken", ct, err)
			}
			if !reflect.DeepEqual(ct, ConnectToken{}) {
				t.Fatalf("token data returned with error: %+v", ct)
			}
		})
	}
}

func TestNoKeyRejectsAll(t *testing.T) {
	v, err := NewVerifier(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyConnectToken(ctx, hs256(t, jwt.MapClaims{"sub": "1"})); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
	if _, err := v.VerifySubscribeToken(ctx, hs256(t, jwt.MapClaims{"sub": "1", "channel": "a"})); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
}

func TestBadKeys(t *testing.T) {
	testKeys(t)
	for name, cfg := range map[string]Config{
		"rsa garbage":     {RSAPublicKeyPEM: "not pem"},
		"rsa is ecdsa":    {RSAPublicKeyPEM: pemPKIX(t, &ecOther.PublicKey)},
		"ecdsa is rsa":    {ECDSAPublicKeyPEM: pemPKIX(t, &rsaKey.PublicKey)},
		"ecdsa bad block": {ECDSAPublicKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		"jwks not http":   {JWKSURL: "file:///etc/passwd"},
		"jwks no host":    {JWKSURL: "http://"},
	} {
		if _, err := NewVerifier(cfg, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestExpiry(t *testing.T) {
	v := newHMAC(t)
	now := time.Now()
	for name, c := range map[string]struct {
		claims jwt.MapClaims
		want   error
	}{
		"exp past":           {jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}, ErrTokenExpired},
		"exp now":            {jwt.MapClaims{"exp": now.Unix()}, ErrTokenExpired},
		"exp +2s":            {jwt.MapClaims{"exp": now.Add(2 * time.Second).Unix()}, nil},
		"nbf future":         {jwt.MapClaims{"nbf": now.Add(2 * time.Second).Unix()}, ErrTokenExpired},
		"nbf past":           {jwt.MapClaims{"nbf": now.Add(-time.Second).Unix()}, nil},
		"expired, bad chan":  {jwt.MapClaims{"exp": now.Add(-time.Second).Unix(), "channel": "x"}, ErrInvalidToken}, // channel checked first
		"expire_at past ok":  {jwt.MapClaims{"expire_at": now.Add(-time.Hour).Unix()}, nil},                         // caller answers 110
		"no exp never fails": {jwt.MapClaims{"sub": "1"}, nil},
	} {
		_, err := v.VerifyConnectToken(ctx, hs256(t, c.claims))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if errors.Is(err, ErrTokenExpired) && errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: both errors", name)
		}
	}
	// A subscription token: expired wins over a missing channel (Centrifugo order).
	_, err := v.VerifySubscribeToken(ctx, hs256(t, jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}))
	if !errors.Is(err, ErrTokenExpired) {
		t.Fatal(err)
	}
	// A bad signature is never reported as expired.
	tok := sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}, nil)
	if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatal(err)
	}
}

func TestConnectClaims(t *testing.T) {
	v := newHMAC(t)
	exp := inHour()
	tr, fa := true, false
	cases := []struct {
		name   string
		claims jwt.MapClaims
		want   ConnectToken
	}{
		{"minimal", jwt.MapClaims{}, ConnectToken{}},
		{"exp only", jwt.MapClaims{"sub": "u", "exp": exp}, ConnectToken{UserID: "u", ExpireAt: exp}},
		{"expire_at wins", jwt.MapClaims{"exp": exp, "expire_at": exp + 100}, ConnectToken{ExpireAt: exp + 100}},
		{"expire_at 0 = never", jwt.MapClaims{"exp": exp, "expire_at": 0}, ConnectToken{ExpireAt: 0}},
		{"expire_at negative = never", jwt.MapClaims{"exp": exp, "expire_at": -5}, ConnectToken{ExpireAt: 0}},
		{"expire_at null = absent", jwt.MapClaims{"exp": exp, "expire_at": nil}, ConnectToken{ExpireAt: exp}},
		{"info raw", jwt.MapClaims{"info": map[string]any{"a": 1}}, ConnectToken{Info: []byte(`{"a":1}`)}},
		{"b64info wins", jwt.MapClaims{"info": map[string]any{"a": 1}, "b64info": base64.StdEncoding.EncodeToString([]byte{0, 1, 255})}, ConnectToken{Info: []byte{0, 1, 255}}},
		{"channels", jwt.MapClaims{"channels": []string{"a", "b:c"}}, ConnectToken{Channels: []string{"a", "b:c"}}},
		{"meta", jwt.MapClaims{"meta": map[string]any{"role": "x"}}, ConnectToken{Meta: []byte(`{"role":"x"}`)}},
		{"empty channel claim allowed", jwt.MapClaims{"channel": ""}, ConnectToken{}},
		{"subs", jwt.MapClaims{"subs": map[string]any{
			"news": map[string]any{"info": "i", "data": []int{1}, "override": map[string]any{
				"presence": map[string]any{"value": true}, "join_leave": map[string]any{"value": false},
				"force_recovery": map[string]any{}, "force_positioning": map[string]any{"value": true},
				"force_push_join_leave": map[string]any{"value": true}}},
			"bin":  map[string]any{"b64info": "AAE=", "info": 1, "b64data": "/w==", "data": 2},
			"bare": map[string]any{},
		}}, ConnectToken{Subs: map[string]SubOptions{
			"news": {Info: []byte(`"i"`), Data: []byte(`[1]`), Override: &Override{Presence: &tr, JoinLeave: &fa, ForceRecovery: &fa, ForcePositioning: &tr, ForcePushJoinLeave: &tr}},
			"bin":  {Info: []byte{0, 1}, Data: []byte{255}},
			"bare": {},
		}}},
		{"override partial", jwt.MapClaims{"subs": map[string]any{"a": map[string]any{"override": map[string]any{"presence": map[string]any{"value": false}}}}},
			ConnectToken{Subs: map[string]SubOptions{"a": {Override: &Override{Presence: &fa}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.VerifyConnectToken(ctx, hs256(t, c.claims))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %s\nwant %s", dump(got), dump(c.want))
			}
		})
	}
}

func dump(ct ConnectToken) string {
	var b bytes.Buffer
	b.WriteString("{UserID:" + ct.UserID + " Info:" + string(ct.Info) + " Meta:" + string(ct.Meta) + " Channels:" + strings.Join(ct.Channels, ",") + " Subs:")
	for k, s := range ct.Subs {
		b.WriteString(k + "=" + string(s.Info) + "/" + string(s.Data))
		if o := s.Override; o != nil {
			for _, p := range []*bool{o.Presence, o.JoinLeave, o.ForcePushJoinLeave, o.ForceRecovery, o.ForcePositioning} {
				if p == nil {
					b.WriteString(" nil")
				} else if *p {
					b.WriteString(" T")
				} else {
					b.WriteString(" F")
				}
			}
		}
		b.WriteString(";")
	}
	return b.String() + "}"
}

func TestSubscribeClaims(t *testing.T) {
	v := newHMAC(t)
	exp := inHour()
	tr := true
	got, err := v.VerifySubscribeToken(ctx, hs256(t, jwt.MapClaims{
		"sub": "u", "channel": "$news", "client": "c1", "exp": exp, "expire_at": 0,
		"info": "i", "b64data": "AQ==", "data": "ignored",
		"override": map[string]any{"force_recovery": map[string]any{"value": true}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := SubscribeToken{UserID: "u", Channel: "$news", Client: "c1", Info: []byte(`"i"`), Data: []byte{1}, Override: &Override{ForceRecovery: &tr}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	got, err = v.VerifySubscribeToken(ctx, hs256(t, jwt.MapClaims{"channel": "a", "exp": exp}))
	if err != nil || got.ExpireAt != exp || got.Override != nil || got.UserID != "" {
		t.Fatalf("got %+v, %v", got, err)
	}
	for name, claims := range map[string]jwt.MapClaims{
		"no channel":    {"sub": "u"},
		"empty channel": {"channel": ""},
		"bad b64info":   {"channel": "a", "b64info": "*"},
		"bad b64data":   {"channel": "a", "b64data": "*"},
	} {
		if _, err := v.VerifySubscribeToken(ctx, hs256(t, claims)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAudienceIssuer(t *testing.T) {
	plain := newHMAC(t)
	strict, err := NewVerifier(Config{HMACSecret: testSecret, Audience: "gw", Issuer: "me"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		claims     jwt.MapClaims
		plainOK    bool
		strictOK   bool
		strictName string
	}{
		{jwt.MapClaims{}, true, false, "none"},
		{jwt.MapClaims{"aud": "gw", "iss": "me"}, true, true, "both"},
		{jwt.MapClaims{"aud": []string{"x", "gw"}, "iss": "me"}, true, true, "aud list"},
		{jwt.MapClaims{"aud": "gw2", "iss": "me"}, true, false, "aud differs"},
		{jwt.MapClaims{"aud": "gw", "iss": "me2"}, true, false, "iss differs"},
		{jwt.MapClaims{"aud": "gw"}, true, false, "iss missing"},
		{jwt.MapClaims{"aud": "GW", "iss": "me"}, true, false, "aud case"},
	} {
		tok := hs256(t, c.claims)
		if _, err := plain.VerifyConnectToken(ctx, tok); (err == nil) != c.plainOK {
			t.Errorf("%s plain: %v", c.strictName, err)
		}
		_, err := strict.VerifyConnectToken(ctx, tok)
		if (err == nil) != c.strictOK || err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s strict: %v", c.strictName, err)
		}
		sc := jwt.MapClaims{"channel": "a"}
		for k, v := range c.claims {
			sc[k] = v
		}
		if _, err := strict.VerifySubscribeToken(ctx, hs256(t, sc)); (err == nil) != c.strictOK {
			t.Errorf("%s strict subscribe: %v", c.strictName, err)
		}
	}
}

func TestUserIDClaim(t *testing.T) {
	for _, c := range []struct {
		claim  string
		claims jwt.MapClaims
		want   string
	}{
		{"", jwt.MapClaims{"sub": "a", "uid": "b"}, "a"},
		{"sub", jwt.MapClaims{"sub": "a"}, "a"},
		{"uid", jwt.MapClaims{"sub": "a", "uid": "b"}, "b"},
		{"uid", jwt.MapClaims{"sub": "a"}, ""},
		{"uid", jwt.MapClaims{"uid": 12345678901}, "12345678901"},
		{"uid", jwt.MapClaims{"uid": nil}, ""},
		{"uid", jwt.MapClaims{"uid": true}, "true"},
		{"user.id", jwt.MapClaims{"user": map[string]any{"id": "n"}}, "n"},
		{"user.id", jwt.MapClaims{"user": "flat"}, ""},
		{"uid", jwt.MapClaims{"uid": "é\"x"}, "é\"x"},
	} {
		v, err := NewVerifier(Config{HMACSecret: testSecret, UserIDClaim: c.claim}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := v.VerifyConnectToken(ctx, hs256(t, c.claims))
		if err != nil || ct.UserID != c.want {
			t.Errorf("%q %v: got %q, %v; want %q", c.claim, c.claims, ct.UserID, err, c.want)
		}
		sc := jwt.MapClaims{"channel": "x"}
		for k, v := range c.claims {
			sc[k] = v
		}
		st, err := v.VerifySubscribeToken(ctx, hs256(t, sc))
		if err != nil || st.UserID != c.want {
			t.Errorf("subscribe %q %v: got %q, %v; want %q", c.claim, c.claims, st.UserID, err, c.want)
		}
	}
}

func TestRegisteredClaimTypes(t *testing.T) {
	v := newHMAC(t)
	now := time.Now()
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		want   error
		expire int64
	}{
		{"exp fractional", jwt.MapClaims{"exp": float64(now.Unix()) + 3600.5}, nil, now.Unix() + 3600},
		{"exp fractional past", jwt.MapClaims{"exp": float64(now.Unix()) - 0.5}, ErrTokenExpired, 0},
		{"exp exponent", jwt.MapClaims{"exp": json.Number("4e9")}, nil, 4000000000},
		{"exp null", jwt.MapClaims{"exp": nil}, nil, 0},
		{"exp string", jwt.MapClaims{"exp": "4000000000"}, ErrInvalidToken, 0},
		{"exp huge", jwt.MapClaims{"exp": json.Number("1e300")}, ErrInvalidToken, 0},
		{"nbf string", jwt.MapClaims{"nbf": "0"}, ErrInvalidToken, 0},
		{"aud number", jwt.MapClaims{"aud": 1}, ErrInvalidToken, 0},
		{"aud list of numbers", jwt.MapClaims{"aud": []int{1}}, ErrInvalidToken, 0},
		{"iat and jti ignored", jwt.MapClaims{"iat": "whatever", "jti": 5}, nil, 0},
	} {
		ct, err := v.VerifyConnectToken(ctx, hs256(t, c.claims))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && ct.ExpireAt != c.expire {
			t.Errorf("%s: ExpireAt %d, want %d", c.name, ct.ExpireAt, c.expire)
		}
	}
}

func TestHeaderForms(t *testing.T) {
	v := newHMAC(t)
	mk := func(hdr string) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(hdr))
		p := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"h"}`))
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	for hdr, ok := range map[string]bool{
		`{"alg":"HS256"}`:                      true,
		`{"alg":"HS256","typ":"JWT","kid":7}`:  true, // kid unused with static keys
		`{"alg":"HS256","kid":"x"}`:            true,
		`{"alg":"hs256"}`:                      false,
		`{"alg":["HS256"]}`:                    false,
		`{}`:                                   false,
		`[]`:                                   false,
		`{"alg":"HS256"`:                       false,
		`{"alg":"none"}`:                       false,
		`{"alg":"HS256","alg":"none"}`:         false, // last key wins in encoding/json
		`{"alg":"none","alg":"HS256"}`:         true,
		`{"alg":"HS256","crit":["exp"]} extra`: false,
	} {
		ct, err := v.VerifyConnectToken(ctx, mk(hdr))
		if (err == nil) != ok || ok && ct.UserID != "h" {
			t.Errorf("%s: %+v, %v", hdr, ct, err)
		}
	}
	good := mk(`{"alg":"HS256"}`)
	for name, tok := range map[string]string{
		"padding":        good + "=",
		"four segments":  good + ".x",
		"std base64 sig": good[:strings.LastIndexByte(good, '.')+1] + strings.NewReplacer("-", "+", "_", "/").Replace(good[strings.LastIndexByte(good, '.')+1:]) + "+",
		"leading space":  " " + good,
	} {
		if _, err := v.VerifyConnectToken(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPayloadMustBeObject(t *testing.T) {
	v := newHMAC(t)
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`))
	for payload, ok := range map[string]bool{`{}`: true, ` {"sub":"x"}`: true, `null`: false, `[]`: false, `"x"`: false, ``: false, `{} x`: false} {
		p := base64.RawURLEncoding.EncodeToString([]byte(payload))
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(h + "." + p))
		_, err := v.VerifyConnectToken(ctx, h+"."+p+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%q: %v", payload, err)
		}
	}
}
