package session

// SendFrameAll queues f on every session of sessions, which must belong to
// h, and hands those that need a writer to the hub's flushers, as
// BroadcastFrame does for the whole registry: one encoded frame (and one
// compressed variant per window size) is shared by every queue and no
// syscall happens on the caller's goroutine. It returns how many sessions
// accepted the frame. The caller keeps its reference to f and may reuse
// sessions once SendFrameAll returns.
func (h *Hub) SendFrameAll(sessions []*Session, f *Frame) int {
	delivered := 0
	batch := getSnapshot()
	defer putSnapshot(batch)
	for _, s := range sessions {
		if h.fanOut(s, f, batch) {
			delivered++
		}
	}
	h.schedule(*batch)
	return delivered
}
