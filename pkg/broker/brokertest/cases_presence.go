package brokertest

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

func (e *env) presence(t *testing.T, ch string) map[string]*broker.ClientInfo {
	t.Helper()
	p, err := e.Presence.Presence(e.ctx, ch)
	if err != nil {
		t.Fatalf("Presence(%q): %v", ch, err)
	}
	return p
}

func (e *env) stats(t *testing.T, ch string) broker.PresenceStats {
	t.Helper()
	st, err := e.Presence.PresenceStats(e.ctx, ch)
	if err != nil {
		t.Fatalf("PresenceStats(%q): %v", ch, err)
	}
	return st
}

// wantPresence fails t unless channel's presence is exactly want, by
// client ID with equal fields, and its stats are clients/users.
func (e *env) wantPresence(t *testing.T, ch string, want []*broker.ClientInfo, clients, users int) {
	t.Helper()
	got := e.presence(t, ch)
	if got == nil {
		t.Fatalf("Presence(%q) returned a nil map", ch)
	}
	if len(got) != len(want) {
		t.Fatalf("presence has %d entries %v, want %d", len(got), keys(got), len(want))
	}
	for _, w := range want {
		g, ok := got[w.ClientID]
		if !ok || g == nil || !reflect.DeepEqual(*g, *w) {
			t.Fatalf("entry %q: %+v, want %+v", w.ClientID, g, w)
		}
	}
	if st := e.stats(t, ch); st != (broker.PresenceStats{NumClients: clients, NumUsers: users}) {
		t.Fatalf("stats %+v, want {%d %d}", st, clients, users)
	}
}

func keys(m map[string]*broker.ClientInfo) string {
	var k []string
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return strings.Join(k, ",")
}

// testPresence: entries by client ID; re-adding refreshes the entry;
// NumUsers counts distinct user IDs, anonymous ("") counting as one user
// (centrifuge's presence_memory.go).
func testPresence(t *testing.T, e *env) {
	e.needPresence(t)
	ch := e.ch("a")
	e.wantPresence(t, ch, nil, 0, 0)
	c1 := &broker.ClientInfo{ClientID: "c1", UserID: "u1", ConnInfo: []byte(`{"n":1}`)}
	c2 := &broker.ClientInfo{ClientID: "c2", UserID: "u1"}
	c3 := &broker.ClientInfo{ClientID: "c3", UserID: "u2", ChanInfo: []byte("x")}
	c4 := &broker.ClientInfo{ClientID: "c4"}
	c5 := &broker.ClientInfo{ClientID: "c5"}
	all := []*broker.ClientInfo{c1, c2, c3, c4, c5}
	for i, c := range all {
		mustNil(t, e.Presence.AddPresence(e.ctx, ch, c))
		users := map[int]int{0: 1, 1: 1, 2: 2, 3: 3, 4: 3}[i]
		e.wantPresence(t, ch, all[:i+1], i+1, users)
	}
	// Re-adding refreshes, it does not add.
	c1b := &broker.ClientInfo{ClientID: "c1", UserID: "u1", ConnInfo: []byte(`{"n":2}`)}
	mustNil(t, e.Presence.AddPresence(e.ctx, ch, c1b))
	mustNil(t, e.Presence.AddPresence(e.ctx, ch, c4))
	e.wantPresence(t, ch, []*broker.ClientInfo{c1b, c2, c3, c4, c5}, 5, 3)
	// The engine keeps its own copy: the caller may reuse its struct.
	c5.UserID = "changed"
	e.wantPresence(t, ch, []*broker.ClientInfo{c1b, c2, c3, c4, {ClientID: "c5"}}, 5, 3)
	c5.UserID = ""

	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c2", "u1"))
	e.wantPresence(t, ch, []*broker.ClientInfo{c1b, c3, c4, c5}, 4, 3)
	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c1", "u1"))
	e.wantPresence(t, ch, []*broker.ClientInfo{c3, c4, c5}, 3, 2)
	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c1", "u1")) // absent: no error
	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c4", ""))
	e.wantPresence(t, ch, []*broker.ClientInfo{c3, c5}, 2, 2)
	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c5", ""))
	mustNil(t, e.Presence.RemovePresence(e.ctx, ch, "c3", "u2"))
	e.wantPresence(t, ch, nil, 0, 0)
	// The returned map is the caller's.
	mustNil(t, e.Presence.AddPresence(e.ctx, ch, c3))
	m := e.presence(t, ch)
	delete(m, "c3")
	m["zz"] = c1
	e.wantPresence(t, ch, []*broker.ClientInfo{c3}, 1, 1)
}

func testPresenceIsolated(t *testing.T, e *env) {
	e.needPresence(t)
	a, b := e.ch("a"), e.ch("b")
	c1 := &broker.ClientInfo{ClientID: "c1", UserID: "u1"}
	c2 := &broker.ClientInfo{ClientID: "c2", UserID: "u2"}
	mustNil(t, e.Presence.AddPresence(e.ctx, a, c1))
	mustNil(t, e.Presence.AddPresence(e.ctx, b, c1))
	mustNil(t, e.Presence.AddPresence(e.ctx, b, c2))
	e.wantPresence(t, a, []*broker.ClientInfo{c1}, 1, 1)
	e.wantPresence(t, b, []*broker.ClientInfo{c1, c2}, 2, 2)
	mustNil(t, e.Presence.RemovePresence(e.ctx, b, "c1", "u1"))
	e.wantPresence(t, a, []*broker.ClientInfo{c1}, 1, 1)
	e.wantPresence(t, b, []*broker.ClientInfo{c2}, 1, 1)
}
