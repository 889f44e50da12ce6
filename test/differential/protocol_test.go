package differential

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// knownProtocol lists the protocol steps where the gateway differs from
// Centrifugo on purpose, and why.
var knownProtocol = map[string]string{
	// Issue #10: rpc is answered "method not found" until backends can be
	// configured; Centrifugo without an RPC proxy answers 108.
	"rpc": "rpc answers 104 method not found (issue #10), Centrifugo 108 not available",
}

// TestProtocolConnect covers connect: anonymous, with a token, with an
// expired, badly signed or malformed token, commands before connect, a
// second connect, a malformed frame, unknown commands.
func TestProtocolConnect(t *testing.T) {
	run(t, "connect", knownProtocol, func(t *testing.T, s *server, tr *transcript) {
		c := dial(t, s)
		c.connect(tr, "anonymous connect", "")
		c.send(`{"id":2,"connect":{}}`)
		c.expectClose(tr, "second connect")

		c = dial(t, s)
		c.connect(tr, "connect with token", token(map[string]any{"sub": "u2", "exp": time.Now().Add(time.Hour).Unix(), "info": map[string]any{"n": 1}}))
		c.send(`{"id":2,"rpc":{"method":"m","data":{}}}`)
		c.expect(tr, "rpc", 1)
		c.send(fmt.Sprintf(`{"id":4,"refresh":{"token":%q}}`, token(map[string]any{"sub": "u2", "exp": time.Now().Add(2 * time.Hour).Unix()})))
		c.expect(tr, "refresh", 1)
		c.send(fmt.Sprintf(`{"id":5,"refresh":{"token":%q}}`, token(map[string]any{"sub": "other", "exp": time.Now().Add(2 * time.Hour).Unix()})))
		c.expectClose(tr, "refresh with another user's token")

		c = dial(t, s)
		c.connect(tr, "connect for unknown command", userToken("u2"))
		c.send(`{"id":3,"nope":{}}`)
		c.expectClose(tr, "unknown command")

		c = dial(t, s)
		c.connect(tr, "connect with token without exp", token(map[string]any{"sub": "u3"}))
		c.send(`{"id":2,"subscribe":{"channel":"chat:c"}`)
		c.expectClose(tr, "malformed JSON")

		c = dial(t, s)
		c.connect(tr, "expired token", token(map[string]any{"sub": "u4", "exp": time.Now().Add(-time.Minute).Unix()}))

		c = dial(t, s)
		c.send(fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, token(map[string]any{"sub": "u5"})+"x"))
		c.expectClose(tr, "bad signature")

		c = dial(t, s)
		c.send(`{"id":1,"connect":{"token":"not-a-jwt"}}`)
		c.expectClose(tr, "malformed token")

		c = dial(t, s)
		c.send(`{"id":1,"subscribe":{"channel":"chat:c"}}`)
		c.expectClose(tr, "subscribe before connect")

		c = dial(t, s)
		c.send(`not json`)
		c.expectClose(tr, "garbage first frame")

		c = dial(t, s)
		c.send(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"chat:c"}}` + "\n" + `{"id":3,"presence_stats":{"channel":"chat:c"}}`)
		c.expect(tr, "connect and subscribe in one frame", 3)

		// Server-side subscriptions from the token's channels claim, and
		// the info claim in presence.
		c = dial(t, s)
		c.connect(tr, "connect with channels claim", token(map[string]any{"sub": "u6", "channels": []string{"chat:srv"}, "info": map[string]any{"a": 1}}))
		c.send(`{"id":2,"presence":{"channel":"chat:srv"}}`)
		c.expect(tr, "presence of a server-side subscription", 1)

		// Private channels take a subscription token.
		c = dial(t, s)
		c.connect(tr, "connect for private", userToken("u7"))
		c.send(fmt.Sprintf(`{"id":2,"subscribe":{"channel":"$chat:priv","token":%q}}`,
			token(map[string]any{"sub": "u7", "channel": "$chat:priv", "exp": time.Now().Add(time.Hour).Unix(), "info": map[string]any{"b": 2}})))
		c.expect(tr, "private channel with token", 1)
		c.send(`{"id":3,"presence":{"channel":"$chat:priv"}}`)
		c.expect(tr, "presence with channel info", 1)
		c.send(fmt.Sprintf(`{"id":4,"subscribe":{"channel":"$chat:other","token":%q}}`,
			token(map[string]any{"sub": "u7", "channel": "$chat:priv"})))
		c.expect(tr, "subscription token for another channel", 1)
		c = dial(t, s)
		c.connect(tr, "connect for private 2", userToken("u7"))
		c.send(fmt.Sprintf(`{"id":5,"subscribe":{"channel":"$chat:third","token":%q}}`,
			token(map[string]any{"sub": "u8", "channel": "$chat:third"})))
		c.expect(tr, "subscription token for another user", 1)
		c = dial(t, s)
		c.connect(tr, "connect for private 3", userToken("u7"))
		c.send(fmt.Sprintf(`{"id":6,"subscribe":{"channel":"$chat:fourth","token":%q}}`,
			token(map[string]any{"sub": "u7", "channel": "$chat:fourth", "exp": time.Now().Add(-time.Minute).Unix()})))
		c.expect(tr, "expired subscription token", 1)
	})
}

// TestProtocolChannels covers subscribe, publish, history, presence,
// presence_stats and unsubscribe, batched in one frame, and every error
// reply.
func TestProtocolChannels(t *testing.T) {
	run(t, "channels", knownProtocol, channelsScenario)
}

// TestProtocolChannelsProtobuf: the same over centrifuge-protobuf, with the
// same transcript.
func TestProtocolChannelsProtobuf(t *testing.T) {
	runProtobuf(t, "channels", knownProtocol, channelsScenario)
}

func channelsScenario(t *testing.T, s *server, tr *transcript) {
	{
		c := dial(t, s)
		c.connect(tr, "connect", userToken("p1"))
		c.send(`{"id":2,"subscribe":{"channel":"chat:p"}}` + "\n" +
			`{"id":3,"publish":{"channel":"chat:p","data":{"n":1}}}` + "\n" +
			`{"id":4,"presence":{"channel":"chat:p"}}` + "\n" +
			`{"id":5,"presence_stats":{"channel":"chat:p"}}` + "\n" +
			`{"id":6,"history":{"channel":"chat:p","limit":10}}`)
		// Five replies and the publication push.
		c.expect(tr, "batched frame", 6)
		c.send(`{"id":7,"history":{"channel":"chat:p","limit":-1,"since":{"offset":0,"epoch":"wrong"}}}`)
		c.expect(tr, "history epoch mismatch", 1)
		c.send(`{"id":8,"history":{"channel":"chat:p","limit":1,"reverse":true}}`)
		c.expect(tr, "history reverse", 1)
		c.send(`{"id":9,"history":{"channel":"chat:p"}}`)
		c.expect(tr, "history position only", 1)
		c.send(`{"id":10,"subscribe":{"channel":"chat:p"}}`)
		c.expect(tr, "already subscribed", 1)
		c.send(`{"id":11,"subscribe":{"channel":"nope:x"}}`)
		c.expect(tr, "unknown namespace", 1)
		c.send(`{"id":12,"subscribe":{"channel":"locked:x"}}`)
		c.expect(tr, "subscribe permission denied", 1)
		c.send(`{"id":13,"publish":{"channel":"locked:x","data":1}}`)
		c.expect(tr, "publish permission denied", 1)
		c.send(`{"id":14,"subscribe":{"channel":"bare:x"}}`)
		c.expect(tr, "subscribe bare", 1)
		c.send(`{"id":15,"presence":{"channel":"bare:x"}}`)
		c.expect(tr, "presence not available", 1)
		c.send(`{"id":16,"history":{"channel":"bare:x"}}`)
		c.expect(tr, "history not available", 1)
		c.send(`{"id":17,"presence_stats":{"channel":"locked:x"}}`)
		c.expect(tr, "presence_stats permission denied", 1)
		c.send(`{"id":18,"publish":{"channel":"chat:p"}}`)
		c.expect(tr, "publish without data", 1)
		c.send(`{"id":19,"unsubscribe":{"channel":"chat:p"}}`)
		c.expect(tr, "unsubscribe", 1)
		c.send(`{"id":20,"unsubscribe":{"channel":"chat:p"}}`)
		c.expect(tr, "unsubscribe again", 1)
		c.send(`{"id":21,"publish":{"channel":"chat:p","data":{"n":2}}}`)
		c.expect(tr, "publish without subscription", 1)
		c.send(`{"id":22,"history":{"channel":"chat:p","limit":-1}}`)
		c.expect(tr, "history without subscription", 1)
		c.send(`{"id":23,"subscribe":{"channel":"$chat:private"}}`)
		c.expect(tr, "private channel without token", 1)
		c.send(`{"id":24,"subscribe":{"channel":"chat:room#p1"}}`)
		c.expect(tr, "user-limited channel where not allowed", 1)
		c.send(`{"id":25,"history":{"channel":"chat:p","limit":1000}}`)
		c.expect(tr, "history limit over the maximum", 1)
		c.send(`{"id":27,"subscribe":{"channel":"chat:` + strings.Repeat("x", 300) + `"}}`)
		c.expect(tr, "channel name too long", 1)
		c.send(`{"id":28,"subscribe":{"channel":""}}`)
		c.expectClose(tr, "subscribe empty channel")

		// send without a handler for it closes with 3508.
		c = dial(t, s)
		c.connect(tr, "connect for send", userToken("p1"))
		c.send(`{"send":{"data":{"x":1}}}` + "\n" + `{"id":2,"presence_stats":{"channel":"chat:p"}}`)
		c.expectClose(tr, "send, then a command")
	}
}

// TestProtocolJoinLeave: a second client's subscribe and unsubscribe reach
// the first as join and leave pushes.
func TestProtocolJoinLeave(t *testing.T) {
	run(t, "joinleave", knownProtocol, func(t *testing.T, s *server, tr *transcript) {
		a := dial(t, s)
		a.connect(tr, "a connect", userToken("ja"))
		// Join and leave pushes are sent to subscribers that ask for them.
		a.send(`{"id":2,"subscribe":{"channel":"chat:jl","join_leave":true}}`)
		a.expect(tr, "a subscribe", 1)
		b := dial(t, s)
		b.connect(tr, "b connect", userToken("jb"))
		b.send(`{"id":2,"subscribe":{"channel":"chat:jl"}}`)
		b.expect(tr, "b subscribe", 1)
		// a's own join, then b's.
		a.expect(tr, "a sees joins", 2)
		b.send(`{"id":3,"presence":{"channel":"chat:jl"}}`)
		b.expect(tr, "b presence", 1)
		b.send(`{"id":4,"unsubscribe":{"channel":"chat:jl"}}`)
		b.expect(tr, "b unsubscribe", 1)
		a.expect(tr, "a sees leave", 1)
	})
}

// TestProtocolRecovery: a client resubscribing with the position it had
// gets exactly the publications it missed; a wrong epoch or a position
// past the history window is not recovered.
func TestProtocolRecovery(t *testing.T) {
	run(t, "recovery", knownProtocol, recoveryScenario)
}

// TestProtocolRecoveryProtobuf: the same over centrifuge-protobuf, with the
// same transcript.
func TestProtocolRecoveryProtobuf(t *testing.T) {
	runProtobuf(t, "recovery", knownProtocol, recoveryScenario)
}

func recoveryScenario(t *testing.T, s *server, tr *transcript) {
	{
		a := dial(t, s)
		a.connect(tr, "connect", userToken("r1"))
		a.send(`{"id":2,"subscribe":{"channel":"chat:rec","recover":true}}`)
		rep := a.expect(tr, "subscribe", 1)
		sub, _ := rep[0]["subscribe"].(map[string]any)
		epoch, _ := sub["epoch"].(string)
		for i := 1; i <= 3; i++ {
			api(t, s, tr, fmt.Sprintf("publish %d", i), "publish", fmt.Sprintf(`{"channel":"chat:rec","data":{"n":%d}}`, i))
		}
		a.expect(tr, "three publications", 3)
		a.c.Close()

		b := dial(t, s)
		b.connect(tr, "reconnect", userToken("r1"))
		b.send(fmt.Sprintf(`{"id":2,"subscribe":{"channel":"chat:rec","recover":true,"offset":1,"epoch":%q}}`, epoch))
		b.expect(tr, "recover from 1", 1)
		b.send(`{"id":3,"unsubscribe":{"channel":"chat:rec"}}`)
		b.expect(tr, "unsubscribe", 1)
		b.send(fmt.Sprintf(`{"id":4,"subscribe":{"channel":"chat:rec","recover":true,"offset":3,"epoch":%q}}`, epoch))
		b.expect(tr, "recover from top", 1)
		b.send(`{"id":5,"unsubscribe":{"channel":"chat:rec"}}`)
		b.expect(tr, "unsubscribe 2", 1)
		b.send(`{"id":6,"subscribe":{"channel":"chat:rec","recover":true,"offset":1,"epoch":"wrong"}}`)
		b.expect(tr, "recover wrong epoch", 1)
		b.send(`{"id":7,"unsubscribe":{"channel":"chat:rec"}}`)
		b.expect(tr, "unsubscribe 3", 1)
		// history_size is 10: after 12 more, offset 1 is out of the window.
		for i := 4; i <= 15; i++ {
			api(t, s, tr, fmt.Sprintf("publish %d", i), "publish", fmt.Sprintf(`{"channel":"chat:rec","data":{"n":%d}}`, i))
		}
		b.send(fmt.Sprintf(`{"id":8,"subscribe":{"channel":"chat:rec","recover":true,"offset":1,"epoch":%q}}`, epoch))
		b.expect(tr, "recover past the window", 1)
		b.send(fmt.Sprintf(`{"id":9,"history":{"channel":"chat:rec","limit":-1,"since":{"offset":1,"epoch":%q}}}`, epoch))
		b.expect(tr, "history past the window", 1)
	}
}
