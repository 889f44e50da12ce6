package poller

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/netpoll"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/session"
)

func TestInlineModeResolves(t *testing.T) {
	cases := []struct {
		mode           InlineMode
		pollers, procs int
		want           bool
	}{
		{InlineAuto, 1, 1, true},
		{InlineAuto, 4, 4, true},
		{InlineAuto, 1, 2, false},
		{InlineAuto, 4, 16, false},
		{InlineAlways, 1, 16, true},
		{InlineNever, 16, 16, false},
	}
	for _, c := range cases {
		if got := c.mode.enabled(c.pollers, c.procs); got != c.want {
			t.Errorf("%v with %d pollers, GOMAXPROCS %d: %v, want %v", c.mode, c.pollers, c.procs, got, c.want)
		}
	}
	for _, s := range []string{"auto", "always", "never"} {
		m, err := ParseInlineMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseInlineMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseInlineMode("sometimes"); err == nil {
		t.Error(`ParseInlineMode("sometimes") accepted`)
	}
}

// blockingEcho echoes like handler.Echo but does not promise to be
// non-blocking; when gate is set, OnMessage waits on it first.
type blockingEcho struct {
	gate    chan struct{}
	entered chan struct{}
}

func (blockingEcho) OnOpen(*session.Session) {}
func (h blockingEcho) OnMessage(s *session.Session, m session.Message) {
	if h.gate != nil {
		h.entered <- struct{}{}
		<-h.gate
	}
	s.Send(m.Type, m.Data)
}
func (blockingEcho) OnClose(*session.Session, session.CloseInfo) {}

// panicky promises to be non-blocking and panics on "boom".
type panicky struct{}

func (panicky) OnOpen(*session.Session) {}
func (panicky) OnMessage(s *session.Session, m session.Message) {
	if string(m.Data) == "boom" {
		panic("boom")
	}
	s.Send(m.Type, m.Data)
}
func (panicky) OnClose(*session.Session, session.CloseInfo) {}
func (panicky) NonBlocking() bool                           { return true }

// TestInlineRunsOnlyNonBlockingHandlers echoes small messages one at a time
// (so that each is its own read) and checks on which side they ran: on the
// loop exactly for a NonBlocking handler, in a mode that allows it, without
// permessage-deflate; every echo is correct either way.
func TestInlineRunsOnlyNonBlockingHandlers(t *testing.T) {
	const rounds = 40
	cases := []struct {
		name    string
		mode    InlineMode
		h       session.Handler
		deflate bool
		inline  bool
	}{
		{"always/echo", InlineAlways, handler.Echo{}, false, true},
		{"never/echo", InlineNever, handler.Echo{}, false, false},
		{"always/blocking", InlineAlways, blockingEcho{}, false, false},
		{"always/echo/deflate", InlineAlways, handler.Echo{}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, Options{Inline: tc.mode, Compression: CompressionOptions{Enabled: tc.deflate}}, tc.h)
			c := wsDial(t, addr, tc.deflate)
			before := srv.Stats().InlineTasks.Load()
			for i := range rounds {
				payload := fmt.Appendf(nil, "message %d", i)
				frame := payload
				if tc.deflate {
					frame = wsDeflate(payload)
				}
				c.conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.conn.Write(wsFrame(nil, true, tc.deflate, opText, [4]byte{1, 2, 3, 4}, frame)); err != nil {
					t.Fatal(err)
				}
				m, err := c.next()
				if err != nil {
					t.Fatal(err)
				}
				if m.op != opText || !bytes.Equal(m.payload, payload) {
					t.Fatalf("echo %d: op %d %q", i, m.op, m.payload)
				}
			}
			ran := srv.Stats().InlineTasks.Load() - before
			if tc.inline && ran < rounds {
				t.Fatalf("%d of %d reads ran on the loop, want all", ran, rounds)
			}
			if !tc.inline && ran != 0 {
				t.Fatalf("%d reads ran on the loop, want none", ran)
			}
		})
	}
}

// TestInlineLargeMessageAcrossReads: a message several times
// inlineMaxInput, sent in one write, arrives in reads of which some run on
// the loop and some on workers; its echo is whole.
func TestInlineLargeMessageAcrossReads(t *testing.T) {
	_, addr := startServer(t, Options{Inline: InlineAlways}, handler.Echo{})
	c := wsDial(t, addr, false)
	for _, size := range []int{inlineMaxInput - 200, inlineMaxInput + 1, 16 * inlineMaxInput} {
		payload := testPayload(false, size)
		c.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.conn.Write(wsFrame(nil, true, false, opBinary, [4]byte{9, 8, 7, 6}, payload)); err != nil {
			t.Fatal(err)
		}
		m, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.payload, payload) {
			t.Fatalf("echo of %d bytes: got %d", len(payload), len(m.payload))
		}
	}
}

// bufferedInput is a netpoll.Connection whose reader holds n bytes.
type bufferedInput struct {
	netpoll.Connection
	n int
}

func (b bufferedInput) Reader() netpoll.Reader { return lenReader{n: b.n} }

type lenReader struct {
	netpoll.Reader
	n int
}

func (r lenReader) Len() int { return r.n }

// TestInlineThreshold: a read runs on the loop up to inlineMaxInput bytes
// buffered, and only for a connection marked inline.
func TestInlineThreshold(t *testing.T) {
	for _, tc := range []struct {
		inline bool
		n      int
		want   bool
	}{
		{true, 1, true}, {true, inlineMaxInput, true}, {true, inlineMaxInput + 1, false}, {false, 1, false},
	} {
		c := &conn{nc: bufferedInput{n: tc.n}, inline: tc.inline}
		if got := c.runsInline(); got != tc.want {
			t.Errorf("inline %v, %d bytes buffered: runsInline %v, want %v", tc.inline, tc.n, got, tc.want)
		}
	}
}

// TestInlineBlockingHandlerDoesNotStallTheLoop: with InlineAlways, an
// endpoint whose handler blocks (not NonBlocking) waits on a worker while
// the NonBlocking endpoint on the same loop keeps echoing. Were the
// blocked handler on the loop, the echo could never come.
func TestInlineBlockingHandlerDoesNotStallTheLoop(t *testing.T) {
	slow := blockingEcho{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	var release sync.Once
	open := func() { release.Do(func() { close(slow.gate) }) }
	t.Cleanup(open)
	_, addr := startServer(t, Options{Inline: InlineAlways,
		Endpoints: []Endpoint{{Path: "/slow", Handler: slow}}}, handler.Echo{})
	blocked := dialRaw(t, addr)
	blocked.upgrade("/slow")
	blocked.writeFrame(true, opText, []byte("wait"))
	select {
	case <-slow.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking handler never ran")
	}
	c := wsDial(t, addr, false)
	for i := range 10 {
		payload := fmt.Appendf(nil, "while blocked %d", i)
		c.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.conn.Write(wsFrame(nil, true, false, opText, [4]byte{1, 1, 1, 1}, payload)); err != nil {
			t.Fatal(err)
		}
		m, err := c.next()
		if err != nil {
			t.Fatalf("echo while another endpoint's handler blocks: %v", err)
		}
		if !bytes.Equal(m.payload, payload) {
			t.Fatalf("echo %q, want %q", m.payload, payload)
		}
	}
	open()
	f, err := blocked.readFrame(5 * time.Second)
	if err != nil || string(f.payload) != "wait" {
		t.Fatalf("blocked echo after release: %q, %v", f.payload, err)
	}
}

// TestInlinePanicClosesOnlyItsConnection: a NonBlocking handler that
// panics on the loop fails its own connection with 1011 and the loop goes
// on serving the others.
func TestInlinePanicClosesOnlyItsConnection(t *testing.T) {
	srv, addr := startServer(t, Options{Inline: InlineAlways}, panicky{})
	other := wsDial(t, addr, false)
	bad := dialRaw(t, addr)
	bad.upgrade("/ws")
	bad.writeFrame(true, opText, []byte("boom"))
	bad.expectClose(1011)
	for i := range 5 {
		payload := fmt.Appendf(nil, "after the panic %d", i)
		other.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := other.conn.Write(wsFrame(nil, true, false, opText, [4]byte{3, 3, 3, 3}, payload)); err != nil {
			t.Fatal(err)
		}
		m, err := other.next()
		if err != nil || !bytes.Equal(m.payload, payload) {
			t.Fatalf("echo after another connection's panic: %q, %v", m.payload, err)
		}
	}
	if srv.Stats().Panics.Load() != 1 {
		t.Fatalf("panics counted: %d, want 1", srv.Stats().Panics.Load())
	}
	if srv.Stats().InlineTasks.Load() == 0 {
		t.Fatal("nothing ran on the loop")
	}
}
