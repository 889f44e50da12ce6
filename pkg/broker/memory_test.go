package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/broker/brokertest"
)

// TestMemoryConformance runs the shared suite against the memory engine
// (one node: the cluster cases are skipped).
func TestMemoryConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) brokertest.Engines {
		m := NewMemory(MemoryOptions{NodeID: "node-1"})
		t.Cleanup(func() { m.Close(context.Background()) })
		return brokertest.Engines{Broker: m, Presence: m, NodeID: "node-1"}
	})
}

type recorder struct {
	mu   sync.Mutex
	pubs map[string][]*Publication
	sps  map[string][]StreamPosition
	ev   []string
	ctl  [][]byte
}

func newRecorder() *recorder {
	return &recorder{pubs: map[string][]*Publication{}, sps: map[string][]StreamPosition{}}
}

func (r *recorder) HandlePublication(ch string, p *Publication, sp StreamPosition) {
	r.mu.Lock()
	r.pubs[ch] = append(r.pubs[ch], p)
	r.sps[ch] = append(r.sps[ch], sp)
	r.mu.Unlock()
}
func (r *recorder) HandleJoin(ch string, i *ClientInfo) {
	r.mu.Lock()
	r.ev = append(r.ev, "join "+ch+" "+i.ClientID)
	r.mu.Unlock()
}
func (r *recorder) HandleLeave(ch string, i *ClientInfo) {
	r.mu.Lock()
	r.ev = append(r.ev, "leave "+ch+" "+i.ClientID)
	r.mu.Unlock()
}
func (r *recorder) HandleControl(d []byte) {
	r.mu.Lock()
	r.ctl = append(r.ctl, d)
	r.mu.Unlock()
}

func newTestMemory(t *testing.T, opts MemoryOptions) (*Memory, *recorder) {
	t.Helper()
	m := NewMemory(opts)
	t.Cleanup(func() { m.Close(context.Background()) })
	r := newRecorder()
	if err := m.Run(r); err != nil {
		t.Fatal(err)
	}
	return m, r
}

func TestMemoryPublishHistoryBasic(t *testing.T) {
	ctx := context.Background()
	m, r := newTestMemory(t, MemoryOptions{})
	if err := m.Subscribe("a"); err != nil {
		t.Fatal(err)
	}
	opts := PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}
	var epoch string
	for i := 1; i <= 4; i++ {
		sp, err := m.Publish(ctx, "a", []byte{byte(i)}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Offset != uint64(i) || sp.Epoch == "" || (epoch != "" && sp.Epoch != epoch) {
			t.Fatalf("publish %d: %+v (epoch %q)", i, sp, epoch)
		}
		epoch = sp.Epoch
	}
	pubs, sp, err := m.History(ctx, "a", HistoryOptions{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if sp != (StreamPosition{4, epoch}) || len(pubs) != 3 || pubs[0].Offset != 2 || pubs[2].Offset != 4 {
		t.Fatalf("history: %+v %d", sp, len(pubs))
	}
	if len(r.pubs["a"]) != 4 {
		t.Fatalf("delivered %d, want 4", len(r.pubs["a"]))
	}
	st := m.Stats()
	if st.Streams != 1 || st.Publications != 3 || st.Bytes != 3 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
}
