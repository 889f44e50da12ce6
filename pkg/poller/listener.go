package poller

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xh-control/gateway/internal/metric"
)

// listener is the netpoll.Listener the server hands to netpoll. It accepts
// with accept4 (non-blocking, close-on-exec: netpoll's own accept leaks
// sockets into child processes), and when the server drains it refuses new
// connections by closing them at once, so that netpoll's accept loop keeps
// its normal life cycle until the very end of a shutdown.
type listener struct {
	ln       net.Listener // the caller's listener, closed last
	file     *os.File     // a dup of its descriptor, which netpoll polls
	fd       int
	addr     net.Addr
	refusing *atomic.Bool
	refused  *metric.Counter
	once     sync.Once
}

func newListener(ln net.Listener, refusing *atomic.Bool, refused *metric.Counter) (*listener, error) {
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errors.New("poller: listener must be a TCP or Unix listener")
	}
	f, err := fl.File()
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		f.Close()
		return nil, err
	}
	return &listener{ln: ln, file: f, fd: fd, addr: ln.Addr(), refusing: refusing, refused: refused}, nil
}

// Accept accepts one connection. (nil, nil) tells netpoll that there is
// nothing (more) to accept for now.
func (l *listener) Accept() (net.Conn, error) {
	for {
		fd, sa, err := syscall.Accept4(l.fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		switch err {
		case nil:
		case syscall.EAGAIN:
			return nil, nil
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		default:
			return nil, err
		}
		if l.refusing.Load() {
			syscall.Close(fd)
			l.refused.Inc()
			continue
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		return &acceptedConn{fd: fd, local: l.addr, remote: sockaddrToTCP(sa)}, nil
	}
}

// Close closes the polled descriptor and the caller's listener.
func (l *listener) Close() error {
	l.once.Do(func() {
		l.file.Close()
		l.ln.Close()
	})
	return nil
}

func (l *listener) Addr() net.Addr { return l.addr }

// Fd is the descriptor netpoll watches.
func (l *listener) Fd() int { return l.fd }

// sockaddrToTCP converts an accepted peer's address. netpoll keeps it for
// the connection's life: a tcpAddr boxes into 32 bytes of heap, where a
// *net.TCPAddr and its IP slice took 80.
func sockaddrToTCP(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return tcpAddr(netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)))
	case *syscall.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr).Unmap()
		return tcpAddr(netip.AddrPortFrom(ip, uint16(a.Port)))
	}
	return tcpAddr{}
}

// tcpAddr is a TCP address as a net.Addr (IPv4-mapped IPv6 unmapped).
type tcpAddr netip.AddrPort

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return netip.AddrPort(a).String() }

// acceptedConn hands an accepted descriptor to netpoll, which only asks for
// Fd and the addresses: it does all I/O itself.
type acceptedConn struct {
	fd            int
	local, remote net.Addr
}

var errNotForIO = errors.New("poller: accepted socket is driven by netpoll")

func (c *acceptedConn) Fd() int                          { return c.fd }
func (c *acceptedConn) LocalAddr() net.Addr              { return c.local }
func (c *acceptedConn) RemoteAddr() net.Addr             { return c.remote }
func (c *acceptedConn) Read([]byte) (int, error)         { return 0, errNotForIO }
func (c *acceptedConn) Write([]byte) (int, error)        { return 0, errNotForIO }
func (c *acceptedConn) Close() error                     { return syscall.Close(c.fd) }
func (c *acceptedConn) SetDeadline(time.Time) error      { return errNotForIO }
func (c *acceptedConn) SetReadDeadline(time.Time) error  { return errNotForIO }
func (c *acceptedConn) SetWriteDeadline(time.Time) error { return errNotForIO }
