package natsbroker

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xh-control/gateway/pkg/broker"
)

// History scheme.
//
// One stream (<prefix>_history) holds every channel's history, one subject
// per channel (<prefix>.h.<tok>), so that a million channels cost a million
// subjects, not a million streams. Each message body (codec.go) carries its
// offset, the stream's epoch, the history size and the expiry time it was
// published with.
//
// Offsets: Publish reads the subject's last message (sequence S, offset o,
// epoch e) from the stream leader and publishes offset o+1 with epoch e and
// the header Nats-Expected-Last-Subject-Sequence: S (0 when the subject is
// empty). The stream applies messages one at a time (in a cluster: in its
// Raft log order) and stores a message only if the subject's last sequence
// is still S; otherwise it refuses it and Publish reads again and retries.
// So every stored message follows exactly the message it was computed
// from: offsets on a subject are 1, 2, 3, ... with no gap and no
// duplicate, whichever nodes publish. A refused message is never
// delivered: delivery is the stream's RePublish of what it stored, in
// stream order, so live offsets arrive in order too.
//
// Epoch: chosen at random when a subject has no message and copied from
// message to message; it lives only in the stream, so every node reads the
// same one, and when the messages are lost (stream deleted or purged, store
// lost) the next Publish or History starts a new epoch. History on an empty
// subject writes a marker (kindMarker, offset 0) so that the epoch it
// returns stays; RemoveHistory writes a marker with the current offset and
// purges what is before it, so the position and epoch stay.
//
// Bounds: MaxAge and MaxMsgsPerSubject are per stream, so per-channel
// (per-namespace) bounds are applied this way:
//   - size: the publisher that writes an offset o with (o-size) a multiple
//     of min(size, 64) purges the subject down to the newest size messages,
//     so a channel stores at most size+63 messages; History returns only
//     offsets above top-size (size of the newest message).
//   - TTL: History drops publications whose expiry time (publication time +
//     HistoryTTL) has passed.
//   - meta TTL: every message carries a per-message TTL (Nats-TTL) of
//     HistoryMetaTTL, so a channel's last message, and with it its position
//     and epoch, is removed by the server HistoryMetaTTL after the last
//     publication.
//
// Idempotency: the key goes in Nats-Msg-Id; a repeat within the stream's
// duplicate window (Options.IdempotencyWindow) is answered by the server
// with the first message's sequence, whose offset Publish returns.

// trimEvery is how many publications may pass over the size before a trim.
func trimEvery(size uint64) uint64 { return min(size, 64) }

// newEpoch returns a random epoch: 12 hex digits.
func newEpoch() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// conflict reports whether err is the stream refusing a message because
// the subject's last sequence moved (code 10071, or 10164 from replicated
// streams).
func conflict(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// last reads the subject's newest message; seq 0 and no error when the
// subject is empty.
func (b *Broker) last(ctx context.Context, r *resources, subject string, env *envelope) (uint64, error) {
	m, err := b.getMsg(ctx, r.stream, msgGetRequest{LastFor: subject})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		b.lost(err)
		return 0, unavailable(err)
	}
	if err := env.decode(m.Data); err != nil {
		return 0, err
	}
	return m.Seq, nil
}

// append stores env on subject after the subject's current last message,
// filling env.offset and env.epoch, and returns the stored sequence. A
// duplicate msgID returns the first message's sequence and dup true.
func (b *Broker) append(ctx context.Context, r *resources, subject string, env *envelope, metaTTL time.Duration, msgID string) (seq uint64, dup bool, err error) {
	defer b.tails.lock(subject)()
	cached, useCache := b.tails.get(subject)
	var prev envelope
	buf := make([]byte, 0, 64+len(env.data))
	for attempt := 0; ; attempt++ {
		var lastSeq uint64
		if useCache {
			lastSeq, prev.offset, prev.epoch = cached.seq, cached.offset, cached.epoch
			useCache = false
		} else if lastSeq, err = b.last(ctx, r, subject, &prev); err != nil {
			return 0, false, err
		}
		if lastSeq == 0 {
			env.offset, env.epoch = 1, newEpoch()
		} else {
			env.offset, env.epoch = prev.offset+1, prev.epoch
		}
		if env.kind == kindMarker {
			env.offset--
		}
		buf = env.encode(buf[:0])
		opts := []jetstream.PublishOpt{
			jetstream.WithExpectLastSequencePerSubject(lastSeq),
			jetstream.WithMsgTTL(metaTTL),
		}
		if msgID != "" {
			opts = append(opts, jetstream.WithMsgID(msgID))
		}
		ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: buf}, opts...)
		if conflict(err) {
			if attempt >= 2 { // spread publishers of other nodes
				select {
				case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))):
				case <-ctx.Done():
					b.tails.drop(subject)
					return 0, false, unavailable(ctx.Err())
				}
			}
			continue
		}
		if err != nil || ack.Duplicate {
			b.tails.drop(subject)
		}
		if err != nil {
			b.lost(err)
			return 0, false, unavailable(err)
		}
		if !ack.Duplicate {
			b.tails.put(subject, tail{seq: ack.Sequence, offset: env.offset, epoch: env.epoch})
		}
		return ack.Sequence, ack.Duplicate, nil
	}
}

// metaTTL is the per-message TTL: the meta TTL, at least the history TTL,
// in whole seconds (the server's unit).
func (b *Broker) metaTTL(meta, ttl time.Duration) time.Duration {
	if meta <= 0 {
		meta = b.opts.HistoryMetaTTL
	}
	meta = max(meta, ttl)
	return max(time.Second, (meta + time.Second - 1).Truncate(time.Second))
}

func (b *Broker) publishHistory(ctx context.Context, channel string, data []byte, opts *broker.PublishOptions) (broker.StreamPosition, error) {
	r, err := b.resources(ctx)
	if err != nil {
		return broker.StreamPosition{}, err
	}
	now := time.Now()
	env := envelope{
		kind:    kindPublication,
		time:    now.UnixMilli(),
		size:    uint64(opts.HistorySize),
		expires: now.Add(opts.HistoryTTL).UnixMilli(),
		info:    opts.ClientInfo,
		tags:    opts.Tags,
		data:    data,
	}
	msgID := ""
	if opts.IdempotencyKey != "" {
		msgID = token(channel) + "." + token(opts.IdempotencyKey)
	}
	keyTTL := opts.IdempotentResultTTL
	if keyTTL <= 0 || keyTTL > b.opts.IdempotencyWindow {
		keyTTL = b.opts.IdempotencyWindow
	}
	subject := b.subj.historySubject(channel)
	metaTTL := b.metaTTL(opts.HistoryMetaTTL, opts.HistoryTTL)
	for {
		seq, dup, err := b.append(ctx, r, subject, &env, metaTTL, msgID)
		if err != nil {
			return broker.StreamPosition{}, err
		}
		if !dup {
			break
		}
		var first envelope
		m, err := b.getMsg(ctx, r.stream, msgGetRequest{Seq: seq})
		if errors.Is(err, jetstream.ErrMsgNotFound) { // trimmed since: the current position
			_, err := b.last(ctx, r, subject, &first)
			return broker.StreamPosition{Offset: first.offset, Epoch: first.epoch}, err
		}
		if err != nil {
			b.lost(err)
			return broker.StreamPosition{}, unavailable(err)
		}
		if err := first.decode(m.Data); err != nil {
			return broker.StreamPosition{}, err
		}
		if time.Since(m.Time) < keyTTL {
			return broker.StreamPosition{Offset: first.offset, Epoch: first.epoch}, nil
		}
		// The key's result is older than the caller's TTL but still in the
		// stream's window: publish under the key's next generation, named
		// by the first's sequence so that every node picks the same one.
		msgID = token(channel) + "." + token(opts.IdempotencyKey) + "." + strconv.FormatUint(seq, 10)
	}
	if size := env.size; env.offset > size && (env.offset-size)%trimEvery(size) == 0 {
		// Best effort: a failed trim is redone by the next one, and
		// History hides what is over the size meanwhile.
		_ = r.history.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeKeep(size))
	}
	return broker.StreamPosition{Offset: env.offset, Epoch: env.epoch}, nil
}

// History returns the channel's kept publications and position (see the
// scheme above), read as read.go describes: the position from the stream
// leader, the publications with a direct batch get up to the position.
func (b *Broker) History(ctx context.Context, channel string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if err := b.usable(); err != nil {
		return nil, broker.StreamPosition{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	r, err := b.resources(ctx)
	if err != nil {
		return nil, broker.StreamPosition{}, err
	}
	subject := b.subj.historySubject(channel)
	var top envelope
	lastSeq, err := b.last(ctx, r, subject, &top)
	if err != nil {
		return nil, broker.StreamPosition{}, err
	}
	if lastSeq == 0 {
		// Fix the epoch with a marker at offset 0, unless a publication
		// came first: then read again.
		created, err := b.createMarker(ctx, r, subject, &top, b.metaTTL(opts.MetaTTL, 0))
		if err != nil {
			return nil, broker.StreamPosition{}, err
		}
		if created {
			return nil, broker.StreamPosition{Offset: 0, Epoch: top.epoch}, nil
		}
		if lastSeq, err = b.last(ctx, r, subject, &top); err != nil {
			return nil, broker.StreamPosition{}, err
		}
	}
	sp := broker.StreamPosition{Offset: top.offset, Epoch: top.epoch}
	if opts.Limit == 0 || top.kind == kindMarker {
		return nil, sp, nil
	}
	// Offsets at or below lo are not history: over the size, or before the
	// newest marker (RemoveHistory).
	var lo uint64
	if top.offset > top.size {
		lo = top.offset - top.size
	}
	now := time.Now().UnixMilli()
	var pubs []*broker.Publication
	var env envelope
	visit := func(data []byte) {
		if env.decode(data) != nil {
			return
		}
		switch {
		case env.kind == kindMarker:
			lo = max(lo, env.offset)
		case env.kind == kindPublication && (env.expires == 0 || env.expires > now):
			pubs = append(pubs, env.publication())
		}
	}
	if err := b.readRange(ctx, r.stream, subject, 1, lastSeq, visit); err != nil {
		b.lost(err)
		return nil, broker.StreamPosition{}, unavailable(err)
	}
	kept := pubs[:0]
	for _, p := range pubs {
		if p.Offset > lo {
			kept = append(kept, p)
		}
	}
	return filterHistory(kept, opts), sp, nil
}

// filterHistory applies Since, Reverse and Limit to pubs (ascending
// offsets), as centrifuge's memory engine does: forward from Since
// (exclusive) or from the oldest; Reverse backward from Since (exclusive)
// or from the newest.
func filterHistory(pubs []*broker.Publication, opts broker.HistoryOptions) []*broker.Publication {
	if opts.Since != nil {
		since := opts.Since.Offset
		i := 0
		if opts.Reverse {
			for i < len(pubs) && pubs[i].Offset < since {
				i++
			}
			pubs = pubs[:i]
		} else {
			for i < len(pubs) && pubs[i].Offset <= since {
				i++
			}
			pubs = pubs[i:]
		}
	}
	if opts.Reverse {
		for i, j := 0, len(pubs)-1; i < j; i, j = i+1, j-1 {
			pubs[i], pubs[j] = pubs[j], pubs[i]
		}
	}
	if opts.Limit >= 0 && len(pubs) > opts.Limit {
		pubs = pubs[:opts.Limit]
	}
	if len(pubs) == 0 {
		return nil
	}
	return pubs
}

// RemoveHistory drops the channel's publications and keeps its position
// and epoch: it appends a marker at the current offset, then purges the
// subject below the marker.
func (b *Broker) RemoveHistory(ctx context.Context, channel string) error {
	if err := b.usable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	r, err := b.resources(ctx)
	if err != nil {
		return err
	}
	subject := b.subj.historySubject(channel)
	var top envelope
	lastSeq, err := b.last(ctx, r, subject, &top)
	if err != nil || lastSeq == 0 {
		return err
	}
	marker := envelope{kind: kindMarker, time: time.Now().UnixMilli()}
	seq, _, err := b.append(ctx, r, subject, &marker, b.metaTTL(0, 0), "")
	if err != nil {
		return err
	}
	if err := r.history.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(seq)); err != nil {
		// History already hides what is before the marker.
		b.lost(err)
	}
	return nil
}

// createMarker writes the offset-0 marker of an empty subject with a new
// epoch into env; created is false, and nothing is written, when the
// subject is no longer empty.
func (b *Broker) createMarker(ctx context.Context, r *resources, subject string, env *envelope, metaTTL time.Duration) (created bool, err error) {
	defer b.tails.lock(subject)()
	*env = envelope{kind: kindMarker, epoch: newEpoch(), time: time.Now().UnixMilli()}
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: env.encode(nil)},
		jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithMsgTTL(metaTTL))
	if conflict(err) {
		return false, nil
	}
	if err != nil {
		b.tails.drop(subject)
		b.lost(err)
		return false, unavailable(err)
	}
	b.tails.put(subject, tail{seq: ack.Sequence, offset: 0, epoch: env.epoch})
	return true, nil
}
