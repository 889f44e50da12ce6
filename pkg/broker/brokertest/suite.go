// Package brokertest is the conformance suite every broker engine passes:
// the rules of broker.Broker and broker.PresenceManager checked with exact
// values, on one node and, where the engine can make them, on two nodes
// that share a backing store.
//
// An engine's test runs it as
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) brokertest.Engines {
//			m := broker.NewMemory(broker.MemoryOptions{NodeID: "n1"})
//			t.Cleanup(func() { m.Close(context.Background()) })
//			return brokertest.Engines{Broker: m, Presence: m, NodeID: "n1"}
//		})
//	}
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// Engines is one node's engines under test, as newEngine makes them: fresh,
// not yet Run, with their Close registered by newEngine in t.Cleanup (the
// suite may Close them earlier; a second Close must not panic).
type Engines struct {
	// Broker is required. The suite calls its Run with a Recorder.
	// Subscribe must have taken effect when it returns: a Publish on any
	// node that starts afterwards is delivered.
	Broker broker.Broker
	// Presence, when nil, skips the presence cases. When it is the same
	// object as Broker, the Close case checks that its methods return
	// broker.ErrClosed too.
	Presence broker.PresenceManager
	// NodeID is the ID this node answers to in PublishControl.
	NodeID string
	// NewNode, when not nil, returns another node (different NodeID) that
	// shares this node's backing store, as a second gateway on the same
	// NATS cluster. Cases with two nodes are skipped when it is nil.
	NewNode func(t *testing.T) Engines
	// TTLUnit is the base of the timing cases: TTLs of 2 to 5 units are
	// set and checked after sleeps of whole units, so it must exceed the
	// engine's TTL granularity and scheduling noise. 0 means 50ms.
	TTLUnit time.Duration
	// Wait bounds how long a delivery may take; 0 means 5s.
	Wait time.Duration
	// Quiet is how long the suite waits before it concludes that nothing
	// more is delivered; 0 means 50ms.
	Quiet time.Duration
	// Skip names cases (Run's subtest names) the engine does not support,
	// with the reason; they are reported as skipped with it. Each entry is
	// a documented deviation from broker's contract.
	Skip map[string]string
}

type testCase struct {
	name  string
	nodes int // 2: skipped without Engines.NewNode
	run   func(t *testing.T, e *env)
	// sleeps: the case mostly waits for TTLs, so it runs in parallel
	// with the other such cases, after the rest.
	sleeps bool
}

var cases = []testCase{
	{"PublishOffsetsEpochTime", 1, testPublishOffsets, false},
	{"PublishWithoutHistory", 1, testPublishWithoutHistory, false},
	{"PublicationFields", 1, testPublicationFields, false},
	{"HistorySizeBound", 1, testHistorySize, false},
	{"HistoryLimit", 1, testHistoryLimit, false},
	{"HistorySince", 1, testHistorySince, false},
	{"HistorySinceOutsideWindow", 1, testHistorySinceWindow, false},
	{"HistoryNeverPublished", 1, testHistoryNeverPublished, false},
	{"HistoryTTL", 1, testHistoryTTL, true},
	{"HistoryMetaTTL", 1, testHistoryMetaTTL, true},
	{"RemoveHistory", 1, testRemoveHistory, false},
	{"Idempotency", 1, testIdempotency, false},
	{"IdempotencyTTL", 1, testIdempotencyTTL, true},
	{"ConcurrentPublishOrder", 1, testConcurrentPublish, false},
	{"ConcurrentPublishWithoutHistory", 1, testConcurrentPublishNoHistory, false},
	{"ConcurrentReadsSeeOneSnapshot", 1, testConcurrentReads, false},
	{"SubscribeGatesDelivery", 1, testSubscribeGates, false},
	{"JoinLeaveOrder", 1, testJoinLeave, false},
	{"Control", 1, testControl, false},
	{"Presence", 1, testPresence, false},
	{"PresenceChannelsIsolated", 1, testPresenceIsolated, false},
	{"Close", 1, testClose, false},
	{"ClusterDelivery", 2, testClusterDelivery, false},
	{"ClusterConcurrentOffsets", 2, testClusterConcurrent, false},
	{"ClusterControl", 2, testClusterControl, false},
	{"ClusterPresence", 2, testClusterPresence, false},
	{"ClusterClosedNodeGetsNothing", 2, testClusterClosed, false},
}

// Run runs every case as a subtest, each on engines from a new
// newEngine(t) call. The cases that mostly sleep (TTLs) run in parallel
// with each other, so newEngine must be safe for concurrent use.
func Run(t *testing.T, newEngine func(t *testing.T) Engines) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.sleeps {
				t.Parallel()
			}
			e := newEnv(t, newEngine(t))
			if why, ok := e.Skip[c.name]; ok {
				t.Skip("engine does not support this case: " + why)
			}
			if c.nodes > 1 && e.NewNode == nil {
				t.Skip("engine makes one node only (Engines.NewNode is nil)")
			}
			c.run(t, e)
		})
	}
}

// env is one node under test with its recorder and the suite's defaults.
type env struct {
	Engines
	rec    *Recorder
	ctx    context.Context
	prefix string // makes channel names unique per case
}

func newEnv(t *testing.T, en Engines) *env {
	t.Helper()
	if en.Broker == nil {
		t.Fatal("Engines.Broker is nil")
	}
	if en.TTLUnit <= 0 {
		en.TTLUnit = 50 * time.Millisecond
	}
	if en.Wait <= 0 {
		en.Wait = 5 * time.Second
	}
	if en.Quiet <= 0 {
		en.Quiet = 50 * time.Millisecond
	}
	e := &env{Engines: en, rec: NewRecorder(), ctx: context.Background(), prefix: uniquePrefix()}
	if err := en.Broker.Run(e.rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return e
}

// node2 makes the second node, sharing e's channel names.
func (e *env) node2(t *testing.T) *env {
	t.Helper()
	e2 := newEnv(t, e.NewNode(t))
	e2.prefix = e.prefix
	if e2.NodeID == e.NodeID {
		t.Fatalf("both nodes have NodeID %q", e.NodeID)
	}
	return e2
}

func uniquePrefix() string {
	var b [4]byte
	rand.Read(b[:])
	return "bt" + hex.EncodeToString(b[:]) + ":"
}

func (e *env) ch(name string) string { return e.prefix + name }

func (e *env) needPresence(t *testing.T) {
	if e.Presence == nil {
		t.Skip("engine has no PresenceManager (Engines.Presence is nil)")
	}
}

func (e *env) subscribe(t *testing.T, channel string) {
	t.Helper()
	if err := e.Broker.Subscribe(channel); err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
}

func (e *env) publish(t testing.TB, channel, data string, opts broker.PublishOptions) broker.StreamPosition {
	t.Helper()
	sp, err := e.Broker.Publish(e.ctx, channel, []byte(data), opts)
	if err != nil {
		t.Fatalf("Publish(%q, %q): %v", channel, data, err)
	}
	return sp
}

func (e *env) history(t *testing.T, channel string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition) {
	t.Helper()
	pubs, sp, err := e.Broker.History(e.ctx, channel, opts)
	if err != nil {
		t.Fatalf("History(%q, %+v): %v", channel, opts, err)
	}
	return pubs, sp
}

// barrier publishes to a subscribed channel of its own and waits for it,
// then for Quiet: whatever e would have delivered before has arrived.
func (e *env) barrier(t *testing.T) {
	t.Helper()
	ch := e.ch("barrier")
	e.subscribe(t, ch)
	n := len(e.rec.Events(ch))
	e.publish(t, ch, "barrier", broker.PublishOptions{})
	e.rec.WaitEvents(t, ch, n+1, e.Wait)
	time.Sleep(e.Quiet)
}

// keep is history kept for an hour, large enough for every case.
func keep(size int) broker.PublishOptions {
	return broker.PublishOptions{HistorySize: size, HistoryTTL: time.Hour}
}

// seq is from..to inclusive, descending when from > to.
func seq(from, to uint64) []uint64 {
	var s []uint64
	if from <= to {
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	for i := from; i >= to; i-- {
		s = append(s, i)
	}
	return s
}

func offsets(pubs []*broker.Publication) []uint64 {
	s := make([]uint64, len(pubs))
	for i, p := range pubs {
		s[i] = p.Offset
	}
	return s
}

func equalOffsets(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantOffsets fails t unless pubs have exactly the offsets want, in order,
// and each carries the data "p<offset>" the cases publish.
func wantOffsets(t *testing.T, what string, pubs []*broker.Publication, want []uint64) {
	t.Helper()
	if got := offsets(pubs); !equalOffsets(got, want) {
		t.Fatalf("%s: offsets %v, want %v", what, got, want)
	}
	for _, p := range pubs {
		if d := dataOf(p.Offset); string(p.Data) != d {
			t.Fatalf("%s: offset %d has data %q, want %q", what, p.Offset, p.Data, d)
		}
	}
}

func dataOf(offset uint64) string { return "p" + itoa(offset) }

func itoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	return string(b[i:])
}

// publishN publishes data "p<offset>" for the next n offsets of channel
// and returns the last position; the channel must be at offset from-1.
func (e *env) publishN(t *testing.T, channel string, from, n uint64, opts broker.PublishOptions) broker.StreamPosition {
	t.Helper()
	var sp broker.StreamPosition
	for i := from; i < from+n; i++ {
		sp = e.publish(t, channel, dataOf(i), opts)
		if sp.Offset != i {
			t.Fatalf("publish %d to %q: offset %d", i, channel, sp.Offset)
		}
	}
	return sp
}

func sleepUntil(tm time.Time) { time.Sleep(time.Until(tm)) }
