package session

import (
	"testing"
	"time"
)

// discardTransport accepts everything at once, like a socket with an empty
// send buffer, so that benchmarks measure the session and not the kernel.
type discardTransport struct{}

func (discardTransport) Write(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n, nil
}
func (discardTransport) WriteWait([][]byte) error { return nil }
func (discardTransport) CloseWrite() error        { return nil }
func (discardTransport) Close() error             { return nil }

func benchSend(b *testing.B, size int, dispatch bool) {
	h := NewHub(Options{}, &recorder{})
	s := h.Open(discardTransport{}, Info{}, nil)
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if dispatch {
			s.BeginDispatch()
		}
		s.Send(Binary, payload)
		if dispatch {
			s.EndDispatch()
		}
	}
}

// BenchmarkEcho64 is the echo path: a message is queued while its input is
// dispatched and written when the dispatch ends.
func BenchmarkEcho64(b *testing.B)  { benchSend(b, 64, true) }
func BenchmarkEcho1K(b *testing.B)  { benchSend(b, 1024, true) }
func BenchmarkSend64(b *testing.B)  { benchSend(b, 64, false) }
func BenchmarkSend64K(b *testing.B) { benchSend(b, 64<<10, false) }

// BenchmarkBroadcast10k sends one 128-byte message to 10,000 in-memory
// sessions per iteration; ns/op divided by 10,000 is the cost per delivery.
func BenchmarkBroadcast10k(b *testing.B) {
	h := NewHub(Options{}, &recorder{})
	for range 10000 {
		h.Open(discardTransport{}, Info{}, nil)
	}
	payload := make([]byte, 128)
	b.ReportAllocs()
	for b.Loop() {
		if n := h.Broadcast(Text, payload); n != 10000 {
			b.Fatalf(
				"delivered %d",
				n,
			)
		}
		h.waitFlushed() // count the writes, not just the enqueueing
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/delivery")
}

// BenchmarkTick100k is one heartbeat tick over 100,000 sessions with
// nothing due; ns/op divided by 100,000 is the cost per session per tick.
func BenchmarkTick100k(b *testing.B) {
	h := NewHub(Options{}, &recorder{})
	for range 100000 {
		h.Open(discardTransport{}, Info{}, nil)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		h.Tick(now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/session")
}
