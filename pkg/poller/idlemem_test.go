package poller

import (
	"bytes"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/handler"
)

// BenchmarkIdleMemory reports the server's Go heap per idle connection
// (after a collection) at 5,000 connections, fresh and after one 1 KiB
// echo on each: issue #9's goals are 2,560 and 3,584 bytes at 10,000, and
// README's table says what each byte is. The clients are raw blocking
// sockets, so that they add nothing to the heap measured. b.N is ignored:
// one measurement per run.
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x ./pkg/poller
func BenchmarkIdleMemory(b *testing.B) {
	const n = 5000 // both ends in this process: 10,000 descriptors
	srv, addr := startServer(b, Options{}, handler.Echo{})
	churn(b, addr, 200, 8) // warm pools and netpoll's caches
	before := heapAfterGC()
	port := addrPort(b, addr)
	fds := make([]int, 0, n)
	b.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	resp := make([]byte, 512)
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
			b.Fatal(err)
		}
		if _, err := syscall.Write(fd, []byte(handshakeRequest("/ws"))); err != nil {
			b.Fatal(err)
		}
		if got := readFull(b, fd, resp[:0], func(p []byte) bool { return bytes.HasSuffix(p, []byte("\r\n\r\n")) }); !bytes.HasPrefix(got, []byte("HTTP/1.1 101 ")) {
			b.Fatalf("upgrade answered %q", got)
		}
	}
	waitUntil(b, "all sessions registered", func() bool { return srv.Hub().Count() == n })
	fresh := heapAfterGC()

	msg := bytes.Repeat([]byte("x"), 1024)
	frame := codec.AppendMaskedFrame(nil, true, codec.OpBinary, clientMask, msg)
	echo := make([]byte, 0, 1024+4)
	for _, fd := range fds {
		if _, err := syscall.Write(fd, frame); err != nil {
			b.Fatal(err)
		}
		got := readFull(b, fd, echo[:0], func(p []byte) bool { return len(p) == cap(echo) })
		if !bytes.Equal(got[4:], msg) {
			b.Fatalf("echo of %d bytes differs", len(got))
		}
	}
	echoed := heapAfterGC()
	b.ReportMetric(float64(int64(fresh)-int64(before))/n, "B/conn-fresh")
	b.ReportMetric(float64(int64(echoed)-int64(before))/n, "B/conn-echoed")
	b.ReportMetric(0, "ns/op")
}

// readFull reads from a blocking socket into buf until done says so.
func readFull(b *testing.B, fd int, buf []byte, done func([]byte) bool) []byte {
	for !done(buf) {
		m, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err != nil || m <= 0 {
			b.Fatalf("read: %d %v after %q", m, err, buf)
		}
		buf = buf[:len(buf)+m]
	}
	return buf
}

func addrPort(b *testing.B, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		b.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		b.Fatal(err)
	}
	return port
}
