package session

// Transport is the connection under a session. The poller implements it on a
// netpoll connection; it is an interface so that the session logic can be
// tested and benchmarked in memory.
//
// The session calls Write and WriteWait from one goroutine at a time, never
// concurrently with each other. Close and CloseWrite may be called from any
// goroutine at any time.
type Transport interface {
	// Write writes bufs, in order, without blocking, and returns the number
	// of bytes written. A short count with a nil error means the socket's
	// send buffer is full.
	Write(bufs [][]byte) (int, error)
	// WriteWait writes all of bufs, waiting for the peer to read. It returns
	// early with an error when the transport is closed.
	WriteWait(bufs [][]byte) error
	// CloseWrite shuts down the sending side (TCP FIN) after the final close
	// frame, so that the peer sees it before the connection ends.
	CloseWrite() error
	// Close closes the connection. The poller then calls
	// Session.TransportClosed exactly once.
	Close() error
}
