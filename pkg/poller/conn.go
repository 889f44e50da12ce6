package poller

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cloudwego/netpoll"

	"github.com/xh-control/gateway/internal/iovec"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/session"
)

// Connection states. A connection moves forward only.
const (
	connHandshake uint32 = iota // reading the request head
	connRejected                // HTTP response sent; discarding input until the peer leaves
	connOpen                    // upgraded: frames flow
	connDraining                // close frame received or protocol failed: input is discarded
	connClosed
)

// conn is the gateway's state for one TCP connection, from accept to close.
// It is also the context netpoll hands back to every callback (so finding it
// costs nothing), and the session.Transport of the connection's session.
//
// The reader side (state, head, parser, message buffers) is only touched by
// netpoll's OnRequest task, which never runs twice at once for a connection,
// and by the close callback, which netpoll runs after the last task ended.
type conn struct {
	context.Context // always context.Background; makes *conn a context
	srv             *Server
	nc              netpoll.Connection
	fd              int
	remote          netip.AddrPort
	state           atomic.Uint32

	// The one-byte fields sit together so that conn fits the 256-byte
	// size class (TestConnSize); each is described with its group below.
	msgOp    codec.OpCode
	listed   bool
	deflate  bool
	holding  bool
	readOff  bool
	fdClosed bool

	// Handshake: the request head so far, and the server's list of
	// connections still in handshake, oldest first, for the deadline.
	head       *[]byte
	acceptedAt int64
	prev, next *conn // listed: in that list

	// Frames. The parser is borrowed from a pool while a frame or a
	// fragmented message is in progress, so that idle connections hold none.
	sess   *session.Session
	parser *codec.Parser
	// deflate: permessage-deflate negotiated, RSV1 allowed.
	msg *[]byte // a data message split across frames or reads, of type msgOp
	ctl *[]byte // a control frame split across reads
	// lateInput counts bytes received after the session started closing:
	// past closingInputBudget the client is ignoring the close frame.
	lateInput int

	// Read back-pressure (pause.go). readMu serializes netpoll's task with
	// the resume task; holding means input is paused and held, unparsed,
	// in held; readOff means EPOLLIN is disarmed.
	readMu sync.Mutex
	held   []byte
	op     *netpoll.FDOperator // netpoll's registration, found on first pause
	epfd   int
	// admit is the connection's place in the handshake queue (admission.go).
	admit admitState

	// fdMu keeps the descriptor open while a direct write runs: the close
	// callback takes it (and sets fdClosed) before netpoll closes the fd, so
	// a write can never land on a descriptor number the kernel has handed to
	// a new connection.
	fdMu     sync.Mutex
	waitFile *os.File // a duplicate of fd in Go's poller while WriteWait waits
}

var errConnClosed = errors.New("poller: connection closed")

// Write implements session.Transport with a direct, non-blocking writev on
// the socket, bypassing netpoll's output buffer: one syscall, no copy, and
// no output buffer kept per connection.
func (c *conn) Write(bufs [][]byte) (int, error) {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.fdClosed {
		return 0, errConnClosed
	}
	return writev(c.fd, bufs)
}

// WriteWait implements session.Transport for a socket whose send buffer is
// full. It waits for the socket to become writable in Go's own poller, on a
// duplicate of the descriptor, and not with netpoll's Flush: Flush re-arms
// EPOLLIN in netpoll's registration, which would undo a read pause (see
// pause.go). Close ends the wait. Without a descriptor to spare (the file
// limit), it falls back to Flush.
func (c *conn) WriteWait(bufs [][]byte) error {
	f, err := c.openWaitFile()
	if err == errConnClosed {
		return err
	}
	if err != nil {
		return c.flushWait(bufs)
	}
	defer c.closeWaitFile(f)
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			n, err := writev(int(fd), bufs)
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				return false // full again: wait
			}
			bufs = iovec.Advance(bufs, n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// openWaitFile duplicates the socket's descriptor into an *os.File, which
// registers it with Go's poller (the descriptor is non-blocking).
func (c *conn) openWaitFile() (*os.File, error) {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.fdClosed {
		return nil, errConnClosed
	}
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(c.fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	c.waitFile = os.NewFile(nfd, "ws")
	return c.waitFile, nil
}

func (c *conn) closeWaitFile(f *os.File) {
	c.fdMu.Lock()
	if c.waitFile == f {
		c.waitFile = nil
	}
	c.fdMu.Unlock()
	f.Close()
}

// stopWait ends a WriteWait in progress.
func (c *conn) stopWait() {
	c.fdMu.Lock()
	f := c.waitFile
	c.waitFile = nil
	c.fdMu.Unlock()
	if f != nil {
		f.Close()
	}
}

// flushWait writes bufs with netpoll's Flush, which waits for the poller
// to drain the socket. bufs are referenced, not copied, until it returns.
func (c *conn) flushWait(bufs [][]byte) error {
	w := c.nc.Writer()
	for _, b := range bufs {
		if _, err := w.WriteBinary(b); err != nil {
			return err
		}
	}
	return w.Flush()
}

// CloseWrite implements session.Transport: FIN after the final close frame
// or an HTTP error response, while still reading so that the peer's unread
// data does not turn the close into a reset.
func (c *conn) CloseWrite() error {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.fdClosed {
		return errConnClosed
	}
	return syscall.Shutdown(c.fd, syscall.SHUT_WR)
}

// Close implements session.Transport.
func (c *conn) Close() error {
	c.stopWait()
	return c.nc.Close()
}

// onClosed is netpoll's close callback. netpoll runs it once, after the
// last OnRequest task, whoever closed the connection, and before it closes
// the descriptor.
func (c *conn) onClosed(netpoll.Connection) error {
	c.fdMu.Lock()
	c.fdClosed = true
	wf := c.waitFile
	c.waitFile = nil
	c.fdMu.Unlock()
	if wf != nil {
		wf.Close() // the duplicate would keep the socket open
	}
	prev := c.state.Swap(connClosed)
	if prev == connHandshake || prev == connRejected {
		c.srv.unlistHandshake(c)
	}
	c.srv.admit.closed(c)
	// netpoll's tasks are over, but a resume task (pause.go) or a queued
	// handshake's release (admission.go) may be running: it releases the
	// buffers itself when it ends.
	if c.readMu.TryLock() {
		c.releaseBuffers()
		c.readMu.Unlock()
	}
	// In the handshake state, upgrade may be publishing the session right
	// now (a queued handshake's release runs outside netpoll's task); its
	// state CAS fails and it closes the session itself.
	if prev == connHandshake {
		return nil
	}
	if s := c.sess; s != nil {
		cause := "connection closed"
		if prev == connOpen {
			cause = "connection lost without a close frame"
		}
		// OnClose is application code: keep it off the poller goroutine,
		// which may be the one running this callback.
		c.srv.pool.submit(func() { s.TransportClosed(cause) })
	}
	return nil
}

func (c *conn) releaseBuffers() {
	if c.parser != nil {
		parserPool.Put(c.parser)
		c.parser = nil
	}
	if c.head != nil {
		putBuffer(c.head)
		c.head = nil
	}
	if c.msg != nil {
		putBuffer(c.msg)
		c.msg = nil
	}
	if c.ctl != nil {
		putBuffer(c.ctl)
		c.ctl = nil
	}
	c.held = nil
}

// onRequest is netpoll's OnRequest: it runs on the worker pool whenever
// input is buffered, and must consume all of it (or close the connection),
// or netpoll calls it again at once.
func (c *conn) onRequest() {
	defer c.recoverPanic()
	r := c.nc.Reader()
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.holding { // paused: keep what a read already under way brought
		c.holdAll(r)
		return
	}
	if c.state.Load() == connHandshake {
		c.readHandshake(r)
	}
	switch c.state.Load() {
	case connOpen:
		c.readFrames(r) // input that arrives after it returns starts a new task
	case connRejected, connDraining, connClosed:
		if n := r.Len(); n > 0 {
			r.Skip(n)
			r.Release()
		}
	}
}

// readFrames parses everything buffered and dispatches it. Replies the
// handler queues while a batch is dispatched go out in one writev. When
// they reach the queue's high-water mark and the socket does not take
// them, the rest of the input is held and reading stops (pause.go).
func (c *conn) readFrames(r netpoll.Reader) {
	s := c.sess
	s.BeginDispatch()
	for n := r.Len(); n > 0 && c.state.Load() == connOpen; n = r.Len() {
		if !s.Open() && c.ignoresClose(n) {
			break
		}
		if n > maxReadAhead {
			c.pauseReading() // until this batch is dispatched
			n = maxReadAhead
		}
		b, err := r.Next(n)
		if err != nil {
			break
		}
		rest := c.feed(b)
		if c.holding {
			ok := c.hold(rest)
			r.Release()
			if ok {
				c.holdAll(r)
			}
			break
		}
		r.Release()
	}
	if !c.holding {
		c.resumeReading()
	}
	s.EndDispatch()
}

// holdAll moves everything netpoll buffered into the held input.
func (c *conn) holdAll(r netpoll.Reader) {
	for n := r.Len(); n > 0; n = r.Len() {
		b, err := r.Next(n)
		if err != nil {
			return
		}
		ok := c.hold(b)
		r.Release()
		if !ok {
			return
		}
	}
}

// yield is checked after every message. It stops reading while more than
// maxReadAhead bytes wait in netpoll's buffer, and stops the dispatch when
// the session's queue is backlogged and the socket does not take it.
func (c *conn) yield() bool {
	if !c.readOff && c.nc.Reader().Len() > maxReadAhead {
		c.pauseReading() // until this batch is dispatched
	}
	if !c.sess.Backlogged() || !c.sess.PauseInput() {
		return false
	}
	c.holding = true
	c.pauseReading()
	return true
}

// closingInputBudget is how much a client may send after the session
// started closing, while its answer to the close frame is awaited: what it
// had in flight when our close frame reached it, generously (closing
// sessions' messages are parsed but not handled, which is cheap).
const closingInputBudget = 4 << 20

// ignoresClose accounts for n bytes arriving on a closing session. A client
// that keeps sending past the budget is not reading (it will not see the
// close frame) or does not care; parsing its flood would only take CPU from
// everyone else, so the connection is closed at once.
func (c *conn) ignoresClose(n int) bool {
	c.lateInput += n
	if c.lateInput <= closingInputBudget {
		return false
	}
	c.state.Store(connDraining)
	c.nc.Close()
	return true
}

// feed parses b, which the connection owns until it returns (the parser
// unmasks it in place), and dispatches what is complete. When the session
// asks for input to pause (yield), it returns the unparsed rest of b.
func (c *conn) feed(b []byte) (rest []byte) {
	if c.parser == nil {
		c.parser = parserPool.Get().(*codec.Parser)
		c.parser.Reset(codec.ParserOptions{MaxMessageSize: c.srv.opts.MaxMessageSize, Compression: c.deflate})
	}
	defer c.releaseParserIfIdle()
	for len(b) > 0 {
		n, ch, ok, err := c.parser.Next(b)
		if err != nil {
			c.fail(err)
			return nil
		}
		b = b[n:]
		if !ok {
			continue
		}
		if ch.IsControl() {
			c.control(&ch)
		} else {
			c.data(&ch)
		}
		if c.state.Load() != connOpen {
			return nil
		}
		if ch.Final && c.yield() {
			return b
		}
	}
	return nil
}

// releaseParserIfIdle returns the parser to the pool when no frame or
// message is half-way: most connections are idle most of the time.
func (c *conn) releaseParserIfIdle() {
	if c.parser != nil && c.parser.Idle() {
		parserPool.Put(c.parser)
		c.parser = nil
	}
}

var parserPool = sync.Pool{New: func() any { return new(codec.Parser) }}

// data delivers a message that arrived whole straight from the read
// buffer, and assembles one that arrived in pieces.
func (c *conn) data(ch *codec.Chunk) {
	if ch.First && ch.Final && !ch.Compressed {
		c.deliver(ch.OpCode, ch.Payload)
		return
	}
	if ch.First {
		c.msg, c.msgOp = getBuffer(len(ch.Payload)), ch.OpCode
	}
	*c.msg = append(*c.msg, ch.Payload...)
	if !ch.Final {
		return
	}
	if ch.Compressed {
		c.inflateAndDeliver()
	} else {
		c.deliver(c.msgOp, *c.msg)
	}
	putBuffer(c.msg)
	c.msg = nil
}

// inflateAndDeliver decompresses the message in c.msg, bounded by the
// message size limit, checks text for UTF-8 (which the parser cannot do on
// compressed bytes) and delivers it.
func (c *conn) inflateAndDeliver() {
	out := getBuffer(2 * len(*c.msg))
	defer putBuffer(out)
	var err error
	*out, err = c.srv.inflater.Append((*out)[:0], *c.msg, c.srv.opts.MaxMessageSize)
	if err == nil && c.msgOp == codec.OpText && !codec.ValidUTF8(*out) {
		err = codec.ErrInvalidUTF8
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.deliver(c.msgOp, *out)
}

func (c *conn) deliver(op codec.OpCode, payload []byte) {
	c.sess.CountIn(op, len(payload))
	c.sess.Receive(session.Message{Type: session.MessageType(op), Data: payload})
}

func (c *conn) control(ch *codec.Chunk) {
	payload := ch.Payload
	if !(ch.First && ch.Final) { // a control frame split across reads
		if ch.First {
			c.ctl = getBuffer(codec.MaxControlPayload)
		}
		*c.ctl = append(*c.ctl, ch.Payload...)
		if !ch.Final {
			return
		}
		payload = *c.ctl
		defer func() { putBuffer(c.ctl); c.ctl = nil }()
	}
	c.sess.CountIn(ch.OpCode, len(payload))
	switch ch.OpCode {
	case codec.OpPing:
		c.sess.ReceivePing(payload)
	case codec.OpClose:
		code, reason, err := codec.ParseClose(payload)
		if err != nil {
			c.fail(err)
			return
		}
		// RFC 6455 section 5.5.1: nothing after a close frame is processed.
		c.state.CompareAndSwap(connOpen, connDraining)
		c.sess.ReceiveClose(code, reason)
	}
}

// fail closes the session with the code the protocol error calls for.
func (c *conn) fail(err error) {
	c.state.CompareAndSwap(connOpen, connDraining)
	var pe *codec.ProtocolError
	if !errors.As(err, &pe) {
		pe = &codec.ProtocolError{Code: codec.StatusProtocolError, Reason: err.Error()}
	}
	c.sess.Fail(pe)
}

// recoverPanic keeps a panicking handler from taking the process down: the
// panic is logged with its stack and the connection failed with 1011 (RFC
// 6455 section 7.1.7): the close frame, then FIN at once, without waiting up
// to the close timeout for an answer from a session in an unknown state.
func (c *conn) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	c.srv.reportPanic(v, c)
	c.state.Store(connDraining)
	if s := c.sess; s != nil {
		s.Fail(&codec.ProtocolError{Code: codec.StatusInternalError, Reason: "internal error"})
		s.EndDispatch()
	} else {
		c.nc.Close()
	}
}

// bufferPool recycles the transient buffers: request heads and messages
// that arrive in pieces. Idle connections hold none.
var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuffer(hint int) *[]byte {
	b := bufferPool.Get().(*[]byte)
	if cap(*b) < hint {
		*b = make([]byte, 0, hint)
	}
	return b
}

// maxPooledBuffer keeps a rare huge message from pinning its buffer in the
// pool forever.
const maxPooledBuffer = 64 << 10

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}
