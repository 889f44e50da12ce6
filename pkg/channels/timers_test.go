package channels

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/poller"
)

func shortTimers(o *Options, _ *poller.Options) {
	o.PingInterval, o.PongTimeout = time.Second, 400*time.Millisecond
	o.ExpiredCloseDelay, o.ExpiredSubCloseDelay = 100*time.Millisecond, 100*time.Millisecond
	o.TickInterval = 20 * time.Millisecond
}

func TestPingPong(t *testing.T) {
	env := startNode(t, shortTimers)
	c := dialJSON(t, env.url, nil)
	start := time.Now()
	c.send(`{"id":1,"connect":{}}`)
	if r := c.next(); !strings.Contains(r, `"ping":1,"pong":true`) {
		t.Fatalf("connect result %s", r)
	}
	// The first ping comes after a random delay in [interval/2, interval).
	expectJSON(t, c.next(), `{}`)
	if d := time.Since(start); d < 500*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("first ping after %v, want 0.5s to 1s", d)
	}
	// Answered pings keep the connection; pings keep coming every interval.
	for range 2 {
		c.send(`{}`)
		at := time.Now()
		expectJSON(t, c.next(), `{}`)
		if d := time.Since(at); d < 900*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("ping after %v, want about 1s", d)
		}
	}
	// An unanswered ping: close 3012 after the pong timeout.
	at := time.Now()
	c.expectClose(3012)
	if d := time.Since(at); d < 350*time.Millisecond { // less the ping's own trip
		t.Fatalf("closed %v after the ping, before the pong timeout", d)
	}
}

func TestPingsDisabled(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) { o.PingInterval = -1; o.TickInterval = 20 * time.Millisecond })
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{}}`)
	r := c.next()
	if strings.Contains(r, "ping") || strings.Contains(r, "pong") {
		t.Fatalf("connect result %s advertises pings", r)
	}
	if s, err := c.nextErr(300 * time.Millisecond); err == nil {
		t.Fatalf("unexpected %s", s)
	}
}

func TestConnectionExpiry(t *testing.T) {
	env := startNode(t, shortTimers)
	exp := time.Now().Add(time.Second).Unix() + 1
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": exp}) + `"}}`)
	var r struct {
		Connect struct {
			Expires bool   `json:"expires"`
			TTL     uint32 `json:"ttl"`
		} `json:"connect"`
	}
	json.Unmarshal([]byte(c.next()), &r)
	if !r.Connect.Expires || r.Connect.TTL < 1 || r.Connect.TTL > 2 {
		t.Fatalf("connect result %+v", r)
	}
	for {
		s, err := c.nextErr(5 * time.Second)
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 3005 {
				t.Fatalf("got %v, want close 3005", err)
			}
			break
		}
		if s == "{}" {
			c.send(`{}`)
		}
	}
	if time.Now().Unix() < exp {
		t.Fatal("closed before the expiry")
	}
}

func TestRefreshExtends(t *testing.T) {
	env := startNode(t, shortTimers)
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Unix() + 1}) + `"}}`)
	c.next()
	c.send(`{"id":2,"refresh":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Unix() + 3600}) + `"}}`)
	r := c.nextNonPing()
	if !strings.HasPrefix(r, `{"id":2,"refresh":{"expires":true,"ttl":3`) {
		t.Fatalf("refresh result %s", r)
	}
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		s, err := c.nextErr(time.Until(deadline))
		if err != nil {
			if strings.Contains(err.Error(), "timeout") {
				break
			}
			t.Fatalf("connection closed after refresh: %v", err)
		}
		if s == "{}" {
			c.send(`{}`)
		}
	}
}

func TestSubscriptionExpiry(t *testing.T) {
	env := startNode(t, shortTimers)
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Unix() + 3600}) + `"}}`)
	c.next()
	tok := token(t, jwt.MapClaims{"sub": "1", "channel": "$s", "exp": time.Now().Unix() + 1})
	c.send(`{"id":2,"subscribe":{"channel":"$s","token":"` + tok + `"}}`)
	if r := c.nextNonPing(); !strings.Contains(r, `"expires":true`) {
		t.Fatalf("subscribe result %s", r)
	}
	for {
		s := c.next()
		if s == "{}" {
			c.send(`{}`)
			continue
		}
		expectJSON(t, s, `{"push":{"channel":"$s","unsubscribe":{"code":2501,"reason":"subscription expired"}}}`)
		return
	}
}
