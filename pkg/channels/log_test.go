package channels

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

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
