package natsbroker

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/xh-control/gateway/pkg/broker"
)

// Presence scheme: one JetStream key-value bucket (<prefix>_presence) whose
// TTL is Options.PresenceTTL; key "<tok(channel)>.<tok(clientID)>", value
// the ClientInfo (codec.go). AddPresence puts the entry again, which
// restarts its TTL; the owning node refreshes its clients' entries more
// often than the TTL. Entries of a node that stops refreshing (killed,
// partitioned) are removed by the server at most PresenceTTL after their
// last refresh: bounded, and self-healing because a node that comes back
// re-puts what it still holds. Presence reads the channel's keys with one
// filtered watch (key "<tok(channel)>.*").

// AddPresence puts or refreshes the client's entry in channel.
func (b *Broker) AddPresence(ctx context.Context, channel string, info *broker.ClientInfo) error {
	r, ctx, cancel, err := b.presenceBucket(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	env := envelope{kind: kindJoin, info: info}
	if _, err := r.presence.Put(ctx, presenceKey(channel, info.ClientID), env.encode(nil)); err != nil {
		b.lost(err)
		return unavailable(err)
	}
	return nil
}

// RemovePresence deletes the client's entry in channel.
func (b *Broker) RemovePresence(ctx context.Context, channel, clientID, _ string) error {
	r, ctx, cancel, err := b.presenceBucket(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := r.presence.Delete(ctx, presenceKey(channel, clientID)); err != nil {
		b.lost(err)
		return unavailable(err)
	}
	return nil
}

// Presence returns the channel's live entries by client ID.
func (b *Broker) Presence(ctx context.Context, channel string) (map[string]*broker.ClientInfo, error) {
	r, ctx, cancel, err := b.presenceBucket(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	w, err := r.presence.Watch(ctx, token(channel)+".*", jetstream.IgnoreDeletes())
	if err != nil {
		b.lost(err)
		return nil, unavailable(err)
	}
	defer w.Stop()
	out := make(map[string]*broker.ClientInfo)
	var env envelope
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, unavailable(errors.New("presence watch closed"))
			}
			if e == nil { // initial values done
				return out, nil
			}
			if env.decode(e.Value()) == nil && env.info != nil {
				out[env.info.ClientID] = env.info
			}
		case <-ctx.Done():
			return nil, unavailable(ctx.Err())
		}
	}
}

// PresenceStats counts the channel's clients and distinct users on every
// node.
func (b *Broker) PresenceStats(ctx context.Context, channel string) (broker.PresenceStats, error) {
	p, err := b.Presence(ctx, channel)
	if err != nil {
		return broker.PresenceStats{}, err
	}
	users := make(map[string]struct{}, len(p))
	for _, info := range p {
		users[info.UserID] = struct{}{}
	}
	return broker.PresenceStats{NumClients: len(p), NumUsers: len(users)}, nil
}

func (b *Broker) presenceBucket(ctx context.Context) (*resources, context.Context, context.CancelFunc, error) {
	if err := b.usable(); err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	r, err := b.resources(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return r, ctx, cancel, nil
}
