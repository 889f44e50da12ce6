package natsbroker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// resources are the JetStream objects the engine uses, created (or
// checked) on first use and again after every reconnect, so that a NATS
// server that lost them (memory storage, a new cluster) gets them back.
type resources struct {
	history  jetstream.Stream
	stream   string // the history stream's name
	presence jetstream.KeyValue
	idem     jetstream.KeyValue
}

func (b *Broker) resources(ctx context.Context) (*resources, error) {
	if r := b.res.Load(); r != nil {
		return r, nil
	}
	if err := b.usable(); err != nil {
		return nil, err
	}
	b.resMu.Lock()
	defer b.resMu.Unlock()
	if r := b.res.Load(); r != nil {
		return r, nil
	}
	storage := jetstream.FileStorage
	if b.opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	p := b.opts.Prefix
	st, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              p + "_history",
		Description:       "gateway channel history: one subject per channel (natsbroker)",
		Subjects:          []string{b.subj.history + "*"},
		Storage:           storage,
		Replicas:          b.opts.Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: -1,
		Duplicates:        b.opts.IdempotencyWindow,
		AllowMsgTTL:       true,
		// Range reads go to any replica in sync, checked against the
		// leader's position (read.go).
		AllowDirect: true,
		// The stream delivers what it stored, in stream order, to the live
		// subjects: subscribers see offsets in order, and a publish refused
		// by the offset check is never delivered.
		RePublish: &jetstream.RePublish{
			Source:      b.subj.history + "*",
			Destination: b.subj.live + "{{wildcard(1)}}",
		},
	})
	if err != nil {
		return nil, unavailable(err)
	}
	pr, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      p + "_presence",
		Description: "gateway presence: <channel>.<client> entries refreshed by their node (natsbroker)",
		TTL:         b.opts.PresenceTTL,
		Storage:     storage,
		Replicas:    b.opts.Replicas,
	})
	if err != nil {
		return nil, unavailable(err)
	}
	id, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      p + "_idempotency",
		Description: "gateway idempotency keys of publications without history (natsbroker)",
		TTL:         b.opts.IdempotencyWindow,
		Storage:     storage,
		Replicas:    b.opts.Replicas,
	})
	if err != nil {
		return nil, unavailable(err)
	}
	r := &resources{history: st, stream: st.CachedInfo().Config.Name, presence: pr, idem: id}
	b.res.Store(r)
	return r, nil
}

// lost reports whether err says a JetStream object is gone (the server
// lost it); the caller drops its resources so that the next call recreates
// them.
func (b *Broker) lost(err error) bool {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) {
		b.res.Store(nil)
		b.tails.reset()
		return true
	}
	return false
}

// firstUse records an idempotency key of a publication without history; it
// returns false when the key was used less than ttl ago (at most
// Options.IdempotencyWindow, the bucket's TTL).
func (b *Broker) firstUse(ctx context.Context, channel, key string, ttl time.Duration) (bool, error) {
	r, err := b.resources(ctx)
	if err != nil {
		return false, err
	}
	k := token(channel) + "." + token(key)
	for {
		_, err = r.idem.Create(ctx, k, nil)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			b.lost(err)
			return false, unavailable(err)
		}
		e, err := r.idem.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired in between
		}
		if err != nil {
			return false, unavailable(err)
		}
		if ttl <= 0 || time.Since(e.Created()) < ttl {
			return false, nil
		}
		// Older than the caller's TTL: take the key over; of two nodes
		// doing so, one wins the revision check.
		_, err = r.idem.Update(ctx, k, nil, e.Revision())
		if err == nil {
			return true, nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false, nil
		}
		return false, unavailable(err)
	}
}
