package broker_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/broker/brokertest"
)

// TestMemoryConformance runs the shared suite against the memory engine
// (one node: the cluster cases are skipped here and run in
// TestMemoryClusterConformance).
func TestMemoryConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) brokertest.Engines {
		m := newMemory(t, broker.MemoryOptions{NodeID: "node-1"})
		return brokertest.Engines{Broker: m, Presence: m, NodeID: "node-1"}
	})
}

func newMemory(t testing.TB, opts broker.MemoryOptions) *broker.Memory {
	t.Helper()
	m := broker.NewMemory(opts)
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

var ctx = context.Background()

func keep(size int) broker.PublishOptions {
	return broker.PublishOptions{HistorySize: size, HistoryTTL: time.Hour}
}

func TestMemoryStats(t *testing.T) {
	m := newMemory(t, broker.MemoryOptions{})
	if st := m.Stats(); st != (broker.MemoryStats{}) {
		t.Fatalf("new engine: %+v", st)
	}
	info := &broker.ClientInfo{ClientID: "0123456789abcdef", UserID: "u1", ConnInfo: []byte("ci"), ChanInfo: []byte("chi")}
	opts := keep(2)
	opts.ClientInfo = info
	opts.Tags = map[string]string{"k": "vv"}
	// 5 data + 16+2+2+3 info + 1+2 tags = 31 bytes each.
	for i := 0; i < 3; i++ {
		if _, err := m.Publish(ctx, "a", []byte("hello"), opts); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Publish(ctx, "b", []byte("xyz"), broker.PublishOptions{HistorySize: 5, HistoryTTL: time.Hour, IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Publish(ctx, "nohist", []byte("xyz"), broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	m.History(ctx, "empty", broker.HistoryOptions{})
	m.Subscribe("a")
	m.Subscribe("z")
	m.AddPresence(ctx, "a", info)
	m.AddPresence(ctx, "a", info)
	m.AddPresence(ctx, "b", info)
	want := broker.MemoryStats{Streams: 3, Publications: 3, Bytes: 2*31 + 3, IdempotentResults: 1, PresenceEntries: 2, Subscriptions: 2}
	if st := m.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	m.RemoveHistory(ctx, "a")
	m.RemovePresence(ctx, "a", info.ClientID, "")
	m.Unsubscribe("z")
	want = broker.MemoryStats{Streams: 3, Publications: 1, Bytes: 3, IdempotentResults: 1, PresenceEntries: 1, Subscriptions: 1}
	if st := m.Stats(); st != want {
		t.Fatalf("after removals: %+v, want %+v", st, want)
	}
}

// waitStats polls until cond holds for the engine's Stats.
func waitStats(t *testing.T, m *broker.Memory, what string, cond func(broker.MemoryStats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(m.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, m.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMemorySweeperFreesExpired: what expires is freed without any read.
func TestMemorySweeperFreesExpired(t *testing.T) {
	m := newMemory(t, broker.MemoryOptions{SweepInterval: 10 * time.Millisecond, PresenceTTL: 50 * time.Millisecond})
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: 50 * time.Millisecond, HistoryMetaTTL: 200 * time.Millisecond,
		IdempotentResultTTL: 50 * time.Millisecond}
	for i := 0; i < 100; i++ {
		ch := "ch" + strconv.Itoa(i)
		for j := 0; j < 3; j++ {
			opts.IdempotencyKey = strconv.Itoa(j)
			if _, err := m.Publish(ctx, ch, []byte("data"), opts); err != nil {
				t.Fatal(err)
			}
		}
		m.AddPresence(ctx, ch, &broker.ClientInfo{ClientID: "c"})
	}
	st := m.Stats()
	if st.Streams != 100 || st.Publications != 300 || st.Bytes != 1200 || st.IdempotentResults != 300 || st.PresenceEntries != 100 {
		t.Fatalf("after publishing: %+v", st)
	}
	waitStats(t, m, "publications, results and presence freed", func(s broker.MemoryStats) bool {
		return s.Publications == 0 && s.Bytes == 0 && s.IdempotentResults == 0 && s.PresenceEntries == 0
	})
	if st := m.Stats(); st.Streams != 100 {
		t.Fatalf("streams dropped before their meta TTL: %+v", st)
	}
	waitStats(t, m, "stream metas freed", func(s broker.MemoryStats) bool { return s.Streams == 0 })
}

func countSweepers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	// A sweeper not yet scheduled shows as NewMemory.gowrap1; both say
	// who created them.
	return strings.Count(string(buf), "created by github.com/xh-control/gateway/pkg/broker.NewMemory")
}

// TestMemoryCloseStopsSweeper: Close ends the engine's one goroutine before
// it returns.
func TestMemoryCloseStopsSweeper(t *testing.T) {
	before := countSweepers()
	m := broker.NewMemory(broker.MemoryOptions{})
	if n := countSweepers(); n != before+1 {
		t.Fatalf("%d sweepers after NewMemory, want %d", n, before+1)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countSweepers(); n != before {
		t.Fatalf("%d sweepers after Close, want %d", n, before)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Run(brokertest.NewRecorder()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

// TestMemoryMaxStreams: the bound holds, and the least recently used
// stream is the one dropped.
func TestMemoryMaxStreams(t *testing.T) {
	const max = 128 // 2 per shard
	m := newMemory(t, broker.MemoryOptions{MaxStreams: max})
	hot, err := m.Publish(ctx, "hot", []byte("x"), keep(10))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := m.Publish(ctx, "c0", []byte("x"), keep(10))
	for i := 1; i < 1000; i++ {
		if _, _, err := m.History(ctx, "hot", broker.HistoryOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Publish(ctx, "c"+strconv.Itoa(i), []byte("x"), keep(10)); err != nil {
			t.Fatal(err)
		}
		if st := m.Stats(); st.Streams > max {
			t.Fatalf("after %d channels: %d streams, bound %d", i+2, st.Streams, max)
		}
	}
	if st := m.Stats(); st.Streams != max || st.Publications != max || st.Bytes != max {
		t.Fatalf("stats %+v, want %d streams, publications and bytes", st, max)
	}
	pubs, sp, _ := m.History(ctx, "hot", broker.HistoryOptions{Limit: -1})
	if sp != hot || len(pubs) != 1 {
		t.Fatalf("recently used stream: %+v with %d publications, want %+v with 1", sp, len(pubs), hot)
	}
	pubs, sp, _ = m.History(ctx, "c0", broker.HistoryOptions{Limit: -1})
	if sp.Offset != 0 || sp.Epoch == first.Epoch || len(pubs) != 0 {
		t.Fatalf("least recently used stream kept: %+v, %d publications", sp, len(pubs))
	}
}

func TestMemoryPresenceTTL(t *testing.T) {
	const ttl = 200 * time.Millisecond
	m := newMemory(t, broker.MemoryOptions{PresenceTTL: ttl, SweepInterval: time.Hour})
	c1 := &broker.ClientInfo{ClientID: "c1", UserID: "u1"}
	c2 := &broker.ClientInfo{ClientID: "c2", UserID: "u2"}
	b1 := time.Now()
	m.AddPresence(ctx, "a", c1)
	m.AddPresence(ctx, "a", c2)
	time.Sleep(ttl / 2)
	b2 := time.Now()
	m.AddPresence(ctx, "a", c1) // refresh
	time.Sleep(time.Until(b1.Add(ttl + ttl/4)))
	p, _ := m.Presence(ctx, "a")
	st, _ := m.PresenceStats(ctx, "a")
	if time.Since(b2) < ttl {
		if len(p) != 1 || p["c1"] == nil || st != (broker.PresenceStats{NumClients: 1, NumUsers: 1}) {
			t.Fatalf("after c2's TTL: %v %+v, want c1 only", p, st)
		}
	}
	time.Sleep(time.Until(b2.Add(ttl + ttl/4)))
	p, _ = m.Presence(ctx, "a")
	st, _ = m.PresenceStats(ctx, "a")
	if len(p) != 0 || st != (broker.PresenceStats{}) {
		t.Fatalf("after every TTL: %v %+v", p, st)
	}
}

func TestMemoryCanceledContext(t *testing.T) {
	m := newMemory(t, broker.MemoryOptions{})
	rec := brokertest.NewRecorder()
	m.Run(rec)
	m.Subscribe("a")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Publish(cctx, "a", []byte("x"), keep(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish: %v", err)
	}
	if _, _, err := m.History(cctx, "a", broker.HistoryOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("History: %v", err)
	}
	if err := m.AddPresence(cctx, "a", &broker.ClientInfo{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddPresence: %v", err)
	}
	if _, sp, _ := m.History(ctx, "a", broker.HistoryOptions{}); sp.Offset != 0 || len(rec.Events("a")) != 0 {
		t.Fatalf("a canceled Publish published: %+v", sp)
	}
}

func TestMemoryNilClientInfo(t *testing.T) {
	m := newMemory(t, broker.MemoryOptions{})
	if err := m.AddPresence(ctx, "a", nil); !errors.Is(err, broker.ErrNilClientInfo) {
		t.Fatalf("AddPresence(nil): %v", err)
	}
}

// TestMemoryPublishBeforeRun: without a handler publications are kept and
// nothing panics.
func TestMemoryPublishBeforeRun(t *testing.T) {
	m := newMemory(t, broker.MemoryOptions{})
	m.Subscribe("a")
	if sp, err := m.Publish(ctx, "a", []byte("x"), keep(1)); err != nil || sp.Offset != 1 {
		t.Fatalf("%+v %v", sp, err)
	}
	if err := m.PublishJoin(ctx, "a", &broker.ClientInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := m.PublishControl(ctx, nil, ""); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryTTLForever: the largest durations mean "never", not an
// overflow into the past.
func TestMemoryTTLForever(t *testing.T) {
	const forever = time.Duration(1<<63 - 1)
	m := newMemory(t, broker.MemoryOptions{PresenceTTL: forever, SweepInterval: 10 * time.Millisecond})
	opts := broker.PublishOptions{HistorySize: 5, HistoryTTL: forever, HistoryMetaTTL: forever,
		IdempotencyKey: "k", IdempotentResultTTL: forever}
	first, err := m.Publish(ctx, "a", []byte("x"), opts)
	if err != nil {
		t.Fatal(err)
	}
	m.AddPresence(ctx, "a", &broker.ClientInfo{ClientID: "c"})
	time.Sleep(50 * time.Millisecond) // a few sweeps
	if again, _ := m.Publish(ctx, "a", []byte("y"), opts); again != first {
		t.Fatalf("idempotent result lost: %+v, want %+v", again, first)
	}
	pubs, sp, _ := m.History(ctx, "a", broker.HistoryOptions{Limit: -1, MetaTTL: forever})
	if len(pubs) != 1 || sp != first {
		t.Fatalf("history %d publications at %+v, want 1 at %+v", len(pubs), sp, first)
	}
	if st := m.Stats(); st.PresenceEntries != 1 || st.Publications != 1 || st.IdempotentResults != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// slowHandler blocks in HandlePublication until release is closed.
type slowHandler struct {
	nopHandler
	entered chan struct{}
	release chan struct{}
	done    atomic.Bool
}

func (h *slowHandler) HandlePublication(ch string, p *broker.Publication, sp broker.StreamPosition) {
	close(h.entered)
	<-h.release
	h.done.Store(true)
}

// TestMemoryCloseWaitsForDelivery: Close returns only after a delivery in
// progress has returned, so nothing reaches the handler after Close.
func TestMemoryCloseWaitsForDelivery(t *testing.T) {
	m := broker.NewMemory(broker.MemoryOptions{})
	h := &slowHandler{entered: make(chan struct{}), release: make(chan struct{})}
	m.Run(h)
	m.Subscribe("a")
	go m.Publish(ctx, "a", []byte("x"), broker.PublishOptions{})
	<-h.entered
	closed := make(chan struct{})
	go func() {
		m.Close(ctx)
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a delivery was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	<-closed
	if !h.done.Load() {
		t.Fatal("Close returned before the delivery did")
	}
}
