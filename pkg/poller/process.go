package poller

import (
	"context"
	"runtime"
	"strings"
	"sync"

	"github.com/cloudwego/netpoll"
	"go.uber.org/zap"
)

// ProcessOptions tune netpoll, whose settings are global to the process and
// only take effect before the first connection exists.
type ProcessOptions struct {
	// BufferSize is the size of the input buffer netpoll gives every
	// connection, idle or not; it grows for connections that receive a lot.
	// It dominates memory per idle connection: 8 KiB (netpoll's default)
	// costs about 11 KB per connection, 256 bytes about 4 KB. Default 256.
	BufferSize int
	// Pollers is the number of epoll loops; 0 takes DefaultPollers. Each
	// loop reads on one goroutine, so netpoll's own default (one per 20
	// CPUs) caps a many-core machine at what one core can read: on 16
	// cores, echo at 1,000 connections ran 336k msgs/s with 1 loop and
	// 673k / 681k / 668k with 4 / 8 / 16 (issue #9's table).
	Pollers int
	// Logger receives netpoll's own log lines (accept failures, such as
	// running out of descriptors, at warn; resets by peers at debug).
	// Nil discards them.
	Logger *zap.Logger
}

var (
	processOnce    sync.Once
	processApplied ProcessOptions
)

// ConfigureProcess applies netpoll's process-wide settings. Only the first
// call has an effect; NewServer calls it with defaults when nobody did, so
// call it first thing in main to choose other values. It returns the
// settings in effect.
func ConfigureProcess(o ProcessOptions) ProcessOptions {
	processOnce.Do(func() {
		if o.BufferSize <= 0 {
			o.BufferSize = 256
		}
		if o.Pollers <= 0 {
			o.Pollers = DefaultPollers(runtime.GOMAXPROCS(0))
		}
		// Nodes of netpoll's buffers are at least LinkBufferCap bytes (4 KiB
		// by default); without lowering it, BufferSize cannot go below that.
		netpoll.LinkBufferCap = o.BufferSize
		netpoll.Configure(netpoll.Config{
			BufferSize:   o.BufferSize,
			PollerNum:    o.Pollers,
			Runner:       runTask,
			LoggerOutput: netpollLog{o.Logger},
		})
		processApplied = o
	})
	return processApplied
}

// DefaultPollers is the number of epoll loops for procs CPUs: one per four,
// at least one. Throughput on 16 cores was flat from 4 loops to 16 (within
// 2%), so the smallest count on the plateau wins: each loop is a goroutine
// spinning on epoll_wait and a share of the wake-ups.
func DefaultPollers(procs int) int {
	if procs < 4 {
		return 1
	}
	return (procs + 3) / 4
}

// runTask is netpoll's Runner: it runs a connection's handler task on the
// worker pool of the server the connection belongs to. netpoll passes the
// context OnPrepare returned, which is the connection itself.
func runTask(ctx context.Context, task func()) {
	if c, ok := ctx.(*conn); ok {
		c.srv.pool.submit(task)
		return
	}
	go task()
}

// netpollLog turns netpoll's log.Logger lines into zap entries.
type netpollLog struct{ log *zap.Logger }

func (l netpollLog) Write(p []byte) (int, error) {
	if l.log == nil {
		return len(p), nil
	}
	line := strings.TrimSpace(string(p))
	if i := strings.Index(line, "NETPOLL: "); i >= 0 {
		line = line[i+len("NETPOLL: "):]
	}
	if strings.Contains(line, "before close") { // a peer reset its connection: routine
		l.log.Debug(line, zap.String("component", "netpoll"))
	} else {
		l.log.Warn(line, zap.String("component", "netpoll"))
	}
	return len(p), nil
}
