package poller

import (
	"context"
	"sync"

	"github.com/cloudwego/netpoll"
)

// ProcessOptions tune netpoll, whose settings are global to the process and
// only take effect before the first connection exists.
type ProcessOptions struct {
	// BufferSize is the size of the input buffer netpoll gives every
	// connection, idle or not; it grows for connections that receive a lot.
	// It dominates memory per idle connection: 8 KiB (netpoll's default)
	// costs about 11 KB per connection, 256 bytes about 4 KB. Default 256.
	BufferSize int
	// Pollers is the number of epoll loops; default GOMAXPROCS/20+1.
	Pollers int
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
		// Nodes of netpoll's buffers are at least LinkBufferCap bytes (4 KiB
		// by default); without lowering it, BufferSize cannot go below that.
		netpoll.LinkBufferCap = o.BufferSize
		netpoll.Configure(netpoll.Config{
			BufferSize: o.BufferSize,
			PollerNum:  o.Pollers,
			Runner:     runTask,
		})
		processApplied = o
	})
	return processApplied
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
