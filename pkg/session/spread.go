package session

import (
	"context"
	"time"

	"github.com/xh-control/gateway/pkg/codec"
)

// ShutdownHandler is a Handler that says how its sessions are told of a
// shutdown: the channel protocol sends its disconnect 3001 "shutdown"
// (which makes the SDKs reconnect with backoff) instead of close 1001.
type ShutdownHandler interface {
	Handler
	// OnShutdown starts closing s; it must not block.
	OnShutdown(s *Session)
}

// CloseAllSpread closes every open session, spread evenly over spread so
// that their clients do not all reconnect to the other nodes at once: the
// i-th of n sessions is closed at i*spread/n. close closes one session; nil
// means the handler's OnShutdown if it is a ShutdownHandler, else close
// 1001 "going away". It returns when every session was closed, or at once
// with the rest closed together when ctx ends. spread <= 0 closes all now.
// Sessions opened meanwhile are not closed (the caller stopped accepting).
func (h *Hub) CloseAllSpread(ctx context.Context, spread time.Duration, close func(*Session)) {
	if close == nil {
		if sh, ok := h.handler.(ShutdownHandler); ok {
			close = sh.OnShutdown
		} else {
			close = func(s *Session) { s.Close(codec.StatusGoingAway, "going away") }
		}
	}
	var all []*Session
	h.registry.Range(func(s *Session) bool {
		all = append(all, s)
		return true
	})
	n := len(all)
	if n == 0 {
		return
	}
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for i, s := range all {
		at := start.Add(time.Duration(int64(spread) * int64(i) / int64(n)))
		if d := time.Until(at); d > 0 && ctx.Err() == nil {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		close(s)
	}
}
