package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
	"github.com/xh-control/gateway/pkg/session"
)

var _ serverapi.Node = (*Node)(nil)

func TestServerSideSubscriptionsFromToken(t *testing.T) {
	env := startNode(t, nil)
	env.publish(t, "chat:srv", 1, 2)
	c := dialJSON(t, env.url, nil)
	tok := token(t, jwt.MapClaims{"sub": "42", "channels": []string{"chat:srv", "news"},
		"subs": map[string]any{"news": map[string]any{"data": map[string]any{"welcome": true}}}})
	c.send(`{"id":1,"connect":{"token":"` + tok + `","subs":{"chat:srv":{"recover":true,"offset":1}}}}`)
	var r struct {
		Connect struct {
			Subs map[string]json.RawMessage `json:"subs"`
		} `json:"connect"`
	}
	s := c.next()
	if err := json.Unmarshal([]byte(s), &r); err != nil || len(r.Connect.Subs) != 2 {
		t.Fatalf("connect result %s", s)
	}
	var chat subscribeResult
	json.Unmarshal([]byte(`{"subscribe":`+string(r.Connect.Subs["chat:srv"])+`}`), &chat)
	if !chat.Subscribe.Recovered || len(chat.Subscribe.Publications) != 1 || chat.Subscribe.Publications[0].Offset != 2 {
		t.Fatalf("chat:srv result %s", r.Connect.Subs["chat:srv"])
	}
	if string(r.Connect.Subs["news"]) != `{"data":{"welcome":true}}` {
		t.Fatalf("news result %s", r.Connect.Subs["news"])
	}
	c.nextNonPing() // our own join in chat:srv
	env.publish(t, "news", 1, 1)
	expectJSON(t, c.nextNonPing(), `{"push":{"channel":"news","pub":{"data":1}}}`)
}

func TestJoinLeave(t *testing.T) {
	env := startNode(t, nil)
	a := dialJSON(t, env.url, nil)
	a.connect("")
	a.send(`{"id":2,"subscribe":{"channel":"chat:jl"}}`)
	a.next()
	aID := strings.Trim(strings.Split(a.next(), `"client":`)[1], `"}`) // own join
	b := dialJSON(t, env.url, nil)
	bID := b.connect(token(t, jwt.MapClaims{"sub": "7", "info": map[string]any{"n": 1}}))
	b.send(`{"id":2,"subscribe":{"channel":"chat:jl"}}`)
	expectJSON(t, a.next(), `{"push":{"channel":"chat:jl","join":{"info":{"user":"7","client":"`+bID+`","conn_info":{"n":1}}}}}`)
	b.send(`{"id":3,"unsubscribe":{"channel":"chat:jl"}}`)
	expectJSON(t, a.next(), `{"push":{"channel":"chat:jl","leave":{"info":{"user":"7","client":"`+bID+`","conn_info":{"n":1}}}}}`)
	_ = aID
	// Presence follows.
	st, err := env.node.PresenceStats(context.Background(), "chat:jl")
	if err != nil || st != (broker.PresenceStats{NumClients: 1, NumUsers: 1}) {
		t.Fatalf("presence stats %+v %v", st, err)
	}
}

func TestServerAPI(t *testing.T) {
	env := startNode(t, nil)
	ctx := context.Background()
	n := env.node
	c := dialJSON(t, env.url, nil)
	id := c.connect(token(t, jwt.MapClaims{"sub": "u1"}))

	if err := n.Subscribe(ctx, serverapi.SubscribeRequest{User: "u1", Channel: "chat:api", Data: []byte(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	r := c.nextNonPing()
	if !strings.HasPrefix(r, `{"push":{"channel":"chat:api","subscribe":{"recoverable":true,"epoch":"`) || !strings.HasSuffix(r, `"positioned":true,"data":{"x":1}}}}`) {
		t.Fatalf("subscribe push %s", r)
	}
	_, subEpoch := cutEpoch(r)
	c.nextNonPing() // own join
	for offset := 1; offset <= 2; offset++ {
		if _, err := n.Publish(ctx, "chat:api", []byte(`"p"`), serverapi.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		// The stream's first publication carries its epoch (protocol
		// field 14, as Centrifuge sends it); later ones do not.
		line, epoch := cutEpoch(c.nextNonPing())
		expectJSON(t, line, fmt.Sprintf(`{"push":{"channel":"chat:api","pub":{"data":"p","offset":%d}}}`, offset))
		if want := map[bool]string{true: subEpoch}[offset == 1]; epoch != want || subEpoch == "" {
			t.Fatalf("publication %d epoch %q, want %q (the subscribe push's %q)", offset, epoch, want, subEpoch)
		}
	}
	chans, _ := n.Channels(ctx, "chat:*")
	if len(chans) != 1 || chans["chat:api"] != 1 {
		t.Fatalf("channels %v", chans)
	}
	if chans, _ := n.Channels(ctx, "news*"); len(chans) != 0 {
		t.Fatalf("channels news* %v", chans)
	}
	info, _ := n.Info(ctx)
	if len(info) != 1 || info[0].NumClients != 1 || info[0].NumUsers != 1 || info[0].NumSubs != 1 || info[0].NumChannels != 1 {
		t.Fatalf("info %+v", info)
	}
	for _, tc := range []struct {
		err  error
		want *Error
	}{
		{func() error { _, err := n.Publish(ctx, "nope:x", []byte("1"), serverapi.PublishOptions{}); return err }(), ErrorUnknownChannel},
		{func() error { _, err := n.Publish(ctx, "a", nil, serverapi.PublishOptions{}); return err }(), ErrorBadRequest},
		{func() error { _, err := n.Presence(ctx, "a"); return err }(), ErrorNotAvailable},
		{func() error { _, _, err := n.History(ctx, "a", broker.HistoryOptions{}); return err }(), ErrorNotAvailable},
		{func() error {
			_, _, err := n.History(ctx, "chat:api", broker.HistoryOptions{Since: &broker.StreamPosition{Epoch: "x"}})
			return err
		}(), ErrorUnrecoverablePosition},
		{n.HistoryRemove(ctx, "a"), ErrorNotAvailable},
	} {
		if tc.err != tc.want {
			t.Errorf("got %v, want %v", tc.err, tc.want)
		}
	}
	if err := n.Unsubscribe(ctx, serverapi.UnsubscribeRequest{Client: id, Channel: "chat:api"}); err != nil {
		t.Fatal(err)
	}
	expectJSON(t, c.nextNonPing(), `{"push":{"channel":"chat:api","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}`)
	sid, _ := session.ParseID(id)
	if !n.SendMessage(sid, []byte(`{"m":1}`)) {
		t.Fatal("SendMessage: session not found")
	}
	expectJSON(t, c.nextNonPing(), `{"push":{"message":{"data":{"m":1}}}}`)
	if err := n.Disconnect(ctx, serverapi.DisconnectRequest{User: "u1", Whitelist: []string{id}}); err != nil {
		t.Fatal(err)
	}
	c.send(`{"id":9,"rpc":{}}`) // the whitelisted client is still connected
	expectJSON(t, c.nextNonPing(), `{"id":9,"error":{"code":104,"message":"method not found"}}`)
	n.Disconnect(ctx, serverapi.DisconnectRequest{User: "u1", Code: 4501, Reason: "bye"})
	c.expectClose(4501)

	d := dialJSON(t, env.url, nil)
	d.connect(token(t, jwt.MapClaims{"sub": "u2"}))
	n.Refresh(ctx, serverapi.RefreshRequest{User: "u2", ExpireAt: time.Now().Unix() + 100})
	if r := d.nextNonPing(); r != `{"push":{"refresh":{"expires":true,"ttl":100}}}` && r != `{"push":{"refresh":{"expires":true,"ttl":99}}}` {
		t.Fatalf("refresh push %s", r)
	}
	if err := n.Unsubscribe(ctx, serverapi.UnsubscribeRequest{User: "u2", Channel: "nope:x"}); err != ErrorUnknownChannel {
		t.Fatalf("unsubscribe from an unknown namespace: %v", err)
	}
	n.Refresh(ctx, serverapi.RefreshRequest{User: "u2", Expired: true})
	d.expectClose(3005)
}
