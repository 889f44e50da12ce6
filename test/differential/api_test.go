package differential

import (
	"fmt"
	"testing"
	"time"
)

// knownAPI lists the API steps where the gateway differs from Centrifugo on
// purpose, and why.
var knownAPI = map[string]string{}

// TestServerAPI sends every server API method, the auth and transport
// failures and the legacy form to both servers.
func TestServerAPI(t *testing.T) {
	run(t, "api", knownAPI, func(t *testing.T, s *server, tr *transcript) {
		// One connected, subscribed client makes presence, channels and
		// info non-empty and receives what the API sends it.
		c := dial(t, s)
		c.connect(tr, "ws connect u1", token(map[string]any{"sub": "u1", "info": map[string]any{"role": "tester"}}))
		c.send(`{"id":2,"subscribe":{"channel":"chat:api"}}`)
		c.expect(tr, "ws subscribe chat:api", 1)

		// Authentication and transport.
		call(t, s, tr, "no key", "POST", "/api/info", nil, `{}`)
		call(t, s, tr, "wrong key", "POST", "/api/info", map[string]string{"X-API-Key": "nope"}, `{}`)
		call(t, s, tr, "authorization apikey", "POST", "/api/info", map[string]string{"Authorization": "apikey " + apiKey}, `{}`)
		call(t, s, tr, "authorization APIKEY", "POST", "/api/info", map[string]string{"Authorization": "APIKEY " + apiKey}, `{}`)
		call(t, s, tr, "authorization bearer", "POST", "/api/info", map[string]string{"Authorization": "Bearer " + apiKey}, `{}`)
		call(t, s, tr, "query key", "POST", "/api/info?api_key="+apiKey, nil, `{}`)
		call(t, s, tr, "wrong header, right query", "POST", "/api/info?api_key="+apiKey, map[string]string{"X-API-Key": "nope"}, `{}`)
		call(t, s, tr, "GET", "GET", "/api/info", map[string]string{"X-API-Key": apiKey}, ``)
		call(t, s, tr, "unknown method", "POST", "/api/nope", map[string]string{"X-API-Key": apiKey}, `{}`)
		call(t, s, tr, "unknown method without key", "POST", "/api/nope", nil, `{}`)
		api(t, s, tr, "bad JSON", "publish", `{"channel":`)
		api(t, s, tr, "empty body", "publish", ``)
		api(t, s, tr, "wrong field type", "publish", `{"channel":5,"data":{}}`)
		api(t, s, tr, "limit over int32", "history", `{"channel":"chat:api","limit":3000000000}`)

		// publish
		api(t, s, tr, "publish", "publish", `{"channel":"chat:api","data":{"text":"one"}}`)
		c.expect(tr, "ws publication 1", 1)
		api(t, s, tr, "publish tags", "publish", `{"channel":"chat:api","data":{"text":"two"},"tags":{"k":"v"}}`)
		c.expect(tr, "ws publication 2", 1)
		api(t, s, tr, "publish b64data", "publish", `{"channel":"chat:api","b64data":"eyJiIjoxfQ=="}`)
		c.expect(tr, "ws publication 3", 1)
		api(t, s, tr, "publish idempotent", "publish", `{"channel":"chat:api","data":4,"idempotency_key":"k4"}`)
		c.expect(tr, "ws publication 4", 1)
		api(t, s, tr, "publish idempotent again", "publish", `{"channel":"chat:api","data":4,"idempotency_key":"k4"}`)
		api(t, s, tr, "publish skip_history", "publish", `{"channel":"chat:api","data":5,"skip_history":true}`)
		c.expect(tr, "ws publication 5", 1)
		api(t, s, tr, "publish no history namespace", "publish", `{"channel":"plain","data":1}`)
		api(t, s, tr, "publish unknown namespace", "publish", `{"channel":"nope:x","data":1}`)
		api(t, s, tr, "publish unknown namespace, no data", "publish", `{"channel":"nope:x"}`)
		api(t, s, tr, "publish no channel", "publish", `{"data":1}`)
		api(t, s, tr, "publish no data", "publish", `{"channel":"chat:api"}`)
		api(t, s, tr, "publish bad b64data", "publish", `{"channel":"chat:api","b64data":"!"}`)
		call(t, s, tr, "publish error, transport mode", "POST", "/api/publish",
			map[string]string{"X-API-Key": apiKey, "X-Centrifugo-Error-Mode": "transport"}, `{"channel":"nope:x","data":1}`)
		call(t, s, tr, "publish ok, transport mode", "POST", "/api/publish",
			map[string]string{"X-API-Key": apiKey, "X-Centrifugo-Error-Mode": "transport"}, `{"channel":"plain","data":1}`)

		// broadcast
		api(t, s, tr, "broadcast", "broadcast", `{"channels":["chat:api","nope:x","","plain"],"data":{"b":true}}`)
		c.expect(tr, "ws broadcast publication", 1)
		api(t, s, tr, "broadcast no channels", "broadcast", `{"channels":[],"data":1}`)

		// history
		api(t, s, tr, "history all", "history", `{"channel":"chat:api","limit":-1}`)
		api(t, s, tr, "history position only", "history", `{"channel":"chat:api"}`)
		api(t, s, tr, "history limit 2", "history", `{"channel":"chat:api","limit":2}`)
		api(t, s, tr, "history reverse limit 2", "history", `{"channel":"chat:api","limit":2,"reverse":true}`)
		epoch := historyEpoch(t, s)
		api(t, s, tr, "history since 2", "history", fmt.Sprintf(`{"channel":"chat:api","limit":-1,"since":{"offset":2,"epoch":%q}}`, epoch))
		api(t, s, tr, "history since 2 reverse", "history", fmt.Sprintf(`{"channel":"chat:api","limit":-1,"reverse":true,"since":{"offset":2,"epoch":%q}}`, epoch))
		api(t, s, tr, "history since top", "history", fmt.Sprintf(`{"channel":"chat:api","limit":-1,"since":{"offset":5,"epoch":%q}}`, epoch))
		api(t, s, tr, "history epoch mismatch", "history", `{"channel":"chat:api","limit":-1,"since":{"offset":1,"epoch":"wrong"}}`)
		call(t, s, tr, "history epoch mismatch, transport mode", "POST", "/api/history",
			map[string]string{"X-API-Key": apiKey, "X-Centrifugo-Error-Mode": "transport"}, `{"channel":"chat:api","since":{"offset":1,"epoch":"wrong"}}`)
		api(t, s, tr, "history no history", "history", `{"channel":"plain"}`)
		api(t, s, tr, "history unknown", "history", `{"channel":"nope:x"}`)
		api(t, s, tr, "history no channel", "history", `{}`)
		api(t, s, tr, "history empty channel", "history", `{"channel":"chat:never","limit":-1}`)

		// presence
		api(t, s, tr, "presence", "presence", `{"channel":"chat:api"}`)
		api(t, s, tr, "presence_stats", "presence_stats", `{"channel":"chat:api"}`)
		api(t, s, tr, "presence empty", "presence", `{"channel":"chat:nobody"}`)
		api(t, s, tr, "presence_stats empty", "presence_stats", `{"channel":"chat:nobody"}`)
		api(t, s, tr, "presence off", "presence", `{"channel":"plain"}`)
		api(t, s, tr, "presence_stats off", "presence_stats", `{"channel":"plain"}`)
		api(t, s, tr, "presence unknown", "presence", `{"channel":"nope:x"}`)
		api(t, s, tr, "presence no channel", "presence", `{}`)
		api(t, s, tr, "presence_stats no channel", "presence_stats", `{}`)

		// channels and info
		api(t, s, tr, "channels", "channels", `{"pattern":"chat:api*"}`)
		api(t, s, tr, "channels none", "channels", `{"pattern":"zzz*"}`)
		api(t, s, tr, "info", "info", `{}`)

		// rpc
		api(t, s, tr, "rpc unknown", "rpc", `{"method":"nope","params":{}}`)
		api(t, s, tr, "rpc no method", "rpc", `{}`)

		// subscribe / unsubscribe / refresh by the server
		api(t, s, tr, "subscribe", "subscribe", `{"user":"u1","channel":"chat:api2","data":{"hello":1}}`)
		c.expect(tr, "ws server subscribe push", 1)
		api(t, s, tr, "subscribe unknown", "subscribe", `{"user":"u1","channel":"nope:x"}`)
		api(t, s, tr, "subscribe no channel", "subscribe", `{"user":"u1"}`)
		api(t, s, tr, "channels after subscribe", "channels", `{"pattern":"chat:api*"}`)
		api(t, s, tr, "unsubscribe", "unsubscribe", `{"user":"u1","channel":"chat:api2"}`)
		c.expect(tr, "ws server unsubscribe push", 1)
		api(t, s, tr, "unsubscribe unknown", "unsubscribe", `{"user":"u1","channel":"nope:x"}`)
		api(t, s, tr, "unsubscribe nobody", "unsubscribe", `{"user":"nobody","channel":"chat:api"}`)
		api(t, s, tr, "refresh nobody", "refresh", `{"user":"nobody","expire_at":1}`)

		// history_remove
		api(t, s, tr, "history_remove", "history_remove", `{"channel":"chat:api"}`)
		api(t, s, tr, "history after remove", "history", `{"channel":"chat:api","limit":-1}`)
		api(t, s, tr, "history_remove no history", "history_remove", `{"channel":"plain"}`)
		api(t, s, tr, "history_remove unknown", "history_remove", `{"channel":"nope:x"}`)
		api(t, s, tr, "history_remove no channel", "history_remove", `{}`)

		// batch
		batch := `[{"publish":{"channel":"chat:batch","data":1}},{"presence":{"channel":"plain"}},null,{"connections":{}},{},` +
			`{"history":{"channel":"chat:batch","limit":-1}},{"rpc":{"method":"x"}},{"presence_stats":{"channel":"chat:api"}}]`
		api(t, s, tr, "batch", "batch", `{"commands":`+batch+`}`)
		api(t, s, tr, "batch empty", "batch", `{}`)
		api(t, s, tr, "batch bad command", "batch", `{"commands":[{"publish":{"channel":1}}]}`)
		api(t, s, tr, "batch parallel", "batch", `{"parallel":true,"commands":[{"presence_stats":{"channel":"chat:api"}},{"history":{"channel":"nope:x"}},{"info":{}}]}`)
		call(t, s, tr, "batch transport mode", "POST", "/api/batch",
			map[string]string{"X-API-Key": apiKey, "X-Centrifugo-Error-Mode": "transport"}, `{"commands":[{"history":{"channel":"nope:x"}}]}`)

		// the legacy form
		legacy := `{"id":1,"method":"presence_stats","params":{"channel":"chat:api"}}
{"method":"PUBLISH","params":{"channel":"plain","data":"x"}}
{"id":3,"method":5,"params":{"channel":"chat:api"}}
{"id":4,"method":"publish","params":{"channel":7}}
{"id":5,"method":99}
{"id":6,"method":"publish"}
{"id":7,"method":"history","params":{"channel":"nope:x"}}`
		call(t, s, tr, "legacy", "POST", "/api", map[string]string{"X-API-Key": apiKey}, legacy)
		call(t, s, tr, "legacy bad method name", "POST", "/api", map[string]string{"X-API-Key": apiKey}, `{"method":"nope"}`)
		call(t, s, tr, "legacy empty", "POST", "/api", map[string]string{"X-API-Key": apiKey}, ``)
		call(t, s, tr, "legacy no key", "POST", "/api", nil, `{"method":"info","params":{}}`)

		// refresh with expired: the server closes the connection.
		e := dial(t, s)
		e.connect(tr, "ws connect u9", userToken("u9"))
		api(t, s, tr, "refresh expired", "refresh", `{"user":"u9","expired":true}`)
		e.expectClose(tr, "ws closed by refresh expired")

		// subscribe one client of a user by client ID; refresh its expiry.
		f := dial(t, s)
		frep := f.connect(tr, "ws connect u7", userToken("u7"))
		f2 := dial(t, s)
		f2.connect(tr, "ws connect u7 again", userToken("u7"))
		api(t, s, tr, "subscribe by client", "subscribe",
			fmt.Sprintf(`{"user":"u7","client":%q,"channel":"chat:api3","override":{"presence":{"value":false}}}`, clientID(t, frep)))
		f.expect(tr, "ws u7 subscribed by client ID", 1)
		api(t, s, tr, "presence after override", "presence", `{"channel":"chat:api3"}`)
		api(t, s, tr, "refresh expire_at", "refresh",
			fmt.Sprintf(`{"user":"u7","client":%q,"expire_at":%d}`, clientID(t, frep), time.Now().Add(2*time.Hour).Unix()))
		f.expect(tr, "ws u7 refresh push", 1)
		f2.send(`{"id":2,"presence_stats":{"channel":"chat:api3"}}`)
		f2.expect(tr, "ws u7 other client not subscribed", 1)

		// disconnect by client ID, then by user with a whitelist.
		d := dial(t, s)
		rep := d.connect(tr, "ws connect u8", userToken("u8"))
		d2 := dial(t, s)
		rep2 := d2.connect(tr, "ws connect u8 again", userToken("u8"))
		api(t, s, tr, "disconnect user with whitelist", "disconnect",
			fmt.Sprintf(`{"user":"u8","whitelist":[%q]}`, clientID(t, rep2)))
		d.expectClose(tr, "ws disconnected, not whitelisted")
		api(t, s, tr, "disconnect client", "disconnect", fmt.Sprintf(`{"user":"u8","client":%q,"disconnect":{"code":4000,"reason":"again"}}`, clientID(t, rep2)))
		d2.expectClose(tr, "ws disconnected by client ID")
		_ = rep

		// disconnect last: the client goes.
		api(t, s, tr, "disconnect nobody", "disconnect", `{"user":"nobody"}`)
		api(t, s, tr, "disconnect", "disconnect", `{"user":"u1","disconnect":{"code":4501,"reason":"bye"}}`)
		c.expectClose(tr, "ws disconnected by API")
	})
}

// historyEpoch reads the epoch of chat:api without recording it.
func historyEpoch(t *testing.T, s *server) string {
	t.Helper()
	tr := newTranscript()
	b := api(t, s, tr, "epoch", "history", `{"channel":"chat:api"}`)
	m, _ := b.(map[string]any)
	res, _ := m["result"].(map[string]any)
	for raw, alias := range tr.alias {
		if alias == res["epoch"] {
			return raw
		}
	}
	t.Fatalf("no epoch in %v", b)
	return ""
}
