package natsbroker

import (
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// Presence counts every node's clients; a node that dies (closed without
// removing its entries) loses them within the TTL while a live node that
// refreshes keeps its own.
func TestPresenceAcrossNodesAndExpiry(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	const ttl = time.Second
	short := func(o *Options) { o.PresenceTTL = ttl }
	a, _ := newEngine(t, url, "a", short)
	b, _ := newEngine(t, url, "b", short)
	const ch = "room.1 *"
	add := func(n *Broker, client, user string) {
		t.Helper()
		if err := n.AddPresence(ctx(t), ch, &broker.ClientInfo{ClientID: client, UserID: user, ConnInfo: []byte(client)}); err != nil {
			t.Fatal(err)
		}
	}
	add(a, "a1", "u1")
	add(a, "a2", "u2")
	add(b, "b1", "u1")
	add(b, "b2", "")
	if err := b.AddPresence(ctx(t), "other", &broker.ClientInfo{ClientID: "o1", UserID: "u9"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Broker{a, b} {
		p, err := n.Presence(ctx(t), ch)
		if err != nil || len(p) != 4 || p["a2"].UserID != "u2" || string(p["b1"].ConnInfo) != "b1" || p["o1"] != nil {
			t.Fatalf("%s: presence %v %v", n.opts.Name, p, err)
		}
		st, err := n.PresenceStats(ctx(t), ch)
		if err != nil || st != (broker.PresenceStats{NumClients: 4, NumUsers: 3}) {
			t.Fatalf("%s: stats %+v %v", n.opts.Name, st, err)
		}
	}
	if err := b.RemovePresence(ctx(t), ch, "b2", ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.PresenceStats(ctx(t), ch); st != (broker.PresenceStats{NumClients: 3, NumUsers: 2}) {
		t.Fatalf("after remove: %+v", st)
	}
	if p, err := a.Presence(ctx(t), "empty"); err != nil || p == nil || len(p) != 0 {
		t.Fatalf("empty channel: %v %v", p, err)
	}

	// a dies; b refreshes its client more often than the TTL.
	_ = a.Close(ctx(t))
	died := time.Now()
	for time.Since(died) < ttl+time.Second {
		add(b, "b1", "u1")
		time.Sleep(ttl / 4)
	}
	p, err := b.Presence(ctx(t), ch)
	if err != nil || len(p) != 1 || p["b1"] == nil {
		t.Fatalf("after a died: %v %v", p, err)
	}
	if st, _ := b.PresenceStats(ctx(t), ch); st != (broker.PresenceStats{NumClients: 1, NumUsers: 1}) {
		t.Fatalf("stats after a died: %+v", st)
	}
}
