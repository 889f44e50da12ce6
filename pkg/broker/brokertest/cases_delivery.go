package brokertest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

func testIdempotency(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	opts := keep(10)
	opts.IdempotencyKey = "k"
	first := e.publish(t, ch, dataOf(1), opts)
	if first.Offset != 1 {
		t.Fatalf("first: %+v", first)
	}
	for i := 0; i < 3; i++ {
		if again := e.publish(t, ch, "other data", opts); again != first {
			t.Fatalf("repeat %d: %+v, want the first result %+v", i, again, first)
		}
	}
	opts.IdempotencyKey = "k2"
	if got := e.publish(t, ch, dataOf(2), opts); got.Offset != 2 {
		t.Fatalf("another key: %+v, want offset 2", got)
	}
	// Keys are per channel.
	other := e.ch("b")
	e.subscribe(t, other)
	opts.IdempotencyKey = "k"
	if got := e.publish(t, other, dataOf(1), opts); got.Offset != 1 {
		t.Fatalf("same key, other channel: %+v, want offset 1", got)
	}
	// Without history the result is the zero position, and still one delivery.
	noHist := broker.PublishOptions{IdempotencyKey: "n"}
	e.publish(t, ch, "nohist", noHist)
	if got := e.publish(t, ch, "nohist again", noHist); got != (broker.StreamPosition{}) {
		t.Fatalf("repeat without history: %+v", got)
	}
	pubs, _ := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "history", pubs, seq(1, 2))
	e.barrier(t)
	ev := e.rec.Events(ch)
	var data []string
	for _, ev := range ev {
		data = append(data, string(ev.Pub.Data))
	}
	if got, want := strings.Join(data, ","), "p1,p2,nohist"; got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
}

func testIdempotencyTTL(t *testing.T, e *env) {
	u := e.TTLUnit
	ch := e.ch("a")
	opts := keep(10)
	opts.IdempotencyKey = "k"
	opts.IdempotentResultTTL = 3 * u
	b := time.Now()
	first := e.publish(t, ch, dataOf(1), opts)
	a := time.Now()
	again := e.publish(t, ch, "again", opts)
	if time.Since(b) < opts.IdempotentResultTTL && again != first {
		t.Fatalf("within TTL: %+v, want %+v", again, first)
	}
	sleepUntil(a.Add(opts.IdempotentResultTTL + u))
	if got := e.publish(t, ch, dataOf(2), opts); got.Offset != 2 || got.Epoch != first.Epoch {
		t.Fatalf("after TTL: %+v, want {2 %s}", got, first.Epoch)
	}
}

// testConcurrentPublish: 8 goroutines publish 1000 each to one channel;
// offsets are exactly 1..8000 and delivered once each, in offset order.
func testConcurrentPublish(t *testing.T, e *env) {
	const workers, each = 8, 1000
	const total = workers * each
	ch := e.ch("hot")
	e.subscribe(t, ch)
	got := make([][]uint64, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sp, err := e.Broker.Publish(e.ctx, ch, []byte(strconv.Itoa(w)+"-"+strconv.Itoa(i)), keep(total))
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], sp.Offset)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make([]bool, total+1)
	for w, offs := range got {
		for i, off := range offs {
			if off == 0 || off > total || seen[off] {
				t.Fatalf("worker %d publication %d: offset %d (zero, beyond %d or repeated)", w, i, off, total)
			}
			if i > 0 && off <= offs[i-1] {
				t.Fatalf("worker %d: offset %d after %d", w, off, offs[i-1])
			}
			seen[off] = true
		}
	}
	ev := e.rec.WaitEvents(t, ch, total, e.Wait)
	if len(ev) != total {
		t.Fatalf("%d deliveries, want %d", len(ev), total)
	}
	next := make([]int, workers)
	for i, ev := range ev {
		off := uint64(i + 1)
		if ev.Pub.Offset != off || ev.SP.Offset != off {
			t.Fatalf("delivery %d: offset %d, position %d; want %d", i, ev.Pub.Offset, ev.SP.Offset, off)
		}
		w, n := splitData(t, ev.Pub.Data)
		if n != next[w] || got[w][n] != off {
			t.Fatalf("delivery %d: worker %d publication %d, want publication %d at offset %d", i, w, n, next[w], got[w][n])
		}
		next[w]++
	}
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if len(pubs) != total || sp.Offset != total {
		t.Fatalf("history: %d publications, position %+v", len(pubs), sp)
	}
	for i, p := range pubs {
		if p.Offset != uint64(i+1) || !bytes.Equal(p.Data, ev[i].Pub.Data) {
			t.Fatalf("history %d: offset %d data %q, delivered %q", i, p.Offset, p.Data, ev[i].Pub.Data)
		}
	}
	if n := e.rec.Overlapping(); n != 0 {
		t.Fatalf("%d handler calls overlapped another for the same channel", n)
	}
	e.barrier(t)
	if n := len(e.rec.Events(ch)); n != total {
		t.Fatalf("%d deliveries after the barrier, want %d", n, total)
	}
}

func splitData(t *testing.T, d []byte) (worker, n int) {
	t.Helper()
	a, b, ok := strings.Cut(string(d), "-")
	w, err1 := strconv.Atoi(a)
	i, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("publication data %q is not worker-n", d)
	}
	return w, i
}

// testConcurrentPublishNoHistory: without offsets every publication is
// still delivered once, each publisher's in its own order.
func testConcurrentPublishNoHistory(t *testing.T, e *env) {
	const workers, each = 8, 500
	ch := e.ch("hot")
	e.subscribe(t, ch)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if sp, err := e.Broker.Publish(e.ctx, ch, []byte(strconv.Itoa(w)+"-"+strconv.Itoa(i)), broker.PublishOptions{}); err != nil || sp != (broker.StreamPosition{}) {
					t.Errorf("publish: %+v %v", sp, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ev := e.rec.WaitEvents(t, ch, workers*each, e.Wait)
	next := make([]int, workers)
	for i, ev := range ev {
		w, n := splitData(t, ev.Pub.Data)
		if n != next[w] || ev.Pub.Offset != 0 {
			t.Fatalf("delivery %d: worker %d publication %d offset %d, want publication %d", i, w, n, ev.Pub.Offset, next[w])
		}
		next[w]++
	}
	e.barrier(t)
	if n := len(e.rec.Events(ch)); n != workers*each {
		t.Fatalf("%d deliveries, want %d", n, workers*each)
	}
	if n := e.rec.Overlapping(); n != 0 {
		t.Fatalf("%d handler calls overlapped another for the same channel", n)
	}
}

func testSubscribeGates(t *testing.T, e *env) {
	ch := e.ch("a")
	info := &broker.ClientInfo{ClientID: "c1"}
	// Not subscribed: nothing arrives, but history is kept.
	e.publish(t, ch, dataOf(1), keep(10))
	mustNil(t, e.Broker.PublishJoin(e.ctx, ch, info))
	mustNil(t, e.Broker.PublishLeave(e.ctx, ch, info))
	e.barrier(t)
	if ev := e.rec.Events(ch); len(ev) != 0 {
		t.Fatalf("unsubscribed channel got %d events", len(ev))
	}
	e.subscribe(t, ch)
	e.subscribe(t, ch) // twice is once
	e.publish(t, ch, dataOf(2), keep(10))
	ev := e.rec.WaitEvents(t, ch, 1, e.Wait)
	if ev[0].Pub.Offset != 2 {
		t.Fatalf("first delivery has offset %d, want 2", ev[0].Pub.Offset)
	}
	mustNil(t, e.Broker.Unsubscribe(ch))
	e.publish(t, ch, dataOf(3), keep(10))
	mustNil(t, e.Broker.PublishJoin(e.ctx, ch, info))
	e.barrier(t)
	if ev := e.rec.Events(ch); len(ev) != 1 {
		t.Fatalf("after Unsubscribe: %d events, want the 1 from before", len(ev))
	}
	mustNil(t, e.Broker.Unsubscribe(e.ch("never subscribed")))
	pubs, _ := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	wantOffsets(t, "history", pubs, seq(1, 3))
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testJoinLeave: join and leave come to subscribed channels with their
// ClientInfo, in order with the channel's publications.
func testJoinLeave(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	c1 := &broker.ClientInfo{ClientID: "c1", UserID: "u1", ConnInfo: []byte("ci"), ChanInfo: []byte("chi")}
	c2 := &broker.ClientInfo{ClientID: "c2"}
	e.publish(t, ch, dataOf(1), keep(10))
	mustNil(t, e.Broker.PublishJoin(e.ctx, ch, c1))
	e.publish(t, ch, "nohist", broker.PublishOptions{})
	mustNil(t, e.Broker.PublishJoin(e.ctx, ch, c2))
	mustNil(t, e.Broker.PublishLeave(e.ctx, ch, c1))
	e.publish(t, ch, dataOf(2), keep(10))
	mustNil(t, e.Broker.PublishLeave(e.ctx, ch, c2))
	ev := e.rec.WaitEvents(t, ch, 7, e.Wait)
	var got []string
	for _, ev := range ev {
		switch ev.Kind {
		case KindPublication:
			got = append(got, "pub "+string(ev.Pub.Data))
		default:
			i := ev.Info
			got = append(got, ev.Kind+" "+i.ClientID+" "+i.UserID+" "+string(i.ConnInfo)+" "+string(i.ChanInfo))
		}
	}
	want := []string{"pub p1", "join c1 u1 ci chi", "pub nohist", "join c2   ", "leave c1 u1 ci chi", "pub p2", "leave c2   "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
	e.barrier(t)
	if n := len(e.rec.Events(ch)); n != 7 {
		t.Fatalf("%d events, want 7", n)
	}
}

func testControl(t *testing.T, e *env) {
	mustNil(t, e.Broker.PublishControl(e.ctx, []byte("all"), ""))
	mustNil(t, e.Broker.PublishControl(e.ctx, []byte("me"), e.NodeID))
	mustNil(t, e.Broker.PublishControl(e.ctx, []byte("other"), e.NodeID+"-other"))
	mustNil(t, e.Broker.PublishControl(e.ctx, []byte("last"), ""))
	e.rec.WaitControl(t, 3, e.Wait)
	e.barrier(t)
	got := e.rec.Control()
	if len(got) != 3 || string(got[0]) != "all" || string(got[1]) != "me" || string(got[2]) != "last" {
		t.Fatalf("control %q, want [all me last]", got)
	}
}

// testClose: after Close every method returns broker.ErrClosed.
func testClose(t *testing.T, e *env) {
	ch := e.ch("a")
	e.subscribe(t, ch)
	e.publish(t, ch, dataOf(1), keep(10))
	e.rec.WaitEvents(t, ch, 1, e.Wait)
	mustNil(t, e.Broker.Close(e.ctx))
	info := &broker.ClientInfo{ClientID: "c1"}
	checks := map[string]error{
		"Subscribe":     e.Broker.Subscribe(e.ch("b")),
		"Unsubscribe":   e.Broker.Unsubscribe(ch),
		"PublishJoin":   e.Broker.PublishJoin(e.ctx, ch, info),
		"PublishLeave":  e.Broker.PublishLeave(e.ctx, ch, info),
		"PublishCtl":    e.Broker.PublishControl(e.ctx, []byte("x"), ""),
		"RemoveHistory": e.Broker.RemoveHistory(e.ctx, ch),
	}
	_, checks["Publish"] = e.Broker.Publish(e.ctx, ch, []byte("x"), keep(10))
	_, _, checks["History"] = e.Broker.History(e.ctx, ch, broker.HistoryOptions{})
	if p := e.Presence; p != nil && any(p) == any(e.Broker) {
		checks["AddPresence"] = p.AddPresence(e.ctx, ch, info)
		checks["RemovePresence"] = p.RemovePresence(e.ctx, ch, "c1", "")
		_, checks["Presence"] = p.Presence(e.ctx, ch)
		_, checks["PresenceStats"] = p.PresenceStats(e.ctx, ch)
	}
	for name, err := range checks {
		if !errors.Is(err, broker.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	time.Sleep(e.Quiet)
	if n := len(e.rec.Events(ch)); n != 1 {
		t.Fatalf("%d events after Close, want the 1 from before", n)
	}
	if n := len(e.rec.Control()); n != 0 {
		t.Fatalf("%d control messages after Close", n)
	}
	_ = e.Broker.Close(e.ctx) // a second Close must not panic
}

// testConcurrentReads: History during concurrent publishing returns one
// snapshot: contiguous offsets from 1 whose last is the returned position,
// positions never going back. Recovery compares the last returned offset
// with the position (protocol section 6, step 3): a position read apart
// from the publications makes recovery during a burst fail for nothing.
func testConcurrentReads(t *testing.T, e *env) {
	const writers, each, readers = 4, 250, 2
	ch := e.ch("a")
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := e.Broker.Publish(e.ctx, ch, []byte("x"), keep(writers*each)); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	reads := make([]int, readers)
	for r := 0; r < readers; r++ {
		rg.Add(1)
		go func(r int) {
			defer rg.Done()
			var last uint64
			for {
				pubs, sp, err := e.Broker.History(e.ctx, ch, broker.HistoryOptions{Limit: -1})
				if err != nil {
					t.Errorf("history: %v", err)
					return
				}
				reads[r]++
				if sp.Offset < last {
					t.Errorf("position went back from %d to %d", last, sp.Offset)
					return
				}
				last = sp.Offset
				if uint64(len(pubs)) != sp.Offset {
					t.Errorf("position %d with %d publications", sp.Offset, len(pubs))
					return
				}
				for i, p := range pubs {
					if p.Offset != uint64(i+1) {
						t.Errorf("publication %d has offset %d", i, p.Offset)
						return
					}
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}(r)
	}
	wg.Wait()
	close(done)
	rg.Wait()
	if t.Failed() {
		return
	}
	pubs, sp := e.history(t, ch, broker.HistoryOptions{Limit: -1})
	if len(pubs) != writers*each || sp.Offset != writers*each {
		t.Fatalf("after: %d publications, position %+v", len(pubs), sp)
	}
	t.Logf("reads during publishing: %v", reads)
}
