// Package iovec holds what the write path does with a vector of buffers
// (net.Buffers, writev's iovec) that a partial write left half sent. Both
// the session's write queue (pkg/session) and the connection's flush
// (pkg/poller) resume such writes.
package iovec

// Advance drops the first n bytes from bufs, in place: whole buffers are
// sliced off the front and the first one left is resliced past what was
// written. n must not exceed the total length (it panics past it); n equal
// to the total leaves no buffer with bytes in it.
func Advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if n > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}
