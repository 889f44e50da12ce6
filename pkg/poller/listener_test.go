package poller

import (
	"syscall"
	"testing"
)

// TestSockaddrToTCP: the address netpoll keeps per connection is one
// 32-byte allocation and prints as net.TCPAddr would.
func TestSockaddrToTCP(t *testing.T) {
	mapped := [16]byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1}
	v6 := [16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: 1}
	for _, tc := range []struct {
		sa   syscall.Sockaddr
		want string
	}{
		{&syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 65535}, "127.0.0.1:65535"},
		{&syscall.SockaddrInet6{Addr: mapped, Port: 80}, "192.0.2.1:80"},
		{&syscall.SockaddrInet6{Addr: v6, Port: 1}, "[2001:db8::1]:1"},
		{&syscall.SockaddrUnix{Name: "x"}, "invalid AddrPort"},
	} {
		a := sockaddrToTCP(tc.sa)
		if a.Network() != "tcp" || a.String() != tc.want {
			t.Errorf("%v: %s %q, want tcp %q", tc.sa, a.Network(), a.String(), tc.want)
		}
	}
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 1}
	if n := testing.AllocsPerRun(100, func() { sockaddrToTCP(sa) }); n != 1 {
		t.Fatalf("%v allocations per address, want 1", n)
	}
}
