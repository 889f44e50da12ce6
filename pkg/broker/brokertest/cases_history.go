package brokertest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

func testPublishOffsets(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	var epoch string
	before := time.Now().UnixMilli()
	for i := uint64(1); i <= 5; i++ {
		sp := e.publish(t, ch, dataOf(i), keep(10))
		if sp.Offset != i || sp.Epoch == "" {
			t.Fatalf("publish %d: position %+v", i, sp)
		}
		if epoch != "" && sp.Epoch != epoch {
			t.Fatalf("publish %d: epoch %q, was %q", i, sp.Epoch, epoch)
		}
		epoch = sp.Epoch
	}
	after := time.Now().UnixMilli()
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if sp != (broker.StreamPosition{Offset: 5, Epoch: epoch}) {
		t.Fatalf("history position %+v, want {5 %s}", sp, epoch)
	}
	wantOffsets(t, "history", pubs, seq(1, 5))
	for _, p := range pubs {
		if p.Time < before || p.Time > after {
			t.Fatalf("offset %d: Time %d outside [%d, %d] (Unix ms)", p.Offset, p.Time, before, after)
		}
	}
	ev := e.rec.WaitEvents(t, ch, 5, e.Wait)
	for i, ev := range ev {
		off := uint64(i + 1)
		if ev.Kind != KindPublication || ev.Pub.Offset != off || ev.SP != (broker.StreamPosition{Offset: off, Epoch: epoch}) ||
			string(ev.Pub.Data) != dataOf(off) {
			t.Fatalf("delivery %d: %s offset %d sp %+v data %q", i, ev.Kind, ev.Pub.Offset, ev.SP, ev.Pub.Data)
		}
	}
	// The epoch stays across reads.
	for i := 0; i < 3; i++ {
		if _, sp := e.history(t, ch, broker.HistoryOptions{}); sp.Epoch != epoch || sp.Offset != 5 {
			t.Fatalf("read %d: position %+v, want {5 %s}", i, sp, epoch)
		}
	}
	e.barrier(t)
	if n := len(e.rec.Events(ch)); n != 5 {
		t.Fatalf("%d deliveries, want 5", n)
	}
}

func testPublishWithoutHistory(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	for i, opts := range []broker.PublishOptions{
		{},
		{HistorySize: 10},       // no TTL: no history
		{HistoryTTL: time.Hour}, // no size: no history
		{HistorySize: -1, HistoryTTL: time.Hour},
	} {
		sp := e.publish(t, ch, "x"+itoa(uint64(i)), opts)
		if sp != (broker.StreamPosition{}) {
			t.Fatalf("options %+v: position %+v, want zero", opts, sp)
		}
	}
	ev := e.rec.WaitEvents(t, ch, 4, e.Wait)
	for i, ev := range ev {
		if ev.Pub.Offset != 0 || ev.SP != (broker.StreamPosition{}) || string(ev.Pub.Data) != "x"+itoa(uint64(i)) {
			t.Fatalf("delivery %d: offset %d sp %+v data %q", i, ev.Pub.Offset, ev.SP, ev.Pub.Data)
		}
	}
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if len(pubs) != 0 || sp.Offset != 0 || sp.Epoch == "" {
		t.Fatalf("history: %d publications, position %+v; want none at offset 0 with an epoch", len(pubs), sp)
	}
}

func testPublicationFields(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	info := &broker.ClientInfo{ClientID: "00000000000000c1", UserID: "u1", ConnInfo: []byte(`{"a":1}`), ChanInfo: []byte(`{"b":2}`)}
	tags := map[string]string{"k": "v", "k2": ""}
	data := []byte{0, 1, 2, 0xff, '{', '}'}
	sp, err := e.Broker.Publish(e.ctx, ch, data, broker.PublishOptions{HistorySize: 5, HistoryTTL: time.Hour, ClientInfo: info, Tags: tags})
	if err != nil || sp.Offset != 1 {
		t.Fatalf("publish: %+v %v", sp, err)
	}
	check := func(what string, p *broker.Publication) {
		t.Helper()
		if p.Offset != 1 || !bytes.Equal(p.Data, data) || !reflect.DeepEqual(p.Tags, tags) || p.Info == nil ||
			!reflect.DeepEqual(*p.Info, *info) {
			t.Fatalf("%s: %+v info %+v", what, p, p.Info)
		}
	}
	pubs, _ := e.history(t, ch, broker.HistoryOptions{Limit: 1})
	if len(pubs) != 1 {
		t.Fatalf("history has %d publications, want 1", len(pubs))
	}
	check("history", pubs[0])
	check("delivery", e.rec.WaitEvents(t, ch, 1, e.Wait)[0].Pub)
	// Without client info and tags.
	e.publish(t, ch, dataOf(2), keep(5))
	pubs, _ = e.history(t, ch, broker.HistoryOptions{Since: &broker.StreamPosition{Offset: 1}, Limit: -1})
	if len(pubs) != 1 || pubs[0].Info != nil || len(pubs[0].Tags) != 0 {
		t.Fatalf("second publication: %d, %+v", len(pubs), pubs)
	}
}

func testHistorySize(t *testing.T, e *env) {
	const n = 5
	ch := e.ch("a")
	sp := e.publishN(t, ch, 1, n, keep(n))
	pubs, got := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "size N", pubs, seq(1, n))
	if got != sp {
		t.Fatalf("position %+v, want %+v", got, sp)
	}
	sp = e.publishN(t, ch, n+1, 1, keep(n))
	pubs, got = e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "size N+1", pubs, seq(2, n+1))
	if got != sp || got.Offset != n+1 {
		t.Fatalf("position %+v, want %+v", got, sp)
	}
	// A smaller size on a later publish trims to it.
	e.publishN(t, ch, n+2, 1, keep(2))
	pubs, _ = e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "size shrunk to 2", pubs, seq(n+1, n+2))
	// Size 1 keeps only the newest.
	e.publishN(t, ch, n+3, 1, keep(1))
	pubs, _ = e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "size 1", pubs, seq(n+3, n+3))
}

func testHistoryLimit(t *testing.T, e *env) {
	ch := e.ch("a")
	last := e.publishN(t, ch, 1, 10, keep(100))
	for _, c := range []struct {
		limit   int
		reverse bool
		want    []uint64
	}{
		{0, false, nil},
		{0, true, nil},
		{1, false, seq(1, 1)},
		{3, false, seq(1, 3)},
		{9, false, seq(1, 9)},
		{10, false, seq(1, 10)},
		{11, false, seq(1, 10)},
		{-1, false, seq(1, 10)},
		{1, true, seq(10, 10)},
		{3, true, seq(10, 8)},
		{10, true, seq(10, 1)},
		{11, true, seq(10, 1)},
		{-1, true, seq(10, 1)},
	} {
		pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: c.limit, Reverse: c.reverse})
		wantOffsets(t, "limit "+itoa(uint64(max(c.limit, 0)))+" reverse "+boolStr(c.reverse), pubs, c.want)
		if sp != last {
			t.Fatalf("limit %d: position %+v, want %+v", c.limit, sp, last)
		}
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func testHistorySince(t *testing.T, e *env) {
	ch := e.ch("a")
	last := e.publishN(t, ch, 1, 10, keep(100))
	for _, c := range []struct {
		since   uint64
		limit   int
		reverse bool
		want    []uint64
	}{
		{0, -1, false, seq(1, 10)},
		{3, -1, false, seq(4, 10)},
		{3, 2, false, seq(4, 5)},
		{3, 7, false, seq(4, 10)},
		{3, 8, false, seq(4, 10)},
		{3, 0, false, nil},
		{9, -1, false, seq(10, 10)},
		{10, -1, false, nil},
		{11, -1, false, nil},
		{0, -1, true, nil},
		{1, -1, true, nil},
		{2, -1, true, seq(1, 1)},
		{5, -1, true, seq(4, 1)},
		{5, 2, true, seq(4, 3)},
		{5, 4, true, seq(4, 1)},
		{5, 5, true, seq(4, 1)},
		{10, -1, true, seq(9, 1)},
		{11, -1, true, seq(10, 1)},
	} {
		opts := broker.HistoryOptions{Since: &broker.StreamPosition{Offset: c.since, Epoch: last.Epoch}, Limit: c.limit, Reverse: c.reverse}
		pubs, sp := e.history(t, ch, opts)
		wantOffsets(t, "since "+itoa(c.since)+" limit "+itoa(uint64(max(c.limit, 0)))+" reverse "+boolStr(c.reverse), pubs, c.want)
		if sp != last {
			t.Fatalf("since %d: position %+v, want %+v", c.since, sp, last)
		}
	}
	// The engine does not compare epochs: a foreign epoch reads the same.
	pubs, _ := e.history(t, ch, broker.HistoryOptions{Since: &broker.StreamPosition{Offset: 8, Epoch: "other"}, Limit: -1})
	wantOffsets(t, "since 8 of another epoch", pubs, seq(9, 10))
}

// testHistorySinceWindow reads from positions older than the kept window:
// the oldest kept publication comes first (the caller detects the gap).
func testHistorySinceWindow(t *testing.T, e *env) {
	ch := e.ch("a")
	e.publishN(t, ch, 1, 10, keep(5)) // keeps 6..10
	for _, c := range []struct {
		since   uint64
		limit   int
		reverse bool
		want    []uint64
	}{
		{0, -1, false, seq(6, 10)},
		{2, -1, false, seq(6, 10)},
		{2, 2, false, seq(6, 7)},
		{5, -1, false, seq(6, 10)},
		{6, -1, false, seq(7, 10)},
		{6, -1, true, nil},
		{7, -1, true, seq(6, 6)},
		{9, 10, true, seq(8, 6)},
		{3, -1, true, nil},
	} {
		pubs, _ := e.history(t, ch, broker.HistoryOptions{Since: &broker.StreamPosition{Offset: c.since}, Limit: c.limit, Reverse: c.reverse})
		wantOffsets(t, "window 6..10, since "+itoa(c.since)+" reverse "+boolStr(c.reverse), pubs, c.want)
	}
}

func testHistoryNeverPublished(t *testing.T, e *env) {
	ch := e.ch("fresh")
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if len(pubs) != 0 || sp.Offset != 0 || sp.Epoch == "" {
		t.Fatalf("fresh channel: %d publications, position %+v", len(pubs), sp)
	}
	for i := 0; i < 3; i++ {
		if _, again := e.history(t, ch, broker.HistoryOptions{Reverse: i == 1, Limit: i - 1}); again != sp {
			t.Fatalf("read %d: position %+v, want %+v", i, again, sp)
		}
	}
	if got := e.publish(t, ch, dataOf(1), keep(3)); got != (broker.StreamPosition{Offset: 1, Epoch: sp.Epoch}) {
		t.Fatalf("first publish: %+v, want {1 %s}", got, sp.Epoch)
	}
	// Another fresh channel has its own epoch.
	if _, other := e.history(t, e.ch("fresh2"), broker.HistoryOptions{}); other.Epoch == "" || other.Offset != 0 {
		t.Fatalf("second fresh channel: %+v", other)
	}
	if err := e.Broker.RemoveHistory(e.ctx, e.ch("never")); err != nil {
		t.Fatalf("RemoveHistory of a channel never used: %v", err)
	}
}

// testHistoryTTL: a publication is kept while younger than HistoryTTL.
// Each assertion is made only when the measured times make it certain, so
// a stalled machine cannot make the case fail wrongly.
func testHistoryTTL(t *testing.T, e *env) {
	u := e.TTLUnit
	ttl := 4 * u
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: ttl}
	ch := e.ch("a")
	b1 := time.Now()
	sp1 := e.publish(t, ch, dataOf(1), opts)
	a1 := time.Now()
	time.Sleep(2 * u)
	b2 := time.Now()
	sp2 := e.publish(t, ch, dataOf(2), opts)
	if sp1.Offset != 1 || sp2.Offset != 2 || sp2.Epoch != sp1.Epoch {
		t.Fatalf("positions %+v %+v", sp1, sp2)
	}
	a2 := time.Now()
	if hb := time.Now(); hb.Sub(b1) < ttl {
		pubs, _ := e.history(t, ch, broker.HistoryOptions{Limit: -1})
		if ha := time.Now(); ha.Sub(b1) < ttl {
			wantOffsets(t, "both younger than TTL", pubs, seq(1, 2))
		}
	}
	sleepUntil(a1.Add(ttl + u))
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if time.Since(b2) < ttl {
		wantOffsets(t, "first older than TTL", pubs, seq(2, 2))
	} else {
		t.Logf("machine too slow to check that the second publication is still kept")
		for _, p := range pubs {
			if p.Offset == 1 {
				t.Fatalf("expired publication 1 returned")
			}
		}
	}
	if sp != sp2 {
		t.Fatalf("position %+v, want %+v", sp, sp2)
	}
	sleepUntil(a2.Add(ttl + u))
	pubs, sp = e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "all older than TTL", pubs, nil)
	if sp != sp2 {
		t.Fatalf("position after expiry %+v, want %+v (kept with the meta TTL)", sp, sp2)
	}
	if got := e.publish(t, ch, dataOf(3), opts); got != (broker.StreamPosition{Offset: 3, Epoch: sp2.Epoch}) {
		t.Fatalf("publish after expiry: %+v, want {3 %s}", got, sp2.Epoch)
	}
}

// testHistoryMetaTTL: position and epoch live while the stream is used
// within HistoryMetaTTL, and are replaced (offset 0, new epoch) after.
func testHistoryMetaTTL(t *testing.T, e *env) {
	u := e.TTLUnit
	meta := 4 * u
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: 2 * u, HistoryMetaTTL: meta}
	ch := e.ch("a")
	first := e.publish(t, ch, dataOf(1), opts)
	last := time.Now()
	// Publishing every unit keeps the stream for longer than one meta TTL.
	for i := uint64(2); i <= 6; i++ {
		time.Sleep(u)
		b := time.Now()
		sp := e.publish(t, ch, dataOf(i), opts)
		if b.Sub(last) >= meta {
			t.Skipf("machine too slow: %v between publications, meta TTL %v", b.Sub(last), meta)
		}
		if sp != (broker.StreamPosition{Offset: i, Epoch: first.Epoch}) {
			t.Fatalf("publish %d within meta TTL: %+v, want {%d %s}", i, sp, i, first.Epoch)
		}
		last = time.Now()
	}
	sleepUntil(last.Add(meta + u))
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1, MetaTTL: meta})
	if len(pubs) != 0 || sp.Offset != 0 || sp.Epoch == "" || sp.Epoch == first.Epoch {
		t.Fatalf("after meta TTL: %d publications, position %+v; want none, offset 0, an epoch other than %q",
			len(pubs), sp, first.Epoch)
	}
	if got := e.publish(t, ch, dataOf(1), opts); got != (broker.StreamPosition{Offset: 1, Epoch: sp.Epoch}) {
		t.Fatalf("publish on the new stream: %+v, want {1 %s}", got, sp.Epoch)
	}
}

func testRemoveHistory(t *testing.T, e *env) {
	ch := e.ch("a")
	last := e.publishN(t, ch, 1, 3, keep(10))
	if err := e.Broker.RemoveHistory(e.ctx, ch); err != nil {
		t.Fatal(err)
	}
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if len(pubs) != 0 || sp != last {
		t.Fatalf("after RemoveHistory: %d publications, position %+v; want none at %+v", len(pubs), sp, last)
	}
	if got := e.publish(t, ch, dataOf(4), keep(10)); got != (broker.StreamPosition{Offset: 4, Epoch: last.Epoch}) {
		t.Fatalf("publish after RemoveHistory: %+v, want {4 %s}", got, last.Epoch)
	}
	pubs, _ = e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "history after RemoveHistory and publish", pubs, seq(4, 4))
}
