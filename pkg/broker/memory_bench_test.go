package broker_test

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

// nopHandler counts deliveries, as a handler that queues frames would.
type nopHandler struct{ n atomic.Int64 }

func (h *nopHandler) HandlePublication(string, *broker.Publication, broker.StreamPosition) {
	h.n.Add(1)
}
func (h *nopHandler) HandleJoin(string, *broker.ClientInfo)  {}
func (h *nopHandler) HandleLeave(string, *broker.ClientInfo) {}
func (h *nopHandler) HandleControl([]byte)                   {}

func benchMemory(b *testing.B) *broker.Memory {
	m := newMemory(b, broker.MemoryOptions{})
	m.Run(&nopHandler{})
	return m
}

var payload = []byte(`{"text":"a message of about sixty bytes for the benchmarks"}`)

// BenchmarkMemoryPublishHistory: one subscribed channel keeping 100.
func BenchmarkMemoryPublishHistory(b *testing.B) {
	m := benchMemory(b)
	m.Subscribe("a")
	opts := keep(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Publish(ctx, "a", payload, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPublishNoHistory: one subscribed channel, no history.
func BenchmarkMemoryPublishNoHistory(b *testing.B) {
	m := benchMemory(b)
	m.Subscribe("a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Publish(ctx, "a", payload, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryHistory100: the newest 100 of 1000 kept.
func BenchmarkMemoryHistory100(b *testing.B) {
	m := benchMemory(b)
	for i := 0; i < 1000; i++ {
		m.Publish(ctx, "a", payload, keep(1000))
	}
	opts := broker.HistoryOptions{Limit: 100, Reverse: true}
	b.ReportAllocs()
	for b.Loop() {
		pubs, _, err := m.History(ctx, "a", opts)
		if err != nil || len(pubs) != 100 {
			b.Fatal(len(pubs), err)
		}
	}
}

// BenchmarkMemoryPublishParallel1000: GOMAXPROCS publishers over 1000
// subscribed channels keeping 100 each.
func BenchmarkMemoryPublishParallel1000(b *testing.B) {
	m := benchMemory(b)
	channels := make([]string, 1000)
	for i := range channels {
		channels[i] = "ch" + strconv.Itoa(i)
		m.Subscribe(channels[i])
	}
	opts := keep(100)
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			i++
			if _, err := m.Publish(ctx, channels[i%len(channels)], payload, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryHistoryFootprint measures what history costs the node's
// heap: 1,000 channels, each filled to its history size with 60-byte
// publications, reported as live heap bytes per retained publication
// (B/publication, data included) and per channel (B/channel). The
// publications live as long as history_ttl; the figure times
// channels x history_size is the memory to plan for.
func BenchmarkMemoryHistoryFootprint(b *testing.B) {
	const channels = 1000
	for _, size := range []int{10, 100, 1000} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			names := make([]string, channels)
			for i := range names {
				names[i] = "chat:footprint" + strconv.Itoa(i)
			}
			opts := keep(size)
			var perPub, perChannel float64
			for b.Loop() {
				before := liveHeap()
				m := broker.NewMemory(broker.MemoryOptions{})
				for _, ch := range names {
					for range size {
						data := append([]byte(nil), payload...) // its own data, as every publication has
						if _, err := m.Publish(ctx, ch, data, opts); err != nil {
							b.Fatal(err)
						}
					}
				}
				grown := float64(liveHeap() - before)
				perPub, perChannel = grown/float64(channels*size), grown/channels
				runtime.KeepAlive(m)
				m.Close(ctx)
			}
			b.ReportMetric(perPub, "B/publication")
			b.ReportMetric(perChannel, "B/channel")
		})
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
