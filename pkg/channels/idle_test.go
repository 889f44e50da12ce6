package channels

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/xh-control/gateway/internal/wstest"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/poller"
)

// connectRaw opens a protocol connection without a goroutine of its own:
// handshake, then connect and subscribe to ch in one frame, and waits for
// the subscribe reply.
func connectRaw(addr, ch string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fail := func(err error) (net.Conn, error) { c.Close(); return nil, err }
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(fmt.Errorf("upgrade: %v %v", resp, err))
	}
	cmds := `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + ch + `"}}`
	if _, err := c.Write(codec.AppendMaskedFrame(nil, true, codec.OpText, [4]byte{1, 2, 3, 4}, []byte(cmds))); err != nil {
		return fail(err)
	}
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte(`{"id":2,"subscribe":{}}`)) {
		n, err := br.Read(buf)
		if err != nil {
			return fail(fmt.Errorf("subscribe reply: %q %w", got, err))
		}
		got = append(got, buf[:n]...)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// TestIdleSubscribedClientsHoldNoGoroutines: 5,000 connections, each
// connected and subscribed, leave the goroutine count within a small
// constant of what it was before; the heap they cost is logged.
func TestIdleSubscribedClientsHoldNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 sockets")
	}
	const conns = 5000
	env := startNode(t, func(o *Options, p *poller.Options) {
		p.WorkerIdleTime, p.TickInterval = 20*time.Millisecond, 10*time.Millisecond
		o.PingInterval = -1 // these clients never read: they would be closed for not answering
	})
	before := settledGoroutines()
	heapBefore := heapInUse()

	clients := wstest.DialAll(t, conns, func(i int) (net.Conn, error) { return connectRaw(env.addr, fmt.Sprintf("idle%d", i%100)) })
	if n := env.node.Metrics().Subscriptions.Load(); n != conns {
		t.Fatalf("%d subscriptions, want %d", n, conns)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if busy, _ := env.srv.PoolStats(); busy == 0 {
			break
		}
	}
	after := settledGoroutines()
	heap := heapInUse() - heapBefore
	if path := os.Getenv("CHANNELS_HEAP_PROFILE"); path != "" {
		f, _ := os.Create(path)
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	t.Logf("goroutines: %d before, %d with %d subscribed clients; heap %d bytes per client (server and test client sides)",
		before, after, conns, heap/conns)
	if after > before+10 {
		t.Fatalf("%d goroutines with %d subscribed clients, %d before: a goroutine per connection?", after, conns, before)
	}
	// They still receive publications.
	env.publish(t, "idle7", 1, 1)
	buf := make([]byte, 512)
	var got []byte
	clients[7].SetReadDeadline(time.Now().Add(5 * time.Second))
	for !bytes.Contains(got, []byte(`"channel":"idle7","pub":{"data":1}`)) { // past heartbeat pings
		n, err := clients[7].Read(buf)
		if err != nil {
			t.Fatalf("publication after idling: %q %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// settledGoroutines counts goroutines once short-lived ones have exited.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return m
		}
		n = m
	}
	return n
}
