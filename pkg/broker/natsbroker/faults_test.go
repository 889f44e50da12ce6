package natsbroker

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// checkUnavailable fails t unless every call that needs NATS returns
// ErrUnavailable within bound.
func checkUnavailable(t *testing.T, b *Broker, bound time.Duration) {
	t.Helper()
	c := context.Background()
	info := &broker.ClientInfo{ClientID: "c1", UserID: "u1"}
	start := time.Now()
	errs := map[string]error{}
	_, errs["Publish"] = b.Publish(c, "x", []byte("d"), broker.PublishOptions{})
	_, errs["PublishHistory"] = b.Publish(c, "x", []byte("d"), histOpts)
	_, _, errs["History"] = b.History(c, "x", broker.HistoryOptions{Limit: -1})
	errs["RemoveHistory"] = b.RemoveHistory(c, "x")
	errs["PublishJoin"] = b.PublishJoin(c, "x", info)
	errs["PublishLeave"] = b.PublishLeave(c, "x", info)
	errs["PublishControl"] = b.PublishControl(c, []byte("x"), "")
	errs["AddPresence"] = b.AddPresence(c, "x", info)
	errs["RemovePresence"] = b.RemovePresence(c, "x", "c1", "u1")
	_, errs["Presence"] = b.Presence(c, "x")
	_, errs["PresenceStats"] = b.PresenceStats(c, "x")
	for name, err := range errs {
		if !errors.Is(err, broker.ErrUnavailable) {
			t.Errorf("%s while NATS is down: %v, want ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > bound {
		t.Errorf("%d calls took %v, want under %v", len(errs), d, bound)
	}
}

// NATS unreachable at start: New and Run succeed, the node reports
// unhealthy, calls fail at once; when the server appears the node
// connects by itself and works.
func TestStartWithoutNATS(t *testing.T) {
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	b, rec := newEngine(t, url, "lonely")
	if b.Healthy() {
		t.Fatal("healthy without a server")
	}
	if err := b.Subscribe("x"); err != nil { // recorded, made on connect
		t.Fatal(err)
	}
	checkUnavailable(t, b, 100*time.Millisecond)
	if err := b.CheckJetStream(context.Background()); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("CheckJetStream: %v", err)
	}
	runServer(t, t.TempDir(), port)
	waitHealthy(t, b)
	if err := b.CheckJetStream(context.Background()); err != nil {
		t.Fatal(err)
	}
	sp, err := b.Publish(ctx(t), "x", []byte("after"), histOpts)
	if err != nil || sp.Offset != 1 {
		t.Fatalf("%+v %v", sp, err)
	}
	if e := rec.wait(t, 1)[0]; string(e.pub.Data) != "after" || e.sp != sp {
		t.Fatalf("%+v", e)
	}
}

func waitHealthy(t *testing.T, b *Broker) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !b.Healthy() {
		if time.Now().After(deadline) {
			t.Fatalf("not reconnected: %s", b.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The server stops for a while and comes back on the same port and store:
// calls fail with ErrUnavailable during the outage, history and epoch
// survive (file storage), subscriptions come back, publishing resumes at
// the next offset.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	s, url := runServer(t, dir, 0)
	a, _ := newEngine(t, url, "a")
	b, rb := newEngine(t, url, "b")
	if err := b.Subscribe("r"); err != nil {
		t.Fatal(err)
	}
	var last broker.StreamPosition
	for i := 0; i < 3; i++ {
		sp, err := a.Publish(ctx(t), "r", []byte("before"), histOpts)
		if err != nil {
			t.Fatal(err)
		}
		last = sp
	}
	rb.wait(t, 3)
	if err := a.AddPresence(ctx(t), "r", &broker.ClientInfo{ClientID: "c1", UserID: "u1"}); err != nil {
		t.Fatal(err)
	}

	s.Shutdown()
	s.WaitForShutdown()
	deadline := time.Now().Add(5 * time.Second)
	for a.Healthy() || b.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("engines still healthy after shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkUnavailable(t, a, 100*time.Millisecond)
	time.Sleep(2 * time.Second) // an outage of a few seconds

	runServer(t, dir, mustPort(t, url))
	waitHealthy(t, a)
	waitHealthy(t, b)
	var pubs []*broker.Publication
	var sp broker.StreamPosition
	var err error
	for i := 0; i < 50; i++ { // JetStream recovers its store right after the listener opens
		if pubs, sp, err = b.History(ctx(t), "r", broker.HistoryOptions{Limit: -1}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || sp != last || !equal(offsets(pubs), seq(1, 3)) {
		t.Fatalf("history after restart: %v %+v %v, want 1..3 at %+v", offsets(pubs), sp, err, last)
	}
	p, err := b.Presence(ctx(t), "r")
	if err != nil || p["c1"] == nil {
		t.Fatalf("presence after restart: %v %v", p, err)
	}
	sp4, err := a.Publish(ctx(t), "r", []byte("after"), histOpts)
	if err != nil || sp4 != (broker.StreamPosition{Offset: 4, Epoch: last.Epoch}) {
		t.Fatalf("publish after restart: %+v %v", sp4, err)
	}
	// b's subscription was restored by the reconnect.
	if e := rb.wait(t, 4)[3]; string(e.pub.Data) != "after" || e.pub.Offset != 4 {
		t.Fatalf("%+v", e.pub)
	}
}

func mustPort(t *testing.T, u string) int {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(pu.Port())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Publishing through an outage: every Publish either returns a position
// whose publication is in history afterwards, or ErrUnavailable; offsets
// stay contiguous and nothing acknowledged is lost.
func TestPublishThroughOutage(t *testing.T) {
	dir := t.TempDir()
	s, url := runServer(t, dir, 0)
	a, _ := newEngine(t, url, "a", func(o *Options) { o.RequestTimeout = 500 * time.Millisecond })
	stop := make(chan struct{})
	type result struct {
		data string
		sp   broker.StreamPosition
	}
	var acked []result
	var failed, other int
	var ackedN atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := "m" + strconv.Itoa(i)
			sp, err := a.Publish(context.Background(), "out", []byte(d), histOpts)
			switch {
			case err == nil:
				acked = append(acked, result{d, sp})
				ackedN.Add(1)
			case errors.Is(err, broker.ErrUnavailable):
				failed++
				time.Sleep(10 * time.Millisecond)
			default:
				other++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for ackedN.Load() < 5 {
		time.Sleep(10 * time.Millisecond)
	}
	s.Shutdown()
	s.WaitForShutdown()
	time.Sleep(1500 * time.Millisecond)
	runServer(t, dir, mustPort(t, url))
	waitHealthy(t, a)
	before := ackedN.Load()
	deadline := time.Now().Add(10 * time.Second)
	for ackedN.Load() < before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	<-done
	if failed == 0 || other != 0 || int64(len(acked)) < before+5 {
		t.Fatalf("acked %d (%d before the restart), unavailable %d, other errors %d", len(acked), before, failed, other)
	}
	pubs, sp, err := a.History(ctx(t), "out", broker.HistoryOptions{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	// History keeps the newest 100: every acknowledged publication in that
	// window is there with its data; offsets are contiguous.
	if sp != acked[len(acked)-1].sp {
		t.Fatalf("position %+v, last acknowledged %+v", sp, acked[len(acked)-1].sp)
	}
	byOffset := map[uint64]string{}
	for _, p := range pubs {
		byOffset[p.Offset] = string(p.Data)
	}
	if !equal(offsets(pubs), seq(sp.Offset-uint64(len(pubs))+1, sp.Offset)) {
		t.Fatalf("offsets %v", offsets(pubs))
	}
	for _, r := range acked {
		if r.sp.Epoch != sp.Epoch {
			t.Fatalf("epoch changed across the restart: %q then %q", r.sp.Epoch, sp.Epoch)
		}
		if d, ok := byOffset[r.sp.Offset]; r.sp.Offset > sp.Offset-uint64(len(pubs)) && (!ok || d != r.data) {
			t.Fatalf("acknowledged %q at %d, history has %q", r.data, r.sp.Offset, d)
		}
	}
	t.Logf("acknowledged %d, refused %d", len(acked), failed)
}
