package poller

import (
	"fmt"

	"github.com/xh-control/gateway/pkg/session"
)

// Handing a read to the worker pool costs a goroutine switch: netpoll's
// epoll loop readies a worker, and the worker parses, dispatches and
// writes. Where the loop has a CPU of its own that switch buys nothing, and
// on one CPU it is about a tenth of an echo's cost (bench echo -c 100, 64 B,
// server pinned to one CPU). So a connection whose handler is
// session.NonBlocking may be served on the loop itself: netpoll's loop
// reads, our task parses and dispatches, and the reply's writev goes out
// before the loop returns to epoll_wait, with no goroutine in between.
//
// Two bounds keep one connection from holding the loop: a read of more than
// inlineMaxInput bytes goes to a worker as before (a large message, or a
// client that sent a lot at once), and so does every read of a connection
// with permessage-deflate (inflating is unbounded in the input's size).
// While the loop runs a task it does not read other sockets, so the mode
// trades parallelism for fewer switches: InlineAuto turns it on only when
// the loops are at least as many as the CPUs Go uses (GOMAXPROCS), where
// workers could not run beside the loops anyway.

// InlineMode is Options.Inline.
type InlineMode uint8

const (
	// InlineAuto runs NonBlocking handlers on the epoll loop when the
	// process has at least as many epoll loops as GOMAXPROCS.
	InlineAuto InlineMode = iota
	// InlineAlways runs NonBlocking handlers on the epoll loop.
	InlineAlways
	// InlineNever hands every read to the worker pool.
	InlineNever
)

// inlineMaxInput is the most buffered input a task may find and still run
// on the loop: 16 KiB is a few hundred small frames or one mid-sized
// message, tens of microseconds of parsing.
const inlineMaxInput = 16 << 10

// ParseInlineMode reads "auto", "always" or "never".
func ParseInlineMode(s string) (InlineMode, error) {
	switch s {
	case "auto", "":
		return InlineAuto, nil
	case "always":
		return InlineAlways, nil
	case "never":
		return InlineNever, nil
	}
	return InlineAuto, fmt.Errorf("%q: want auto, always or never", s)
}

func (m InlineMode) String() string {
	switch m {
	case InlineAlways:
		return "always"
	case InlineNever:
		return "never"
	}
	return "auto"
}

// enabled resolves the mode for a process with pollers epoll loops and
// procs for GOMAXPROCS.
func (m InlineMode) enabled(pollers, procs int) bool {
	switch m {
	case InlineAlways:
		return true
	case InlineNever:
		return false
	}
	return pollers >= procs
}

// nonBlocking reports whether h promises never to block.
func nonBlocking(h session.Handler) bool {
	nb, ok := h.(session.NonBlocking)
	return ok && nb.NonBlocking()
}

// runsInline decides, on the epoll loop, where this task of the connection
// runs: on the loop for an open connection of a NonBlocking handler with a
// small read buffered, else on a worker.
func (c *conn) runsInline() bool {
	return c.inline && c.nc.Reader().Len() <= inlineMaxInput
}
