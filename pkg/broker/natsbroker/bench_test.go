package natsbroker

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// latencies collects durations and reports percentiles as benchmark
// metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))].Microseconds())
	}
	b.ReportMetric(at(0.50), prefix+"p50-µs")
	b.ReportMetric(at(0.99), prefix+"p99-µs")
	b.ReportMetric(float64(l.d[len(l.d)-1].Microseconds()), prefix+"max-µs")
}

func benchEngine(b *testing.B, url, name string) (*Broker, *chanHandler) {
	e, err := New(Options{URLs: []string{url}, Name: name, RequestTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	h := &chanHandler{}
	if err := e.Run(h); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close(context.Background()) })
	return e, h
}

// chanHandler measures delivery latency from a send time in the data.
type chanHandler struct {
	lat  latencies
	got  chan struct{}
	once sync.Once
}

func (h *chanHandler) HandlePublication(_ string, p *broker.Publication, _ broker.StreamPosition) {
	if len(p.Data) >= 8 && h.got != nil {
		sent := int64(binary.BigEndian.Uint64(p.Data))
		h.lat.add(time.Duration(time.Now().UnixNano() - sent))
		h.got <- struct{}{}
	}
}
func (h *chanHandler) HandleJoin(string, *broker.ClientInfo)  {}
func (h *chanHandler) HandleLeave(string, *broker.ClientInfo) {}
func (h *chanHandler) HandleControl([]byte)                   {}

// BenchmarkPublishHistory: one node publishes with history (size 100) to
// one channel, one at a time, on an in-process server with file storage;
// reports the Publish latency percentiles.
func BenchmarkPublishHistory(b *testing.B) {
	_, url := runServer(b, b.TempDir(), 0)
	e, _ := benchEngine(b, url, "a")
	data := make([]byte, 128)
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	c := context.Background()
	if _, err := e.Publish(c, "bench", data, opts); err != nil {
		b.Fatal(err)
	}
	var lat latencies
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.Publish(c, "bench", data, opts); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
	}
	b.StopTimer()
	lat.report(b, "publish-")
}

// BenchmarkPublishHistoryParallel: publishers on every core, each channel
// its own, history on.
func BenchmarkPublishHistoryParallel(b *testing.B) {
	_, url := runServer(b, b.TempDir(), 0)
	e, _ := benchEngine(b, url, "a")
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	var lat latencies
	var n sync.Mutex
	next := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n.Lock()
		ch := "bench-" + strconv.Itoa(next)
		next++
		n.Unlock()
		data := make([]byte, 128)
		for pb.Next() {
			t0 := time.Now()
			if _, err := e.Publish(context.Background(), ch, data, opts); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, "publish-")
}

// BenchmarkDeliveryLatency: node A publishes, node B (another connection
// to the same in-process server) receives; one publication in flight at a
// time; reports A's Publish call to B's HandlePublication.
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, hist := range []bool{false, true} {
		name := "core"
		opts := broker.PublishOptions{}
		if hist {
			name = "history"
			opts = broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
		}
		b.Run(name, func(b *testing.B) {
			_, url := runServer(b, b.TempDir(), 0)
			a, _ := benchEngine(b, url, "a")
			nb, h := benchEngine(b, url, "b")
			h.got = make(chan struct{}, 1)
			if err := nb.Subscribe("lat"); err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 128)
			b.ResetTimer()
			for b.Loop() {
				binary.BigEndian.PutUint64(data, uint64(time.Now().UnixNano()))
				if _, err := a.Publish(context.Background(), "lat", data, opts); err != nil {
					b.Fatal(err)
				}
				select {
				case <-h.got:
				case <-time.After(5 * time.Second):
					b.Fatal("not delivered")
				}
			}
			b.StopTimer()
			h.lat.report(b, "deliver-")
		})
	}
}

// BenchmarkHistory: History of a channel holding 100 publications: all of
// them, and a recovery read (Since the third newest).
func BenchmarkHistory(b *testing.B) {
	_, url := runServer(b, b.TempDir(), 0)
	e, _ := benchEngine(b, url, "a")
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	var sp broker.StreamPosition
	for i := 0; i < 100; i++ {
		var err error
		if sp, err = e.Publish(context.Background(), "h", make([]byte, 128), opts); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		opts broker.HistoryOptions
		want int
	}{
		{"all100", broker.HistoryOptions{Limit: -1}, 100},
		{"since3", broker.HistoryOptions{Limit: -1, Since: &broker.StreamPosition{Offset: sp.Offset - 3, Epoch: sp.Epoch}}, 3},
		{"position", broker.HistoryOptions{}, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				pubs, _, err := e.History(context.Background(), "h", c.opts)
				if err != nil || len(pubs) != c.want {
					b.Fatalf("%d publications, %v", len(pubs), err)
				}
			}
		})
	}
}
