package poller

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
)

// handshakingConn dials the server without sending anything and returns
// the client side and the server's conn, still listed in handshake.
func handshakingConn(t *testing.T, srv *Server, addr string) (net.Conn, *conn) {
	t.Helper()
	cl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	var c *conn
	waitUntil(t, "the connection accepted", func() bool {
		srv.hsMu.Lock()
		defer srv.hsMu.Unlock()
		c = srv.hsFirst
		return c != nil
	})
	return cl, c
}

// TestOutputBarrierShrunk fails when netpoll's private layout changed
// (a netpoll upgrade): barrier.go must then be revisited.
func TestOutputBarrierShrunk(t *testing.T) {
	srv, addr := startServer(t, Options{}, handler.Echo{})
	_, c := handshakingConn(t, srv, addr)
	if got := outputBarrierSlots(c.nc); got != 1 {
		t.Fatalf("netpoll's output barrier has %d slots, want 1 (-1: layout unknown)", got)
	}
}

// TestFlushWaitWithTinyBarrier writes more than the socket buffers take,
// in many slices, through netpoll's Flush and its one-slot table: every
// byte arrives, in order.
func TestFlushWaitWithTinyBarrier(t *testing.T) {
	srv, addr := startServer(t, Options{}, handler.Echo{})
	cl, c := handshakingConn(t, srv, addr)
	var bufs [][]byte
	var want []byte
	for i := range 40 {
		b := bytes.Repeat([]byte{byte(i)}, 64<<10+i)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	got := make(chan []byte, 1)
	go func() {
		cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, len(want))
		n, _ := io.ReadFull(cl, b)
		got <- b[:n]
	}()
	if err := c.flushWait(bufs); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, want %d (equal prefix: %v)", len(b), len(want), bytes.HasPrefix(want, b))
	}
}
