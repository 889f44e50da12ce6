package poller

import (
	"reflect"
	"sync"
	"syscall"
	"unsafe"

	"github.com/cloudwego/netpoll"
)

// netpoll gives every connection a write-vector table, its outputBarrier:
// 32 slices and 32 iovecs (connection_impl.go, sys_exec.go barriercap),
// 1,456 bytes of heap with their headers, 37% of an idle connection's.
// Only netpoll's own Flush uses it. The gateway writes with its own writev
// (conn.Write) and flushes through netpoll only when it has no descriptor to
// spare (flushWait), so shrinkOutputBarrier swaps in a one-slot table of 96
// bytes: Flush then hands the kernel one node per sendmsg and leaves the
// rest to the poller, which writes with vectors of its own. Correct with
// any table of at least one slot (GetBytes and iovecs go by len(bs)).
//
// netpoll's pool takes the small table back when the connection closes and
// hands it to the next one, so churn allocates few large ones.
//
// It relies on netpoll v0.7.2's private layout, checked once by reflection:
// a field outputBarrier *barrier, where barrier is exactly {bs [][]byte;
// ivs []syscall.Iovec}. Any other layout turns it off (and
// TestOutputBarrierShrunk fails). The upstreamable fix, which would retire
// this file: allocate outputBarrier on the first flush instead of in init.
func shrinkOutputBarrier(nc netpoll.Connection) {
	off := outputBarrierOffset(nc)
	if off < 0 {
		return
	}
	slot := (*unsafe.Pointer)(unsafe.Add(reflect.ValueOf(nc).UnsafePointer(), off))
	if cur := (*barrierHeader)(*slot); cur == nil || len(cur.bs) <= 1 {
		return // nil, or one of ours back from netpoll's pool
	}
	t := new(tinyBarrier)
	t.bs, t.ivs = t.b[:], t.iv[:]
	*slot = unsafe.Pointer(t)
}

// barrierHeader mirrors netpoll's barrier.
type barrierHeader struct {
	bs  [][]byte
	ivs []syscall.Iovec
}

// tinyBarrier is a barrier with its one slot in the same allocation.
type tinyBarrier struct {
	barrierHeader
	b  [1][]byte
	iv [1]syscall.Iovec
}

var (
	barrierOnce sync.Once
	barrierOff  uintptr
	barrierOK   bool
)

// outputBarrierOffset returns the offset of outputBarrier in nc's concrete
// type, or -1 when the layout is not the one shrinkOutputBarrier knows.
func outputBarrierOffset(nc netpoll.Connection) int {
	barrierOnce.Do(func() { barrierOff, barrierOK = findOutputBarrier(reflect.TypeOf(nc)) })
	if !barrierOK || reflect.TypeOf(nc) != barrierType {
		return -1
	}
	return int(barrierOff)
}

var barrierType reflect.Type

func findOutputBarrier(t reflect.Type) (uintptr, bool) {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	f, ok := t.Elem().FieldByName("outputBarrier")
	if !ok || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	b, want := f.Type.Elem(), reflect.TypeOf(barrierHeader{})
	if b.Size() != want.Size() || b.NumField() != want.NumField() {
		return 0, false
	}
	for i := range want.NumField() {
		bf, wf := b.Field(i), want.Field(i)
		if bf.Name != wf.Name || bf.Type != wf.Type || bf.Offset != wf.Offset {
			return 0, false
		}
	}
	barrierType = t
	return f.Offset, true
}

// outputBarrierSlots reports the length of nc's write-vector table, or -1
// when its layout is unknown: for tests.
func outputBarrierSlots(nc netpoll.Connection) int {
	off := outputBarrierOffset(nc)
	if off < 0 {
		return -1
	}
	b := *(**barrierHeader)(unsafe.Add(reflect.ValueOf(nc).UnsafePointer(), off))
	if b == nil {
		return 0
	}
	return len(b.bs)
}
