package channels

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/poller"
)

// TestRejectedConnectLogsOnceWithoutToken: each rejected connect is one
// log line with the reason and the session ID, and the token is not in it.
func TestRejectedConnectLogsOnceWithoutToken(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	env := startNode(t, func(o *Options, _ *poller.Options) { o.Logger = zap.New(core) })
	for _, tc := range []struct {
		token, reason string
		close         int
	}{
		{token(t, jwt.MapClaims{"sub": "1"})[:40] + "xx.yy", "invalid connection token", 3500},
		{token(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Add(-time.Hour).Unix()}), "connection token expired", 0},
	} {
		logs.TakeAll()
		c := dialJSON(t, env.url, nil)
		c.send(`{"id":1,"connect":{"token":"` + tc.token + `"}}`)
		if tc.close != 0 {
			c.expectClose(tc.close)
		} else {
			c.next()
		}
		time.Sleep(50 * time.Millisecond)
		entries := logs.FilterMessage("channel client rejected").All()
		if len(entries) != 1 {
			t.Fatalf("%d log lines for one rejected connect", len(entries))
		}
		fields := entries[0].ContextMap()
		if !strings.HasPrefix(fields["reason"].(string), tc.reason) || len(fields["session"].(string)) != 16 {
			t.Fatalf("log fields %v", fields)
		}
		for _, e := range logs.All() {
			for _, v := range e.ContextMap() {
				if s, ok := v.(string); ok && strings.Contains(s, tc.token[:30]) {
					t.Fatalf("the token is in the log: %v", e.ContextMap())
				}
			}
		}
	}
}

// TestProtocolViolationLogsOnce: every command that closes the connection
// with 3501 is one log line with the session ID that names the command.
func TestProtocolViolationLogsOnce(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	env := startNode(t, func(o *Options, _ *poller.Options) { o.Logger = zap.New(core) })
	for _, tc := range []struct {
		connect bool
		frame   string
		reason  string
	}{
		{false, `{"id":2,"subscribe":{"channel":"chat:a"}}`, "subscribe command (id 2) before connect"},
		{true, `{"id":2,"frobnicate":{}}`, "empty or unknown command (id 2)"},
		{true, `{"id":3,"subscribe":{"channel":""}}`, "subscribe command (id 3)"},
		{true, `{"id":4,"connect":{}}`, "connect command (id 4) on a connected client"},
		{true, `{}`, "empty (pong) command (id 0)"},
		{true, `not json`, "malformed command"},
	} {
		logs.TakeAll()
		c := dialJSON(t, env.url, nil)
		if tc.connect {
			c.send(`{"id":1,"connect":{}}`)
			c.next()
		}
		c.send(tc.frame)
		c.expectClose(3501)
		time.Sleep(50 * time.Millisecond)
		entries := logs.FilterMessage("channel client rejected").All()
		if len(entries) != 1 {
			t.Fatalf("%s: %d log lines, want 1", tc.frame, len(entries))
		}
		fields := entries[0].ContextMap()
		if fields["reason"] != tc.reason || len(fields["session"].(string)) != 16 || fields["code"] != uint32(3501) {
			t.Fatalf("%s: log fields %v, want reason %q", tc.frame, fields, tc.reason)
		}
	}
}

// unavailableHistory is the in-memory broker with its history store gone,
// as during a NATS outage (JetStream unreachable).
type unavailableHistory struct{ *broker.Memory }

func (unavailableHistory) History(context.Context, string, broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	return nil, broker.StreamPosition{}, errors.New("history store unavailable")
}

// TestSubscribeBrokerFailureIsLogged: a subscribe the broker fails is
// answered 100 internal (temporary: SDKs retry) and is one log line with the
// session, channel and cause.
func TestSubscribeBrokerFailureIsLogged(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	env := startNode(t, func(o *Options, _ *poller.Options) {
		mem := o.Broker.(*broker.Memory)
		o.Broker = unavailableHistory{mem}
		o.Logger = zap.New(core)
	})
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{}}`)
	c.next()
	c.send(`{"id":2,"subscribe":{"channel":"chat:a"}}`)
	if r := c.next(); !strings.Contains(r, `"code":100`) || !strings.Contains(r, `"temporary":true`) {
		t.Fatalf("reply %s, want error 100, temporary", r)
	}
	entries := logs.FilterMessage("subscribe failed: broker error").All()
	if len(entries) != 1 {
		t.Fatalf("%d log lines, want 1", len(entries))
	}
	f := entries[0].ContextMap()
	if f["channel"] != "chat:a" || len(f["session"].(string)) != 16 || !strings.Contains(f["error"].(string), "history store unavailable") {
		t.Fatalf("log fields %v", f)
	}
}
