package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Reading the history stream.
//
// A subject's newest message (the channel's position, and the expected
// last sequence of the next publish) is read from the stream leader
// ($JS.API.STREAM.MSG.GET), which is always current. The publications are
// read with one direct batch get ($JS.API.DIRECT.GET, answered by any
// replica that is nearly in sync) bounded by the leader's sequence; a
// replica that is behind answers short, and the rest is read from the
// leader, so a History after a Publish on any node always sees it.

// storedMsg is a message of the history stream.
type storedMsg struct {
	Subject string    `json:"subject"`
	Seq     uint64    `json:"seq"`
	Data    []byte    `json:"data"`
	Time    time.Time `json:"time"`
}

type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

type msgGetResponse struct {
	Message *storedMsg          `json:"message"`
	Error   *jetstream.APIError `json:"error"`
}

// JetStream error codes the reads tell apart.
const (
	errCodeNoMessage      = 10037
	errCodeStreamNotFound = 10059
)

// getMsg asks the stream leader for one message; jetstream.ErrMsgNotFound
// when there is none.
func (b *Broker) getMsg(ctx context.Context, stream string, req msgGetRequest) (*storedMsg, error) {
	body, _ := json.Marshal(req)
	m, err := b.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, body)
	if err != nil {
		return nil, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, fmt.Errorf("stream message get: %w", err)
	}
	if resp.Error != nil {
		switch resp.Error.ErrorCode {
		case errCodeNoMessage:
			return nil, jetstream.ErrMsgNotFound
		case errCodeStreamNotFound:
			return nil, jetstream.ErrStreamNotFound
		}
		return nil, resp.Error
	}
	if resp.Message == nil {
		return nil, errors.New("stream message get: empty response")
	}
	return resp.Message, nil
}

// Headers of status messages (nats.go keeps its names unexported).
const (
	statusHdr = "Status"
	descrHdr  = "Description"
)

// directBatch is the most messages one direct get returns.
const directBatch = 1024

// readRange calls visit with the data of subject's messages with sequences
// from..upTo, in order.
func (b *Broker) readRange(ctx context.Context, stream, subject string, from, upTo uint64, visit func([]byte)) error {
	for seq := from; seq <= upTo; {
		next, err := b.directRange(ctx, stream, subject, seq, upTo, visit)
		if err != nil {
			return err
		}
		if next > seq {
			seq = next
			continue
		}
		// The replica that answered had nothing from seq: ask the leader.
		m, err := b.getMsg(ctx, stream, msgGetRequest{Seq: seq, NextFor: subject})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if m.Seq > upTo {
			return nil
		}
		visit(m.Data)
		seq = m.Seq + 1
	}
	return nil
}

// directRange reads one direct batch from seq, visits the messages up to
// upTo and returns the sequence after the last one it visited (seq when
// none).
func (b *Broker) directRange(ctx context.Context, stream, subject string, seq, upTo uint64, visit func([]byte)) (uint64, error) {
	inbox := b.nc.NewRespInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return seq, err
	}
	defer sub.Unsubscribe()
	body, _ := json.Marshal(msgGetRequest{Seq: seq, NextFor: subject, Batch: int(min(upTo-seq+1, directBatch))})
	if err := b.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, body); err != nil {
		return seq, err
	}
	next := seq
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return next, err
		}
		if len(m.Data) == 0 && m.Header.Get(statusHdr) != "" {
			switch m.Header.Get(statusHdr) {
			case "204", "404": // end of batch; nothing (more) here
				return next, nil
			default:
				return next, fmt.Errorf("direct get: %s %s", m.Header.Get(statusHdr), m.Header.Get(descrHdr))
			}
		}
		s, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return next, fmt.Errorf("direct get: bad sequence header: %w", err)
		}
		if s > upTo || s < next {
			continue
		}
		visit(m.Data)
		next = s + 1
	}
}
