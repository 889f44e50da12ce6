package broker

import (
	"context"
	"errors"
	"sync"
)

// ErrNilClientInfo is returned by AddPresence for a nil info: presence is
// keyed by info.ClientID.
var ErrNilClientInfo = errors.New("broker: presence needs a ClientInfo")

type presenceShard struct {
	mu      sync.Mutex
	entries map[string]map[string]presenceEntry // channel -> client ID
	count   int
}

type presenceEntry struct {
	info    *ClientInfo
	expires int64 // engine-monotonic ns; unused when PresenceTTL is 0
}

func (m *Memory) presenceShard(channel string) *presenceShard {
	return &m.presence[hash(channel)&(numShards-1)]
}

// AddPresence adds or refreshes info.ClientID's entry in channel. The
// entry is a copy of *info (its byte slices are shared).
func (m *Memory) AddPresence(ctx context.Context, channel string, info *ClientInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	if info == nil {
		return ErrNilClientInfo
	}
	cp := *info
	e := presenceEntry{info: &cp}
	if m.opts.PresenceTTL > 0 {
		e.expires = addSat(m.now(), int64(m.opts.PresenceTTL))
	}
	p := m.presenceShard(channel)
	p.mu.Lock()
	ch := p.entries[channel]
	if ch == nil {
		ch = make(map[string]presenceEntry)
		p.entries[channel] = ch
	}
	if _, ok := ch[info.ClientID]; !ok {
		p.count++
	}
	ch[info.ClientID] = e
	p.mu.Unlock()
	return nil
}

// RemovePresence removes clientID's entry from channel; userID is not
// needed here. Removing an absent entry is not an error.
func (m *Memory) RemovePresence(ctx context.Context, channel, clientID, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	p := m.presenceShard(channel)
	p.mu.Lock()
	p.remove(channel, clientID)
	p.mu.Unlock()
	return nil
}

func (p *presenceShard) remove(channel, clientID string) {
	ch := p.entries[channel]
	if _, ok := ch[clientID]; !ok {
		return
	}
	delete(ch, clientID)
	p.count--
	if len(ch) == 0 {
		delete(p.entries, channel)
	}
}

// Presence returns a new map of channel's live entries by client ID (empty,
// not nil, when there are none). The *ClientInfo values are shared: do not
// modify them.
func (m *Memory) Presence(ctx context.Context, channel string) (map[string]*ClientInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.closed.Load() {
		return nil, ErrClosed
	}
	now := m.now()
	p := m.presenceShard(channel)
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.entries[channel]
	out := make(map[string]*ClientInfo, len(ch))
	for id, e := range ch {
		if m.live(e, now) {
			out[id] = e.info
		}
	}
	return out, nil
}

// PresenceStats counts channel's live entries and their distinct user IDs;
// as in centrifuge, anonymous clients (UserID "") count as one user.
func (m *Memory) PresenceStats(ctx context.Context, channel string) (PresenceStats, error) {
	if err := ctx.Err(); err != nil {
		return PresenceStats{}, err
	}
	if m.closed.Load() {
		return PresenceStats{}, ErrClosed
	}
	now := m.now()
	p := m.presenceShard(channel)
	p.mu.Lock()
	defer p.mu.Unlock()
	var st PresenceStats
	users := make(map[string]struct{})
	for _, e := range p.entries[channel] {
		if !m.live(e, now) {
			continue
		}
		st.NumClients++
		users[e.info.UserID] = struct{}{}
	}
	st.NumUsers = len(users)
	return st, nil
}

func (m *Memory) live(e presenceEntry, now int64) bool {
	return m.opts.PresenceTTL <= 0 || e.expires > now
}
