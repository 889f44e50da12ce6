package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/glob"
	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/broker/natsbroker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

// figures is a node's local Info and Channels (the parts a heartbeat
// carries); the rest of serverapi.Node is not used by Cluster.
type figures struct {
	serverapi.Node
	name  string
	chans map[string]int
}

func (f figures) Info(context.Context) ([]serverapi.NodeInfo, error) {
	subs := 0
	for _, n := range f.chans {
		subs += n
	}
	return []serverapi.NodeInfo{{UID: "uid-" + f.name, Name: f.name, NumClients: subs, NumChannels: len(f.chans), NumSubs: subs, Uptime: time.Second}}, nil
}

func (f figures) Channels(_ context.Context, pattern string) (map[string]int, error) {
	out := map[string]int{}
	for ch, n := range f.chans {
		if pattern == "" || glob.Match(pattern, ch) {
			out[ch] = n
		}
	}
	return out, nil
}

// recorder is the channel node's side of the event handler.
type recorder struct {
	mu       sync.Mutex
	controls [][]byte
}

func (r *recorder) HandlePublication(string, *broker.Publication, broker.StreamPosition) {}
func (r *recorder) HandleJoin(string, *broker.ClientInfo)                                {}
func (r *recorder) HandleLeave(string, *broker.ClientInfo)                               {}
func (r *recorder) HandleControl(d []byte) {
	r.mu.Lock()
	r.controls = append(r.controls, append([]byte(nil), d...))
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.controls)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHeartbeats runs three nodes on one in-process NATS server: info lists
// all three, channels sums their counts (filtered by the pattern), control
// messages other than heartbeats reach the node, and a node that stops
// beating is forgotten after MissedBeats intervals.
func TestHeartbeats(t *testing.T) {
	s, url, err := natsbroker.StartEmbedded(natsbroker.EmbeddedOptions{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	const interval = 50 * time.Millisecond
	locals := []figures{
		{name: "a", chans: map[string]int{"chat:1": 2, "news": 1}},
		{name: "b", chans: map[string]int{"chat:1": 3, "chat:2": 1}},
		{name: "c", chans: map[string]int{}},
	}
	var cls []*Cluster
	var recs []*recorder
	for i, l := range locals {
		nb, err := natsbroker.New(natsbroker.Options{URLs: []string{url}, Name: fmt.Sprint(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		c := New(nb, fmt.Sprint(i+1), interval)
		r := &recorder{}
		if err := c.Run(r); err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		c.Start(l)
		cls = append(cls, c)
		recs = append(recs, r)
	}
	api := cls[2].APINode(locals[2])
	ctx := context.Background()
	eventually(t, "three nodes in info", func() bool {
		infos, _ := api.Info(ctx)
		return len(infos) == 3
	})
	infos, _ := api.Info(ctx)
	names := map[string]int{}
	for _, i := range infos {
		names[i.Name] = i.NumSubs
	}
	if want := map[string]int{"a": 3, "b": 4, "c": 0}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("info subs by node = %v, want %v", names, want)
	}
	got, _ := api.Channels(ctx, "chat:*")
	if want := map[string]int{"chat:1": 5, "chat:2": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("channels chat:* = %v, want %v", got, want)
	}
	got, _ = api.Channels(ctx, "")
	if len(got) != 3 || got["news"] != 1 {
		t.Fatalf("channels = %v, want chat:1, chat:2, news", got)
	}
	for _, r := range recs {
		if n := r.count(); n != 0 {
			t.Fatalf("a heartbeat reached the node's HandleControl (%d calls)", n)
		}
	}
	if err := cls[0].PublishControl(ctx, []byte(`{"op":"disconnect","user":"u"}`), ""); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		eventually(t, fmt.Sprintf("control message on node %d", i+1), func() bool { return r.count() == 1 })
	}

	// Forward reaches the named node alone, not its channel node.
	var fwd [3]atomic.Int32
	for i, c := range cls {
		c.OnForward(func(p []byte) {
			if string(p) == "kick" {
				fwd[i].Add(1)
			}
		})
	}
	if err := cls[2].Forward(ctx, "1", []byte("kick")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forward to node 1", func() bool { return fwd[0].Load() == 1 })
	time.Sleep(2 * interval)
	if fwd[1].Load() != 0 || fwd[2].Load() != 0 || recs[0].count() != 1 {
		t.Fatalf("forward reached nodes 2 and 3 %d and %d times, node 1's HandleControl %d times; want 0, 0, 1",
			fwd[1].Load(), fwd[2].Load(), recs[0].count())
	}
	if !cls[2].Live("2") || !cls[2].Live("3") || cls[2].Live("4") {
		t.Fatal("Live: want nodes 2 and 3 live and 4 not")
	}

	cls[1].Stop()
	stopped := time.Now()
	eventually(t, "node b forgotten", func() bool {
		infos, _ := api.Info(ctx)
		return len(infos) == 2
	})
	if cls[2].Live("2") {
		t.Fatal("node 2 still live after it was forgotten")
	}
	if d := time.Since(stopped); d < (MissedBeats-1)*interval {
		t.Fatalf("node b forgotten after %v, before %d missed beats", d, MissedBeats)
	}
	got, _ = api.Channels(ctx, "chat:*")
	if want := map[string]int{"chat:1": 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("channels after b left = %v, want %v", got, want)
	}
}
