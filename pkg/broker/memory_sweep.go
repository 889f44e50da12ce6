package broker

import (
	"math"
	"time"
)

// sweep is the engine's one background goroutine: every SweepInterval it
// drops expired publications, stream metas, idempotency results and
// presence entries, so that memory is freed in channels nobody reads.
// Reads trim lazily too, so correctness does not wait for it.
func (m *Memory) sweep() {
	defer close(m.sweepDone)
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		now := m.now()
		for i := range m.shards {
			m.shards[i].sweep(now)
		}
		if m.opts.PresenceTTL > 0 {
			for i := range m.presence {
				m.presence[i].sweep(now)
			}
		}
	}
}

// sweep drops what expired in the shard and recomputes nextExpire; a shard
// where nothing can have expired is not walked.
func (s *shard) sweep(now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now < s.nextExpire {
		return
	}
	next := int64(math.MaxInt64)
	for _, st := range s.streams {
		if st.metaExpires <= now {
			s.drop(st)
			continue
		}
		s.trim(st, now)
		next = min(next, st.metaExpires)
		if st.head < len(st.items) {
			next = min(next, addSat(st.items[st.head].at, st.ttl))
		}
	}
	for k, r := range s.idem {
		if r.expires <= now {
			delete(s.idem, k)
		} else {
			next = min(next, r.expires)
		}
	}
	s.nextExpire = next
}

func (p *presenceShard) sweep(now int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for channel, ch := range p.entries {
		for id, e := range ch {
			if e.expires <= now {
				p.remove(channel, id)
			}
		}
	}
}
