package poller

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/ratelimit"
)

// Admission: the per-IP connection limit and the handshake pacer.
//
// A valid upgrade request is counted against its client IP (the real one,
// after the trusted proxies), then given a slot by the pacer. A slot that is
// due now upgrades at once, in the reader's task. A later slot parks the
// connection in its handshake state, its request head kept, in the
// admission queue: a FIFO list (slots are handed out in order, so the list
// is sorted by slot) that one goroutine with one timer releases when the
// front's slot is due. So a waiting connection costs its head buffer and a
// list entry, no goroutine, timer or worker. The released upgrade runs on
// the worker pool under the connection's readMu, the lock its reader task
// holds, so the two never overlap.

// admitState is a connection's share of admission.
type admitState struct {
	// ip is the client IP the connection is counted under, in 16-byte form
	// (a netip.Addr is 24 bytes, and conn is kept within 256); all zeros
	// while not counted. Only the reader task sets it and only the close
	// callback, which netpoll runs after the last task, clears it.
	ip [16]byte
	w  atomic.Pointer[waiter] // set while queued, until released or refused
}

// waiter is a connection parked until its slot.
type waiter struct {
	c    *conn
	at   int64 // the slot, Unix ns
	req  request
	ep   *Endpoint // where the request is routed, and its index
	epi  uint8
	head *[]byte // the request head req points into; owned by the waiter
	next *waiter
	gone bool // taken off the queue (released or closed)
}

// admission holds the server's limits and queue.
type admission struct {
	perIP  *ratelimit.Counter[netip.Addr]
	maxIP  int
	pacer  *ratelimit.Pacer
	mu     sync.Mutex
	first  *waiter
	last   *waiter
	queued int
	wake   chan struct{} // a waiter was added to an empty queue
	stop   chan struct{}
	done   chan struct{}
}

func newAdmission(o *Options) *admission {
	return &admission{
		perIP: ratelimit.NewCounter[netip.Addr](),
		maxIP: o.MaxConnectionsPerIP,
		pacer: ratelimit.NewPacer(o.HandshakeRate, o.HandshakeBurst, o.HandshakeQueue),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// ConnectionsFrom returns the connections counted under a client IP: those
// past the per-IP check (waiting, upgrading or open) that have not closed.
func (s *Server) ConnectionsFrom(ip netip.Addr) int { return s.admit.perIP.Count(ip.Unmap()) }

// ConnectionIPs returns how many client IPs hold at least one connection.
func (s *Server) ConnectionIPs() int { return s.admit.perIP.Keys() }

// HandshakesQueued returns the handshakes waiting for their pacer slot.
func (s *Server) HandshakesQueued() int {
	s.admit.mu.Lock()
	defer s.admit.mu.Unlock()
	return s.admit.queued
}

// admitAndUpgrade applies the per-IP limit and the pacer to a valid upgrade
// request, then upgrades now, parks the connection, or refuses it.
//
// Over the per-IP limit the answer is 429 Too Many Requests (RFC 6585
// section 4): the limit is about this client's own connections, not the
// server's load, and 429 tells it so; 503 stays the answer for the server's
// own limits. A queue past its bound answers 503 with a jittered Retry-After
// (RFC 9110 section 10.2.3, whole seconds rounded up), so that refused
// clients of a reconnect storm come back spread out.
func (c *conn) admitAndUpgrade(req *request, epIndex uint8, ep *Endpoint, early []byte) {
	srv := c.srv
	a := srv.admit
	ip := srv.proxies.Load().clientIP(c.remote.Addr(), req).Unmap().WithZone("")
	// An address with no 16-byte form of its own (invalid, or the
	// unspecified ::) cannot be told apart from "not counted": not counted.
	countable := ip.IsValid() && !ip.IsUnspecified()
	if countable && !a.perIP.Acquire(ip, a.maxIP) {
		c.reject(req, RejectIPLimit, http.StatusTooManyRequests, "Retry-After: 5\r\n",
			"too many connections from "+ip.String()+" (limit "+strconv.Itoa(a.maxIP)+")")
		return
	}
	if countable {
		c.admit.ip = ip.As16()
	}
	now := time.Now().UnixNano()
	at, ok, retry := a.pacer.Admit(now)
	if !ok {
		secs := int((retry + time.Second - 1) / time.Second)
		c.reject(req, RejectHandshakeRate, http.StatusServiceUnavailable, "Retry-After: "+strconv.Itoa(secs)+"\r\n",
			"too many handshakes; retry in "+strconv.Itoa(secs)+"s")
		return
	}
	if at <= now {
		c.upgrade(req, epIndex, ep, early)
		return
	}
	if len(early) > 0 {
		// The slot is later, and RFC 6455 section 4.1 says a client waits
		// for the response before sending data: we do not keep frames.
		c.reject(req, RejectMalformed, http.StatusBadRequest, "", "data sent before the handshake response (RFC 6455 section 4.1)")
		return
	}
	w := &waiter{c: c, at: at, req: *req, ep: ep, epi: epIndex, head: c.head}
	c.head = nil // the waiter owns it: req points into it
	c.admit.w.Store(w)
	a.push(w)
}

func (a *admission) push(w *waiter) {
	a.mu.Lock()
	if a.last != nil {
		a.last.next = w
	} else {
		a.first = w
	}
	a.last = w
	a.queued++
	wasEmpty := a.queued == 1
	a.mu.Unlock()
	if wasEmpty {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// remove takes w off the queue if it is still there, and reports whether it
// was: whoever removes a waiter owns it.
func (a *admission) remove(w *waiter) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.gone {
		return false
	}
	w.gone = true
	var prev *waiter
	for x := a.first; x != nil; prev, x = x, x.next {
		if x == w {
			if prev != nil {
				prev.next = x.next
			} else {
				a.first = x.next
			}
			if a.last == x {
				a.last = prev
			}
			break
		}
	}
	w.next = nil
	a.queued--
	return true
}

// due takes the waiters whose slot is at or before now off the queue, and
// returns them and the next slot (0 when the queue is empty).
func (a *admission) due(now int64, out []*waiter) ([]*waiter, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.first != nil && a.first.at <= now {
		w := a.first
		a.first = w.next
		w.next, w.gone = nil, true
		a.queued--
		out = append(out, w)
	}
	if a.first == nil {
		a.last = nil
		return out, 0
	}
	return out, a.first.at
}

// run releases waiters when their slots come: the queue's only goroutine
// and timer.
func (s *Server) runAdmission() {
	a := s.admit
	defer close(a.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var batch []*waiter
	for {
		var next int64
		batch, next = a.due(time.Now().UnixNano(), batch[:0])
		for _, w := range batch {
			s.pool.submit(w.release)
		}
		clear(batch)
		wait := time.Hour
		if next != 0 {
			wait = time.Duration(next - time.Now().UnixNano())
		}
		t.Reset(wait)
		select {
		case <-a.stop:
			return
		case <-a.wake: // Reset (Go 1.23) drops a stale expiry
		case <-t.C:
		}
	}
}

// releaseHook, when set (by tests), is told each released waiter's slot
// and the time its upgrade began, both Unix ns.
var releaseHook func(slot, began int64)

// release upgrades a waiter whose slot came, on a worker.
func (w *waiter) release() {
	if releaseHook != nil {
		releaseHook(w.at, time.Now().UnixNano())
	}
	c := w.c
	defer c.recoverPanic()
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.admit.w.CompareAndSwap(w, nil) && c.state.Load() == connHandshake {
		// upgrade reads the raw head (Endpoint.KeepHeaders) and frees it.
		c.head, w.head = w.head, nil
		c.upgrade(&w.req, w.epi, w.ep, nil)
	}
	if w.head != nil {
		putBuffer(w.head)
		w.head = nil
	}
}

// queuedInput handles input on a connection waiting for its slot, in the
// reader's task (under readMu, so a release is not running): a client must
// not send before the response (RFC 6455 section 4.1), so it is refused
// with 400. A release already on its way finds the connection taken.
func (c *conn) queuedInput() bool {
	w := c.admit.w.Swap(nil)
	if w == nil {
		return false
	}
	c.srv.admit.remove(w)
	c.head, w.head = w.head, nil
	c.reject(&w.req, RejectMalformed, http.StatusBadRequest, "", "data sent before the handshake response (RFC 6455 section 4.1)")
	return true
}

// closed is the close callback's share: the per-IP count is released
// exactly once, and a queued connection leaves the queue.
func (a *admission) closed(c *conn) {
	if c.admit.ip != ([16]byte{}) {
		a.perIP.Release(netip.AddrFrom16(c.admit.ip).Unmap())
		c.admit.ip = [16]byte{}
	}
	if w := c.admit.w.Load(); w != nil {
		a.remove(w) // its head is left to the collector: a release may hold it
	}
}

func (a *admission) close() {
	close(a.stop)
}

func (s *Server) logAdmission() {
	if s.opts.HandshakeRate > 0 || s.opts.MaxConnectionsPerIP > 0 {
		s.log.Info("admission", zap.Float64("handshake_rate", s.opts.HandshakeRate), zap.Int("handshake_burst", s.opts.HandshakeBurst),
			zap.Duration("handshake_queue", s.opts.HandshakeQueue), zap.Int("max_connections_per_ip", s.opts.MaxConnectionsPerIP))
	}
}
