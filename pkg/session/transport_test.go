package session

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/xh-control/gateway/pkg/codec"
)

// memTransport is an in-memory socket for unit tests of the queue logic:
// it accepts up to room bytes without blocking, like a send buffer, and
// makes WriteWait wait until the test frees room or closes it. Tests that
// need a real socket live in the poller package.
type memTransport struct {
	mu         sync.Mutex
	cond       *sync.Cond
	out        bytes.Buffer
	room       int // bytes Write may still accept; <0 means unlimited
	writes     int // calls to Write
	vectors    [][]byte
	closed     bool
	closeWrite bool
	resumes    int      // calls to ResumeInput
	session    *Session // gets TransportClosed, like the poller does
}

// ResumeInput implements InputResumer.
func (t *memTransport) ResumeInput() {
	t.mu.Lock()
	t.resumes++
	t.mu.Unlock()
}

func (t *memTransport) resumeCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resumes
}

func newMemTransport() *memTransport {
	t := &memTransport{room: -1}
	t.cond = sync.NewCond(&t.mu)
	return t
}

var errMemClosed = errors.New("memTransport: closed")

func (t *memTransport) Write(bufs [][]byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, errMemClosed
	}
	t.writes++
	n := 0
	for _, b := range bufs {
		t.vectors = append(t.vectors, b)
		take := len(b)
		if t.room >= 0 {
			take = min(take, t.room)
			t.room -= take
		}
		t.out.Write(b[:take])
		n += take
		if take < len(b) {
			break
		}
	}
	return n, nil
}

func (t *memTransport) WriteWait(bufs [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range bufs {
		for len(b) > 0 {
			for t.room == 0 && !t.closed {
				t.cond.Wait()
			}
			if t.closed {
				return errMemClosed
			}
			take := len(b)
			if t.room > 0 {
				take = min(take, t.room)
				t.room -= take
			}
			t.out.Write(b[:take])
			b = b[take:]
		}
	}
	return nil
}

func (t *memTransport) CloseWrite() error {
	t.mu.Lock()
	t.closeWrite = true
	t.mu.Unlock()
	return nil
}

func (t *memTransport) Close() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.cond.Broadcast()
	s := t.session
	t.mu.Unlock()
	if !already && s != nil {
		s.TransportClosed("closed by test")
	}
	return nil
}

// setRoom lets Write and WriteWait accept n more bytes (-1: unlimited).
func (t *memTransport) setRoom(n int) {
	t.mu.Lock()
	t.room = n
	t.cond.Broadcast()
	t.mu.Unlock()
}

func (t *memTransport) isClosed() (closed, closeWrite bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed, t.closeWrite
}

// frames parses what was written so far as server frames.
func (t *memTransport) frames(tb testing.TB) []sentFrame {
	tb.Helper()
	t.mu.Lock()
	data := bytes.Clone(t.out.Bytes())
	t.mu.Unlock()
	p := codec.NewParser(codec.ParserOptions{Client: true, Compression: true})
	var out []sentFrame
	var cur []byte
	for len(data) > 0 {
		n, c, ok, err := p.Next(data)
		if err != nil {
			tb.Fatalf(
				"server wrote an invalid frame: %v",
				err,
			)
		}
		data = data[n:]
		if !ok {
			continue
		}
		if c.First {
			cur = cur[:0]
		}
		cur = append(cur, c.Payload...)
		if c.Final {
			out = append(out, sentFrame{op: c.OpCode, payload: string(cur)})
		}
	}
	return out
}

type sentFrame struct {
	op      codec.OpCode
	payload string
}

// recorder is a Handler that records what it is told.
type recorder struct {
	mu       sync.Mutex
	opened   int
	messages []string
	closes   []CloseInfo
}

func (r *recorder) OnOpen(*Session) {
	r.mu.Lock()
	r.opened++
	r.mu.Unlock()
}

func (r *recorder) OnMessage(_ *Session, m Message) {
	r.mu.Lock()
	r.messages = append(r.messages, string(m.Data))
	r.mu.Unlock()
}

func (r *recorder) OnClose(_ *Session, info CloseInfo) {
	r.mu.Lock()
	r.closes = append(r.closes, info)
	r.mu.Unlock()
}

func (r *recorder) closeInfos() []CloseInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CloseInfo(nil), r.closes...)
}

// newTestSession opens a session on a fresh memTransport.
func newTestSession(h *Hub) (*Session, *memTransport) {
	t := newMemTransport()
	s := h.Open(t, Info{}, nil)
	t.mu.Lock()
	t.session = s
	t.mu.Unlock()
	s.Start()
	return s, t
}

// waitFlushed waits until the hub's flushers have drained everything.
func (h *Hub) waitFlushed() {
	for {
		h.flush.mu.Lock()
		idle := h.flush.workers == 0
		h.flush.mu.Unlock()
		if idle {
			return
		}
		runtime.Gosched()
	}
}
