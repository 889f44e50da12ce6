//go:build !race

package poller

import (
	"unsafe"

	"github.com/cloudwego/netpoll"
)

// setEventData stores what netpoll's poller expects in an event's data
// without the race detector: the operator itself (netpoll's
// poll_default_linux_norace.go).
func setEventData(ev *epollEvent, op *netpoll.FDOperator) {
	*(**netpoll.FDOperator)(unsafe.Pointer(&ev.data)) = op
}
