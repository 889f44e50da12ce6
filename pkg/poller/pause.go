package poller

import (
	"reflect"
	"syscall"
	"unsafe"

	"github.com/cloudwego/netpoll"
	"go.uber.org/zap"
)

// Read back-pressure.
//
// netpoll reads a socket whenever epoll reports it readable and has no way
// to stop: a connection whose task does not consume its input is called
// again at once (a busy loop). So the poller stops reading a connection
// itself, by changing the descriptor's registration in netpoll's epoll set
// to report errors and hang-ups only (no EPOLLIN), and restores it with
// netpoll's own PollRW2R, which re-arms EPOLLIN. With reading stopped, the
// kernel's receive buffer fills and TCP flow control holds the client.
//
// Two things stop reading:
//   - the session's replies reached the queue's high-water mark and the
//     socket does not take them (session.PauseInput): input is held,
//     unparsed, until the queue drains below its low-water mark;
//   - more than maxReadAhead bytes wait in netpoll's buffer while a batch
//     is dispatched: reading resumes when the batch is done, so a client
//     cannot send faster than the gateway parses.
//
// netpoll v0.7.2 keeps the registration in unexported fields; epollFor
// finds them with reflect, checking every type on the way, and reports
// false if netpoll changed, in which case reading is never paused (held
// input is still capped by maxHeldInput).

// maxReadAhead is how much unparsed input netpoll may buffer for a
// connection before its reading stops until the batch is dispatched, and
// the size of the slices a batch is dispatched in. What a paused
// connection holds grows with it: at 1 MiB, 200 clients that send and do
// not read held 66 MB of input and 52 MB of netpoll buffers (bench slow,
// -slow 200); at 256 KiB, 43 and 34 MB. Parsing cost does not depend on it.
const maxReadAhead = 256 << 10

// maxHeldInput caps the unparsed input a paused connection holds. A batch
// is dispatched maxReadAhead bytes at a time, and reading stops while more
// than maxReadAhead bytes wait in netpoll's buffer (checked after every
// message) and as soon as the pause begins. So what is held is the rest of
// the slice being dispatched and what netpoll buffered (under maxReadAhead
// each) and what one read already under way brings (netpoll reads at most
// 8 MiB at once, and no more than the kernel's receive buffer holds): under
// 9 MiB at the very most, usually far less. A connection that would hold more (only
// possible if reading could not be stopped) is closed.
const maxHeldInput = 16 << 20

// epollEvent is the kernel's struct epoll_event on amd64 (packed).
type epollEvent struct {
	events uint32
	data   [8]byte
}

// epollFor returns the operator netpoll registered nc's descriptor with and
// the epoll descriptor it is registered in.
func epollFor(nc netpoll.Connection) (op *netpoll.FDOperator, epfd int, ok bool) {
	v := reflect.ValueOf(nc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, 0, false
	}
	f := v.Elem().FieldByName("operator")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*netpoll.FDOperator]() || f.IsNil() {
		return nil, 0, false
	}
	op = (*netpoll.FDOperator)(f.UnsafePointer())
	p := reflect.ValueOf(op).Elem().FieldByName("poll")
	if !p.IsValid() || p.Type() != reflect.TypeFor[netpoll.Poll]() || p.IsNil() {
		return nil, 0, false
	}
	pv := p.Elem()
	if pv.Kind() != reflect.Pointer || pv.IsNil() || pv.Elem().Kind() != reflect.Struct {
		return nil, 0, false
	}
	fd := pv.Elem().FieldByName("fd")
	if !fd.IsValid() || fd.Kind() != reflect.Int {
		return nil, 0, false
	}
	return op, int(fd.Int()), true
}

// setReading arms or disarms EPOLLIN for the connection. It reports
// whether the registration changed.
func (c *conn) setReading(on bool) bool {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.fdClosed { // netpoll detached it; the operator may be reused
		return false
	}
	if c.op == nil {
		op, epfd, ok := epollFor(c.nc)
		if !ok || op.FD != c.fd {
			return false
		}
		c.op, c.epfd = op, epfd
	}
	if on {
		return c.op.Control(netpoll.PollRW2R) == nil
	}
	ev := epollEvent{events: syscall.EPOLLERR} // EPOLLHUP is always reported
	setEventData(&ev, c.op)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(c.epfd), syscall.EPOLL_CTL_MOD,
		uintptr(c.fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	return errno == 0
}

// pauseReading stops netpoll from reading the connection.
func (c *conn) pauseReading() {
	if !c.readOff && c.setReading(false) {
		c.readOff = true
		c.srv.stats.ReadPauses.Inc()
	}
}

// resumeReading lets netpoll read the connection again.
func (c *conn) resumeReading() {
	if c.readOff {
		c.setReading(true)
		c.readOff = false
	}
}

// hold appends b, unparsed input of a paused connection, to the held
// input. It reports false, after closing the connection, when the held
// input would pass maxHeldInput.
func (c *conn) hold(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if c.held == nil {
		c.held = make([]byte, 0, len(b))
	}
	if len(c.held)+len(b) > maxHeldInput {
		c.srv.log.Warn("closing a paused connection whose held input passed its cap",
			zap.Stringer("session", c.sess.ID()), zap.Int("max_held_input", maxHeldInput))
		c.state.Store(connDraining)
		c.nc.Close()
		c.held = nil
		return false
	}
	c.held = append(c.held, b...)
	return true
}

// ResumeInput implements session.InputResumer: the session's queue drained
// below its low-water mark after PauseInput. The held input is dispatched
// on the worker pool, and reading resumes unless the session pauses again.
func (c *conn) ResumeInput() {
	c.srv.pool.submit(c.resume)
}

func (c *conn) resume() {
	defer c.recoverPanic()
	c.readMu.Lock()
	c.holding = false
	if c.state.Load() == connOpen {
		s := c.sess
		s.BeginDispatch()
		held := c.held
		c.held = nil
		if rest := c.feed(held); len(rest) > 0 {
			c.hold(rest)
		}
		s.EndDispatch()
	} else {
		c.held = nil
	}
	if !c.holding {
		c.resumeReading()
	}
	c.readMu.Unlock()
	if c.state.Load() == connClosed && c.readMu.TryLock() {
		c.releaseBuffers()
		c.readMu.Unlock()
	}
}
