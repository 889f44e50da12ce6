package session

import (
	"runtime/debug"
	"time"

	"go.uber.org/zap"
)

// Memory after a spike.
//
// Sessions whose clients fall behind hold up to their queue limits each
// (and the poller holds their unparsed input). When many do at once, the
// heap grows; once they are gone, the garbage collector has freed the
// memory, but two things keep the process's RSS high: the runtime sets its
// next heap goal from the live heap of the last collection, which was the
// spike's (so the garbage of ordinary traffic piles up to that goal before
// the next collection), and the background scavenger only returns memory
// above that goal to the OS. Measured in one process (TestMemory-
// ReturnsAfterSlowConsumerSpike in pkg/poller): RSS went from 15 MiB to 56
// MiB during 200 non-reading clients, stayed at 78 MiB 30 s after they were
// gone, and churn afterwards kept it at 72 MiB, while the heap in use after
// a collection was back at 2 MiB: nothing was retained, the goal was.
//
// So the hub's tick watches two signals of such a spike that cost nothing
// on the hot path: the number of backlogged sessions (counted when a queue
// crosses its high-water mark or drains below its low-water mark), and the
// number of open sessions. A spike is over when backlogged sessions worth
// reclaimMinBytes of queues are back to zero, or when at least
// reclaimMinSessions sessions, and at least half of the peak, are gone.
// A surge of connections (a deploy's reconnect storm: at least
// reclaimMinSessions more, and at least twice as many as before) leaves the
// garbage of its handshakes, connects and subscribes behind the same way,
// so its end, the session count unchanged for reclaimQuiet, counts too:
// measured with 10,000 channel clients, RSS per client went from 4.36 to
// 3.91 KiB (`bench channels -n 10000 -channels 1000 -rate 0 -pid <gateway>`,
// bench/notes-channels.md).
// After reclaimQuiet in that state the tick collects once and returns the
// freed memory to the OS (debug.FreeOSMemory, in the background): once per
// spike, never on a timer. Churn (sessions opening and closing at a steady
// count) and steady load trigger nothing. Collecting a small heap takes a
// few milliseconds.

// reclaimMinBytes is the smallest backlog spike worth a collection: the
// backlogged sessions' peak count times the queue byte limit.
const reclaimMinBytes = 32 << 20

// reclaimMinSessions is the smallest drop in open sessions worth one.
const reclaimMinSessions = 100

// reclaimQuiet is how long a spike must be over before its memory is
// reclaimed.
const reclaimQuiet = time.Second

// reclaimFollowUps are when a spike's reclaim is repeated, after the first:
// the first collection can run while the spike's last buffers are still
// referenced (connections closing on the worker pool, netpoll releasing
// held input), and an idle process may then not collect again for a long
// time, its heap goal set by that collection. With only the first,
// TestMemoryReturnsAfterSlowConsumerSpike (pkg/poller) failed in two runs
// here: RSS 134 and 162 MiB 30 s after spikes of 384 and 295 MiB, 15 MiB
// before them. Bounded: three collections a spike, never a timer.
var reclaimFollowUps = [...]time.Duration{5 * time.Second, 15 * time.Second}

// backlogStarted and backlogEnded count sessions crossing the high- and
// low-water marks; both run under the session's lock, on transitions only.
func (h *Hub) backlogStarted() {
	n := h.backlogged.Add(1)
	for {
		peak := h.backlogPeak.Load()
		if n <= peak || h.backlogPeak.CompareAndSwap(peak, n) {
			return
		}
	}
}

func (h *Hub) backlogEnded() { h.backlogged.Add(-1) }

// Backlogged returns the number of sessions whose write queue is past its
// high-water mark (see Session.Backlogged).
func (h *Hub) Backlogged() int { return int(h.backlogged.Load()) }

// reclaim runs on the tick: it returns a spike's memory once the spike is
// over. freeOSMemory is debug.FreeOSMemory, replaced in tests.
func (h *Hub) reclaim(now int64) {
	if h.followUp < len(reclaimFollowUps) && h.reclaimedAt != 0 &&
		now-h.reclaimedAt >= int64(reclaimFollowUps[h.followUp]) {
		h.followUp++
		go h.freeOSMemory()
	}
	count := int64(h.registry.Count())
	h.sessionPeak = max(h.sessionPeak, count)
	h.sessionLow = min(h.sessionLow, count)
	settled := count == h.lastCount
	h.lastCount = count
	backlogPeak := h.backlogPeak.Load()
	backlogOver := h.backlogged.Load() == 0 && backlogPeak*int64(h.opts.QueueMaxBytes) >= reclaimMinBytes
	sessionsGone := h.sessionPeak-count >= reclaimMinSessions && count <= h.sessionPeak/2
	surgeOver := settled && count-h.sessionLow >= reclaimMinSessions && count >= 2*h.sessionLow
	if !backlogOver && !sessionsGone && !surgeOver {
		h.quietSince = 0
		return
	}
	if h.quietSince == 0 {
		h.quietSince = now
		return
	}
	if now-h.quietSince < int64(reclaimQuiet) {
		return
	}
	h.log.Info("returning memory after a spike",
		zap.Int64("peak_backlogged_sessions", backlogPeak),
		zap.Int64("peak_sessions", h.sessionPeak), zap.Int64("sessions", count))
	h.backlogPeak.Store(0)
	h.sessionPeak, h.sessionLow, h.quietSince = count, count, 0
	h.reclaimedAt, h.followUp = now, 0
	h.stats.Reclaims.Inc()
	go h.freeOSMemory()
}

func defaultFreeOSMemory() { debug.FreeOSMemory() }
