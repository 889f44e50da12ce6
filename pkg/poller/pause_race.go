//go:build race

package poller

import (
	"unsafe"

	"github.com/cloudwego/netpoll"
)

// setEventData stores what netpoll's poller expects in an event's data
// under the race detector: the descriptor, looked up in a map
// (netpoll's poll_default_linux_race.go).
func setEventData(ev *epollEvent, op *netpoll.FDOperator) {
	*(*int32)(unsafe.Pointer(&ev.data)) = int32(op.FD)
}
