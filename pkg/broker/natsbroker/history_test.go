package natsbroker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xh-control/gateway/pkg/broker"
)

func offsets(pubs []*broker.Publication) []uint64 {
	out := make([]uint64, len(pubs))
	for i, p := range pubs {
		out[i] = p.Offset
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	if from <= to {
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
	} else {
		for i := from; i >= to; i-- {
			out = append(out, i)
		}
	}
	return out
}

func equal(a, b []uint64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// Publications with history get offsets 1, 2, ... and one epoch, seen the
// same from both nodes and carried by the delivery.
func TestHistoryOffsetsAndDelivery(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	b, rb := newEngine(t, url, "b")
	const ch = "chat:room.1 *"
	if err := b.Subscribe(ch); err != nil {
		t.Fatal(err)
	}
	b.nc.Flush()
	var epoch string
	for i := uint64(1); i <= 5; i++ {
		sp, err := a.Publish(ctx(t), ch, []byte(fmt.Sprint(i)), histOpts)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Offset != i || sp.Epoch == "" || (epoch != "" && sp.Epoch != epoch) {
			t.Fatalf("publish %d: %+v (epoch %q)", i, sp, epoch)
		}
		epoch = sp.Epoch
	}
	ev := rb.wait(t, 5)
	for i, e := range ev {
		want := uint64(i + 1)
		if e.pub.Offset != want || e.sp != (broker.StreamPosition{Offset: want, Epoch: epoch}) || string(e.pub.Data) != fmt.Sprint(want) {
			t.Fatalf("delivery %d: %+v %+v", i, e.sp, e.pub)
		}
	}
	for _, n := range []*Broker{a, b} {
		pubs, sp, err := n.History(ctx(t), ch, broker.HistoryOptions{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if sp != (broker.StreamPosition{Offset: 5, Epoch: epoch}) || !equal(offsets(pubs), seq(1, 5)) || string(pubs[4].Data) != "5" {
			t.Fatalf("%s: %+v %v", n.opts.Name, sp, offsets(pubs))
		}
	}
	cases := []struct {
		opts broker.HistoryOptions
		want []uint64
	}{
		{broker.HistoryOptions{Limit: 0}, nil},
		{broker.HistoryOptions{Limit: 2}, seq(1, 2)},
		{broker.HistoryOptions{Limit: 2, Reverse: true}, seq(5, 4)},
		{broker.HistoryOptions{Limit: -1, Since: &broker.StreamPosition{Offset: 3}}, seq(4, 5)},
		{broker.HistoryOptions{Limit: 1, Since: &broker.StreamPosition{Offset: 3}}, seq(4, 4)},
		{broker.HistoryOptions{Limit: -1, Since: &broker.StreamPosition{Offset: 5}}, nil},
		{broker.HistoryOptions{Limit: -1, Since: &broker.StreamPosition{Offset: 3}, Reverse: true}, seq(2, 1)},
		{broker.HistoryOptions{Limit: 1, Since: &broker.StreamPosition{Offset: 3}, Reverse: true}, seq(2, 2)},
		{broker.HistoryOptions{Limit: -1, Since: &broker.StreamPosition{Offset: 0}}, seq(1, 5)},
	}
	for _, c := range cases {
		pubs, sp, err := b.History(ctx(t), ch, c.opts)
		if err != nil || sp.Offset != 5 || !equal(offsets(pubs), c.want) {
			t.Errorf("%+v: %v %+v %v, want %v", c.opts, offsets(pubs), sp, err, c.want)
		}
	}
}

// Two nodes publish into one channel at once: offsets are exactly 1..N,
// each publication once, and subscribers see them in offset order.
func TestHistoryConcurrentPublishers(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	b, rb := newEngine(t, url, "b")
	const ch, perNode, workers = "race", 60, 4
	if err := b.Subscribe(ch); err != nil {
		t.Fatal(err)
	}
	b.nc.Flush()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[uint64]string{}
	errs := make(chan error, 2*workers)
	for _, n := range []*Broker{a, b} {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perNode/workers; i++ {
					data := fmt.Sprintf("%s-%d-%d", n.opts.Name, w, i)
					sp, err := n.Publish(ctx(t), ch, []byte(data), broker.PublishOptions{HistorySize: 1000, HistoryTTL: time.Minute})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if prev, dup := got[sp.Offset]; dup {
						errs <- fmt.Errorf("offset %d given to %s and %s", sp.Offset, prev, data)
					}
					got[sp.Offset] = data
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = 2 * perNode
	for i := uint64(1); i <= n; i++ {
		if _, ok := got[i]; !ok {
			t.Fatalf("offset %d missing (got %d offsets)", i, len(got))
		}
	}
	pubs, sp, err := a.History(ctx(t), ch, broker.HistoryOptions{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Offset != n || !equal(offsets(pubs), seq(1, n)) {
		t.Fatalf("history %+v %v", sp, offsets(pubs))
	}
	for _, p := range pubs {
		if string(p.Data) != got[p.Offset] {
			t.Fatalf("offset %d holds %q, publisher was told %q", p.Offset, p.Data, got[p.Offset])
		}
	}
	for i, e := range rb.wait(t, n) {
		if e.pub.Offset != uint64(i+1) {
			t.Fatalf("delivery %d has offset %d", i, e.pub.Offset)
		}
	}
}

// The size bound keeps the newest HistorySize publications; the TTL drops
// older ones; the position stays.
func TestHistoryBounds(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	opts := broker.PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}
	for i := 0; i < 10; i++ {
		if _, err := a.Publish(ctx(t), "sized", nil, opts); err != nil {
			t.Fatal(err)
		}
	}
	pubs, sp, err := a.History(ctx(t), "sized", broker.HistoryOptions{Limit: -1})
	if err != nil || sp.Offset != 10 || !equal(offsets(pubs), seq(8, 10)) {
		t.Fatalf("%v %+v %v", offsets(pubs), sp, err)
	}
	// Trimmed in storage too: size 3 trims every 3, so at most 3+2 stored.
	info, err := a.res.Load().history.Info(ctx(t), jetstream.WithSubjectFilter(a.subj.historySubject("sized")))
	if err != nil {
		t.Fatal(err)
	}
	if stored := info.State.Subjects[a.subj.historySubject("sized")]; stored > 5 || stored < 3 {
		t.Fatalf("%d messages stored for a size-3 channel", stored)
	}

	ttl := broker.PublishOptions{HistorySize: 10, HistoryTTL: 300 * time.Millisecond}
	if _, err := a.Publish(ctx(t), "ttl", []byte("old"), ttl); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	sp1, err := a.Publish(ctx(t), "ttl", []byte("new"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	pubs, sp, err = a.History(ctx(t), "ttl", broker.HistoryOptions{Limit: -1})
	if err != nil || sp != sp1 || !equal(offsets(pubs), []uint64{2}) {
		t.Fatalf("%v %+v %v", offsets(pubs), sp, err)
	}
	time.Sleep(400 * time.Millisecond)
	pubs, sp, err = a.History(ctx(t), "ttl", broker.HistoryOptions{Limit: -1})
	if err != nil || sp != sp1 || len(pubs) != 0 {
		t.Fatalf("after TTL: %v %+v %v", offsets(pubs), sp, err)
	}
}

// A channel without history gets a fresh epoch that stays; RemoveHistory
// keeps position and epoch; losing the stream changes the epoch.
func TestHistoryEpoch(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	b, _ := newEngine(t, url, "b")
	pubs, sp0, err := a.History(ctx(t), "e", broker.HistoryOptions{Limit: -1})
	if err != nil || len(pubs) != 0 || sp0.Offset != 0 || sp0.Epoch == "" {
		t.Fatalf("%v %+v %v", pubs, sp0, err)
	}
	_, spb, err := b.History(ctx(t), "e", broker.HistoryOptions{})
	if err != nil || spb != sp0 {
		t.Fatalf("b sees %+v, a saw %+v (%v)", spb, sp0, err)
	}
	sp1, err := b.Publish(ctx(t), "e", []byte("1"), histOpts)
	if err != nil || sp1 != (broker.StreamPosition{Offset: 1, Epoch: sp0.Epoch}) {
		t.Fatalf("%+v %v", sp1, err)
	}
	if _, err := b.Publish(ctx(t), "e", []byte("2"), histOpts); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveHistory(ctx(t), "e"); err != nil {
		t.Fatal(err)
	}
	pubs, sp, err := b.History(ctx(t), "e", broker.HistoryOptions{Limit: -1})
	if err != nil || len(pubs) != 0 || sp != (broker.StreamPosition{Offset: 2, Epoch: sp0.Epoch}) {
		t.Fatalf("after RemoveHistory: %v %+v %v", offsets(pubs), sp, err)
	}
	sp3, err := a.Publish(ctx(t), "e", []byte("3"), histOpts)
	if err != nil || sp3 != (broker.StreamPosition{Offset: 3, Epoch: sp0.Epoch}) {
		t.Fatalf("%+v %v", sp3, err)
	}
	pubs, _, _ = b.History(ctx(t), "e", broker.HistoryOptions{Limit: -1})
	if !equal(offsets(pubs), []uint64{3}) {
		t.Fatalf("%v", offsets(pubs))
	}
	// The history is lost (the stream purged): a new epoch, offsets restart.
	if err := a.res.Load().history.Purge(ctx(t)); err != nil {
		t.Fatal(err)
	}
	sp4, err := b.Publish(ctx(t), "e", []byte("4"), histOpts)
	if err != nil || sp4.Offset != 1 || sp4.Epoch == sp0.Epoch || sp4.Epoch == "" {
		t.Fatalf("after loss: %+v %v", sp4, err)
	}
	// The stream deleted: recreated on next use, again a new epoch.
	if err := a.js.DeleteStream(ctx(t), "gateway_history"); err != nil {
		t.Fatal(err)
	}
	var sp5 broker.StreamPosition
	for i := 0; i < 2; i++ { // the first call may find the stream gone
		if sp5, err = a.Publish(ctx(t), "e", []byte("5"), histOpts); err == nil {
			break
		}
	}
	if err != nil || sp5.Offset != 1 || sp5.Epoch == sp4.Epoch {
		t.Fatalf("after delete: %+v %v", sp5, err)
	}
}

// The same idempotency key publishes once and returns the first position,
// on any node; without history too.
func TestIdempotency(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	b, rb := newEngine(t, url, "b")
	if err := b.Subscribe("i"); err != nil {
		t.Fatal(err)
	}
	b.nc.Flush()
	o := histOpts
	o.IdempotencyKey = "k1"
	sp1, err := a.Publish(ctx(t), "i", []byte("x"), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx(t), "i", []byte("y"), histOpts); err != nil {
		t.Fatal(err)
	}
	sp2, err := b.Publish(ctx(t), "i", []byte("x"), o)
	if err != nil || sp2 != sp1 {
		t.Fatalf("repeat: %+v %v, first %+v", sp2, err, sp1)
	}
	pubs, _, _ := a.History(ctx(t), "i", broker.HistoryOptions{Limit: -1})
	if !equal(offsets(pubs), seq(1, 2)) {
		t.Fatalf("%v", offsets(pubs))
	}
	// Same key in another channel is another publication.
	if sp, err := a.Publish(ctx(t), "i2", []byte("x"), o); err != nil || sp.Offset != 1 {
		t.Fatalf("%+v %v", sp, err)
	}
	// Without history.
	plain := broker.PublishOptions{IdempotencyKey: "k2"}
	for i := 0; i < 3; i++ {
		if _, err := a.Publish(ctx(t), "i", []byte("plain"), plain); err != nil {
			t.Fatal(err)
		}
	}
	if got := rb.settle(300 * time.Millisecond); len(got) != 3 {
		t.Fatalf("b got %d deliveries, want 3 (2 with history, 1 plain)", len(got))
	}
}
