package broker

import (
	"context"
	"time"
)

// Subscribe makes this node receive channel's events. Subscribing twice is
// the same as once.
func (m *Memory) Subscribe(channel string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	s := m.shardOf(hash(channel))
	s.mu.Lock()
	s.subs[channel] = struct{}{}
	s.mu.Unlock()
	return nil
}

// Unsubscribe stops channel's events; unknown channels are ignored.
func (m *Memory) Unsubscribe(channel string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	s := m.shardOf(hash(channel))
	s.mu.Lock()
	delete(s.subs, channel)
	s.mu.Unlock()
	return nil
}

// Publish stores and delivers a publication; see Broker. data, Tags and
// ClientInfo are kept by reference: callers must not modify them after.
// The channel's publish lock is held from the offset assignment to the
// return of HandlePublication, so deliveries come in offset order.
func (m *Memory) Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (StreamPosition, error) {
	if err := ctx.Err(); err != nil {
		return StreamPosition{}, err
	}
	h := hash(channel)
	mu := m.pubLock(h)
	mu.Lock()
	defer mu.Unlock()
	if m.closed.Load() {
		return StreamPosition{}, ErrClosed
	}
	wall := time.Now()
	now := int64(wall.Sub(m.start))
	s := m.shardOf(h)

	s.mu.Lock()
	var key idemKey
	if opts.IdempotencyKey != "" {
		key = idemKey{channel, opts.IdempotencyKey}
		if r, ok := s.idem[key]; ok && r.expires > now {
			s.mu.Unlock()
			return r.sp, nil
		}
	}
	pub := &Publication{Data: data, Info: opts.ClientInfo, Tags: opts.Tags, Time: wall.UnixMilli()}
	var sp StreamPosition
	if opts.HistorySize > 0 && opts.HistoryTTL > 0 {
		st := s.stream(channel, now, m.metaTTL(opts.HistoryMetaTTL), true)
		sp = s.add(st, pub, opts.HistorySize, int64(opts.HistoryTTL), now)
	}
	if opts.IdempotencyKey != "" {
		ttl := opts.IdempotentResultTTL
		if ttl <= 0 {
			ttl = DefaultIdempotentResultTTL
		}
		exp := addSat(now, int64(ttl))
		s.idem[key] = idemResult{sp: sp, expires: exp}
		s.expiresAt(exp)
	}
	_, subscribed := s.subs[channel]
	s.mu.Unlock()

	if subscribed {
		if eh := m.eventHandler(); eh != nil {
			eh.HandlePublication(channel, pub, sp)
		}
	}
	return sp, nil
}

func (m *Memory) metaTTL(d time.Duration) int64 {
	if d <= 0 {
		d = m.opts.HistoryMetaTTL
	}
	return int64(d)
}

// PublishJoin delivers a join event to this node when it subscribed
// channel, in order with the channel's publications.
func (m *Memory) PublishJoin(ctx context.Context, channel string, info *ClientInfo) error {
	return m.publishPresenceEvent(ctx, channel, info, true)
}

// PublishLeave delivers a leave event like PublishJoin.
func (m *Memory) PublishLeave(ctx context.Context, channel string, info *ClientInfo) error {
	return m.publishPresenceEvent(ctx, channel, info, false)
}

func (m *Memory) publishPresenceEvent(ctx context.Context, channel string, info *ClientInfo, join bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := hash(channel)
	mu := m.pubLock(h)
	mu.Lock()
	defer mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	s := m.shardOf(h)
	s.mu.Lock()
	_, subscribed := s.subs[channel]
	s.mu.Unlock()
	eh := m.eventHandler()
	if !subscribed || eh == nil {
		return nil
	}
	if join {
		eh.HandleJoin(channel, info)
	} else {
		eh.HandleLeave(channel, info)
	}
	return nil
}

// PublishControl delivers data to this node when nodeID is "" or
// MemoryOptions.NodeID; other node IDs name nodes that do not exist here,
// and the message is dropped without error. Deliveries are serialized.
func (m *Memory) PublishControl(ctx context.Context, data []byte, nodeID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.controlMu.Lock()
	defer m.controlMu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if nodeID != "" && nodeID != m.opts.NodeID {
		return nil
	}
	if eh := m.eventHandler(); eh != nil {
		eh.HandleControl(data)
	}
	return nil
}

// History returns channel's kept publications selected by opts and its
// position; see Broker. It renews the stream's meta TTL, creating the
// stream (offset 0, new epoch) when there is none. The returned
// publications are shared: do not modify them.
func (m *Memory) History(ctx context.Context, channel string, opts HistoryOptions) ([]*Publication, StreamPosition, error) {
	if err := ctx.Err(); err != nil {
		return nil, StreamPosition{}, err
	}
	if m.closed.Load() {
		return nil, StreamPosition{}, ErrClosed
	}
	now := m.now()
	s := m.shardOf(hash(channel))
	s.mu.Lock()
	st := s.stream(channel, now, m.metaTTL(opts.MetaTTL), true)
	s.trim(st, now)
	pubs := st.get(opts)
	sp := StreamPosition{Offset: st.top, Epoch: st.epoch}
	s.mu.Unlock()
	return pubs, sp, nil
}

// RemoveHistory drops channel's publications and keeps its position and
// epoch; a channel without a stream is left without one.
func (m *Memory) RemoveHistory(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	now := m.now()
	s := m.shardOf(hash(channel))
	s.mu.Lock()
	if st := s.streams[channel]; st != nil && st.metaExpires > now {
		s.clear(st)
	}
	s.mu.Unlock()
	return nil
}
