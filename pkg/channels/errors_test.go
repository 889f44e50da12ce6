package channels

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/xh-control/gateway/pkg/poller"
)

// step sends one message and expects replies (exact JSON lines) or a close.
type step struct {
	send  []string
	want  []string
	close int
}

func runSteps(t *testing.T, env *testEnv, steps []step) {
	t.Helper()
	c := dialJSON(t, env.url, nil)
	for i, s := range steps {
		if s.send != nil {
			c.send(s.send...)
		}
		for _, w := range s.want {
			got := c.nextNonPing()
			if got != w {
				t.Fatalf("step %d: got  %s\nwant %s", i, got, w)
			}
		}
		if s.close != 0 {
			c.expectClose(s.close)
		}
	}
}

const connectOK = `^connect`

func TestProtocolErrors(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) { o.ChannelLimit = 2 })
	future := time.Now().Add(time.Hour).Unix()
	tok42 := token(t, jwt.MapClaims{"sub": "42", "exp": future})
	conn := `{"id":1,"connect":{}}`
	conn42 := `{"id":1,"connect":{"token":"` + tok42 + `"}}`
	long := strings.Repeat("a", 256)
	subTok := func(ch, user string) string {
		return token(t, jwt.MapClaims{"sub": user, "channel": ch, "exp": future, "expire_at": 0})
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"empty message", []step{{send: []string{""}, close: 3501}}},
		{"malformed JSON", []step{{send: []string{`{"id":1,"connect":`}, close: 3501}}},
		{"blank line between commands", []step{{send: []string{conn, "", `{"id":2,"rpc":{}}`}, close: 3501}}},
		{"command before connect", []step{{send: []string{`{"id":1,"subscribe":{"channel":"a"}}`}, close: 3501}}},
		{"pong before connect", []step{{send: []string{`{}`}, close: 3501}}},
		{"second connect", []step{{send: []string{conn}}, {send: []string{`{"id":2,"connect":{}}`}, close: 3501}}},
		{"invalid token", []step{{send: []string{`{"id":1,"connect":{"token":"x.y.z"}}`}, close: 3500}}},
		{"expired token", []step{
			{send: []string{`{"id":1,"connect":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": time.Now().Add(-time.Minute).Unix()}) + `"}}`},
				want: []string{`{"id":1,"error":{"code":109,"message":"token expired"}}`}},
			{send: []string{`{"id":2,"rpc":{}}`}}, // ignored after a connect error
			{send: []string{`{"id":3,"connect":{}}`}},
		}},
		{"expire_at in the past", []step{
			{send: []string{`{"id":1,"connect":{"token":"` + token(t, jwt.MapClaims{"sub": "1", "exp": future, "expire_at": time.Now().Add(-time.Minute).Unix()}) + `"}}`},
				want: []string{`{"id":1,"error":{"code":110,"message":"expired"}}`}},
		}},
		{"unknown namespace", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"nope:x"}}`},
			want: []string{"*", `{"id":2,"error":{"code":102,"message":"unknown channel"}}`}}}},
		{"channel too long", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"` + long + `"}}`},
			want: []string{"*", `{"id":2,"error":{"code":107,"message":"bad request"}}`}}}},
		{"private without token", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"$secret"}}`},
			want: []string{"*", `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"private with token", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"$secret","token":"` + subTok("$secret", "42") + `"}}`},
			want: []string{"*", `{"id":2,"subscribe":{}}`}}}},
		{"subscription token of another user", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"$secret","token":"` + subTok("$secret", "43") + `"}}`},
			want: []string{"*"}, close: 3500}}},
		{"subscription token of another channel", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"$secret","token":"` + subTok("$other", "42") + `"}}`},
			want: []string{"*"}, close: 3500}}},
		{"invalid subscription token", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"$secret","token":"bad"}}`},
			want: []string{"*", `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"namespace without permission", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"priv:x"}}`},
			want: []string{"*", `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"already subscribed, channel limit", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"a"}}`, `{"id":3,"subscribe":{"channel":"a"}}`,
			`{"id":4,"subscribe":{"channel":"b"}}`, `{"id":5,"subscribe":{"channel":"c"}}`},
			want: []string{"*", `{"id":2,"subscribe":{}}`, `{"id":3,"error":{"code":105,"message":"already subscribed"}}`,
				`{"id":4,"subscribe":{}}`, `{"id":5,"error":{"code":106,"message":"limit exceeded"}}`}}}},
		{"user-limited channel", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"user:x#42,7"}}`, `{"id":3,"subscribe":{"channel":"user:x#43"}}`},
			want: []string{"*", `{"id":2,"subscribe":{}}`, `{"id":3,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"empty channel", []step{{send: []string{conn, `{"id":2,"subscribe":{}}`}, want: []string{"*"}, close: 3501}}},
		{"publish without data, denied, ok", []step{{send: []string{conn, `{"id":2,"publish":{"channel":"a"}}`, `{"id":3,"publish":{"channel":"priv:a","data":{}}}`, `{"id":4,"publish":{"channel":"a","data":1}}`},
			want: []string{"*", `{"id":2,"error":{"code":107,"message":"bad request"}}`, `{"id":3,"error":{"code":103,"message":"permission denied"}}`, `{"id":4,"publish":{}}`}}}},
		{"publish empty channel", []step{{send: []string{conn, `{"id":2,"publish":{"data":{}}}`}, want: []string{"*"}, close: 3501}}},
		{"presence and history not available", []step{{send: []string{conn, `{"id":2,"presence":{"channel":"a"}}`, `{"id":3,"presence_stats":{"channel":"a"}}`, `{"id":4,"history":{"channel":"a"}}`},
			want: []string{"*", `{"id":2,"error":{"code":108,"message":"not available"}}`, `{"id":3,"error":{"code":108,"message":"not available"}}`, `{"id":4,"error":{"code":108,"message":"not available"}}`}}}},
		{"history of an unsubscribed client", []step{{send: []string{conn, `{"id":2,"history":{"channel":"chat:h"}}`},
			want: []string{"*", `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"history epoch mismatch", []step{{send: []string{conn, `{"id":2,"subscribe":{"channel":"chat:e"}}`, `{"id":3,"history":{"channel":"chat:e","since":{"offset":0,"epoch":"nope"}}}`},
			want: []string{"*", "*", `{"id":3,"error":{"code":112,"message":"unrecoverable position"}}`, "*"}}}}, // and our own join
		{"rpc", []step{{send: []string{conn, `{"id":2,"rpc":{"method":"m"}}`}, want: []string{"*", `{"id":2,"error":{"code":104,"message":"method not found"}}`}}}},
		{"send", []step{{send: []string{conn, `{"send":{"data":{}}}`}, want: []string{"*"}, close: 3508}}},
		{"ping command", []step{{send: []string{conn, `{"id":2,"ping":{}}`}, want: []string{"*"}, close: 3501}}},
		{"empty command with id", []step{{send: []string{conn, `{"id":2}`}, want: []string{"*"}, close: 3501}}},
		{"pong without ping", []step{{send: []string{conn, `{}`}, want: []string{"*"}, close: 3501}}},
		{"unsubscribe not subscribed", []step{{send: []string{conn, `{"id":2,"unsubscribe":{"channel":"a"}}`}, want: []string{"*", `{"id":2,"unsubscribe":{}}`}}}},
		{"refresh without token", []step{{send: []string{conn, `{"id":2,"refresh":{}}`}, want: []string{"*"}, close: 3501}}},
		{"refresh with a bad token", []step{{send: []string{conn42, `{"id":2,"refresh":{"token":"bad"}}`}, want: []string{"*"}, close: 3500}}},
		{"refresh of another user", []step{{send: []string{conn42, `{"id":2,"refresh":{"token":"` + token(t, jwt.MapClaims{"sub": "7", "exp": future}) + `"}}`}, want: []string{"*"}, close: 3500}}},
		{"sub_refresh not subscribed", []step{{send: []string{conn42, `{"id":2,"sub_refresh":{"channel":"a","token":"x"}}`},
			want: []string{"*", `{"id":2,"error":{"code":103,"message":"permission denied"}}`}}}},
		{"sub_refresh without token", []step{{send: []string{conn42, `{"id":2,"subscribe":{"channel":"a"}}`, `{"id":3,"sub_refresh":{"channel":"a"}}`},
			want: []string{"*", "*", `{"id":3,"error":{"code":107,"message":"bad request"}}`}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialJSON(t, env.url, nil)
			for i, s := range tc.steps {
				if s.send != nil {
					c.send(s.send...)
				}
				for _, w := range s.want {
					got := c.nextNonPing()
					if w != "*" && got != w {
						t.Fatalf("step %d: got  %s\nwant %s", i, got, w)
					}
				}
				if s.close != 0 {
					c.expectClose(s.close)
				}
			}
			if tc.steps[len(tc.steps)-1].close == 0 {
				// Nothing more must come: no stray reply.
				if s, err := c.nextErr(100 * time.Millisecond); err == nil {
					t.Fatalf("unexpected message %s", s)
				}
			}
		})
	}
}

func TestConnectWithoutCredentials(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) { o.AllowAnonymousConnectWithoutToken = false })
	runSteps(t, env, []step{{send: []string{`{"id":1,"connect":{}}`}, close: 3501}})
}

func TestStaleConnection(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) { o.StaleCloseDelay = 200 * time.Millisecond })
	start := time.Now()
	runSteps(t, env, []step{{close: 3502}})
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("closed after %v, before the stale delay", d)
	}
}
