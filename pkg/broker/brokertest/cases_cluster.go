package brokertest

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

// testClusterDelivery: a publication, join and leave made on one node reach
// every subscribed node, with one stream shared by both.
func testClusterDelivery(t *testing.T, a *env) {
	b := a.node2(t)
	ch := a.ch("a")
	a.subscribe(t, ch)
	b.subscribe(t, ch)
	info := &broker.ClientInfo{ClientID: "c1", UserID: "u1"}
	a.publish(t, ch, dataOf(1), keep(10))
	if sp := b.publish(t, ch, dataOf(2), keep(10)); sp.Offset != 2 {
		t.Fatalf("publish on the second node: %+v, want offset 2", sp)
	}
	mustNil(t, a.Broker.PublishJoin(a.ctx, ch, info))
	mustNil(t, b.Broker.PublishLeave(b.ctx, ch, info))
	for _, n := range []*env{a, b} {
		// Events published on different nodes have no order between
		// them; the publications have theirs (offsets).
		ev := n.rec.WaitEvents(t, ch, 4, n.Wait)
		var offs []uint64
		kinds := map[string]int{}
		for _, e := range ev {
			kinds[e.Kind]++
			if e.Kind == KindPublication {
				offs = append(offs, e.Pub.Offset)
			} else if e.Info == nil || e.Info.ClientID != info.ClientID || e.Info.UserID != info.UserID {
				t.Fatalf("node %s: %s with info %+v", n.NodeID, e.Kind, e.Info)
			}
		}
		if !equalOffsets(offs, seq(1, 2)) || kinds[KindJoin] != 1 || kinds[KindLeave] != 1 {
			t.Fatalf("node %s: publications %v, events %v", n.NodeID, offs, kinds)
		}
	}
	pa, spa := a.history(t, ch, broker.HistoryOptions{Limit: -1})
	pb, spb := b.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "history on the first node", pa, seq(1, 2))
	wantOffsets(t, "history on the second node", pb, seq(1, 2))
	if spa != spb || spa.Offset != 2 {
		t.Fatalf("positions differ: %+v %+v", spa, spb)
	}
	// Only subscribed nodes get events.
	mustNil(t, b.Broker.Unsubscribe(ch))
	a.publish(t, ch, dataOf(3), keep(10))
	a.rec.WaitEvents(t, ch, 5, a.Wait)
	b.barrier(t)
	if n := len(b.rec.Events(ch)); n != 4 {
		t.Fatalf("unsubscribed node: %d events, want 4", n)
	}
}

// testClusterConcurrent: both nodes publish to one channel at once; the
// offsets are one contiguous sequence and both nodes see it in order.
func testClusterConcurrent(t *testing.T, a *env) {
	const perNode, workers = 1000, 4
	const total = 2 * perNode
	b := a.node2(t)
	ch := a.ch("hot")
	a.subscribe(t, ch)
	b.subscribe(t, ch)
	var wg sync.WaitGroup
	for ni, n := range []*env{a, b} {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(n *env, id int) {
				defer wg.Done()
				for i := 0; i < perNode/workers; i++ {
					if _, err := n.Broker.Publish(n.ctx, ch, []byte(strconv.Itoa(id)+"-"+strconv.Itoa(i)), keep(total)); err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			}(n, ni*workers+w)
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, n := range []*env{a, b} {
		ev := n.rec.WaitEvents(t, ch, total, n.Wait)
		next := make([]int, 2*workers)
		for i, e := range ev {
			if e.Pub.Offset != uint64(i+1) {
				t.Fatalf("node %s delivery %d: offset %d", n.NodeID, i, e.Pub.Offset)
			}
			w, k := splitData(t, e.Pub.Data)
			if k != next[w] {
				t.Fatalf("node %s delivery %d: publisher %d publication %d, want %d", n.NodeID, i, w, k, next[w])
			}
			next[w]++
		}
		n.barrier(t)
		if got := len(n.rec.Events(ch)); got != total {
			t.Fatalf("node %s: %d deliveries, want %d", n.NodeID, got, total)
		}
	}
	_, sp := b.history(t, ch, broker.HistoryOptions{})
	if sp.Offset != total {
		t.Fatalf("position %+v, want offset %d", sp, total)
	}
}

func testClusterControl(t *testing.T, a *env) {
	b := a.node2(t)
	mustNil(t, a.Broker.PublishControl(a.ctx, []byte("to b"), b.NodeID))
	mustNil(t, b.Broker.PublishControl(b.ctx, []byte("to a"), a.NodeID))
	mustNil(t, a.Broker.PublishControl(a.ctx, []byte("all"), ""))
	a.rec.WaitControl(t, 2, a.Wait)
	b.rec.WaitControl(t, 2, b.Wait)
	a.barrier(t)
	b.barrier(t)
	// Messages published on different nodes have no order between them.
	for _, c := range []struct {
		n    *env
		want string
	}{{a, "all,to a"}, {b, "all,to b"}} {
		var got []string
		for _, d := range c.n.rec.Control() {
			got = append(got, string(d))
		}
		sort.Strings(got)
		if s := strings.Join(got, ","); s != c.want {
			t.Fatalf("node %s: control %q, want %q", c.n.NodeID, s, c.want)
		}
	}
}

func testClusterPresence(t *testing.T, a *env) {
	a.needPresence(t)
	b := a.node2(t)
	ch := a.ch("a")
	c1 := &broker.ClientInfo{ClientID: "c1", UserID: "u1"}
	c2 := &broker.ClientInfo{ClientID: "c2", UserID: "u1"}
	mustNil(t, a.Presence.AddPresence(a.ctx, ch, c1))
	mustNil(t, b.Presence.AddPresence(b.ctx, ch, c2))
	a.wantPresence(t, ch, []*broker.ClientInfo{c1, c2}, 2, 1)
	b.wantPresence(t, ch, []*broker.ClientInfo{c1, c2}, 2, 1)
	mustNil(t, b.Presence.RemovePresence(b.ctx, ch, "c1", "u1"))
	a.wantPresence(t, ch, []*broker.ClientInfo{c2}, 1, 1)
}

// testClusterClosed: a closed node gets nothing the other node publishes.
func testClusterClosed(t *testing.T, a *env) {
	b := a.node2(t)
	ch := a.ch("a")
	a.subscribe(t, ch)
	b.subscribe(t, ch)
	mustNil(t, b.Broker.Close(b.ctx))
	a.publish(t, ch, dataOf(1), keep(10))
	mustNil(t, a.Broker.PublishControl(a.ctx, []byte("all"), ""))
	a.rec.WaitEvents(t, ch, 1, a.Wait)
	a.barrier(t)
	if n, c := len(b.rec.Events(ch)), len(b.rec.Control()); n != 0 || c != 0 {
		t.Fatalf("closed node got %d events and %d control messages", n, c)
	}
}
