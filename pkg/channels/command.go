package channels

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/centrifugal/protocol"

	"github.com/xh-control/gateway/pkg/session"
)

// batch collects the replies to the commands of one frame, written as one
// WebSocket message (replies joined by '\n' in JSON, each length-prefixed
// in Protobuf), and the subscriptions that go live once it is written.
type batch struct {
	c       *client
	buf     []byte
	pending []*subscription
}

var batchPool = sync.Pool{New: func() any { return &batch{buf: make([]byte, 0, 512)} }}

// reply encodes r into the batch.
func (b *batch) reply(r *protocol.Reply) {
	var err error
	b.buf, err = appendReply(b.buf, r, b.c.protobuf)
	if err != nil {
		// A payload that is not JSON cannot go to a JSON client.
		b.buf, _ = appendReply(b.buf, &protocol.Reply{Id: r.Id, Error: toProtoError(ErrorInternal)}, b.c.protobuf)
	}
}

// replyError answers command id with e.
func (b *batch) replyError(id uint32, e *Error) {
	b.reply(&protocol.Reply{Id: id, Error: toProtoError(e)})
}

// flush writes the batch and activates its new subscriptions.
func (b *batch) flush() {
	if len(b.buf) > 0 {
		t := session.Text
		if b.c.protobuf {
			t = session.Binary
		}
		b.c.sess.Send(t, b.buf)
		b.buf = b.buf[:0]
	}
	for i, sub := range b.pending {
		b.c.activate(sub)
		b.pending[i] = nil
	}
	b.pending = b.pending[:0]
}

// appendReply appends r to dst in the connection's encoding.
func appendReply(dst []byte, r *protocol.Reply, protobuf bool) ([]byte, error) {
	if protobuf {
		// Marshalled in place: no intermediate slice per reply.
		start, size := len(dst), r.SizeCF()
		dst = binary.AppendUvarint(dst, uint64(size))
		dst = slices.Grow(dst, size)
		n := len(dst)
		if _, err := r.MarshalToSizedBufferCF(dst[n : n+size]); err != nil {
			return dst[:start], err
		}
		return dst[:n+size], nil
	}
	p, err := jsonReplyEncoder.Encode(r)
	if err != nil {
		return dst, err
	}
	if len(dst) > 0 {
		dst = append(dst, '\n')
	}
	return append(dst, p...), nil
}

var jsonReplyEncoder = protocol.NewJSONReplyEncoder()

func toProtoError(e *Error) *protocol.Error {
	return &protocol.Error{Code: e.Code, Message: e.Message, Temporary: e.Temporary}
}

// handleFrame decodes every command of one WebSocket message and answers
// them in order. Undecodable input and protocol violations close the
// connection with 3501 after the replies to the commands before them.
func (c *client) handleFrame(data []byte) {
	b := batchPool.Get().(*batch)
	b.c = c
	defer func() {
		b.flush()
		b.c = nil
		batchPool.Put(b)
	}()
	if len(data) == 0 {
		c.reject(b, DisconnectBadRequest, "empty message")
		return
	}
	pt := protocol.TypeJSON
	if c.protobuf {
		pt = protocol.TypeProtobuf
	}
	dec := protocol.GetCommandDecoder(pt, data)
	defer func() {
		_ = dec.Reset(nil) // the pool must not keep the frame alive
		protocol.PutCommandDecoder(pt, dec)
	}()
	for i := 0; ; i++ {
		cmd, err := dec.Decode()
		if cmd != nil {
			if !c.allowCommand() {
				if c.node.cfg.CommandRateDisconnect {
					c.reject(b, DisconnectTooManyRequests, "command rate exceeded")
					return
				}
				if cmd.Id != 0 {
					b.replyError(cmd.Id, ErrorTooManyRequests)
				}
			} else if d := c.dispatch(cmd, b); d == errHold {
				c.holdFrame(data, i, b)
				return
			} else if d != nil {
				// A refused connect logged its own reason.
				why := ""
				if cmd.Connect == nil {
					why = violation(c, cmd)
				}
				c.reject(b, d, why)
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) || cmd == nil {
				c.reject(b, DisconnectBadRequest, "malformed command")
			}
			return
		}
	}
}

// reject writes what was answered so far and closes with d.
func (c *client) reject(b *batch, d *Disconnect, why string) {
	b.flush()
	if why != "" {
		c.node.logReject(c, d, why)
	}
	c.disconnect(d)
}

// dispatch runs one command. It returns a disconnect for protocol
// violations (reference section 2.4).
func (c *client) dispatch(cmd *protocol.Command, b *batch) *Disconnect {
	c.mu.Lock()
	holding, state := c.holding, c.state
	c.mu.Unlock()
	if holding {
		return errHold
	}
	return c.runIn(state, cmd, b)
}

// run runs one command; the connect proxy's call for the commands it held.
func (c *client) run(cmd *protocol.Command, b *batch) *Disconnect {
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	return c.runIn(state, cmd, b)
}

// runIn runs one command in state, read with the client's lock by the
// caller (one lock per command on dispatch's path).
func (c *client) runIn(state clientState, cmd *protocol.Command, b *batch) *Disconnect {
	if state == stateFailed || state == stateClosed {
		return nil // after a connect error nothing more is read
	}
	if cmd.Id == 0 && cmd.Send == nil {
		return c.pong(state)
	}
	if state == stateConnecting {
		if cmd.Connect == nil {
			c.node.metrics.command("unknown", "bad_request")
			return DisconnectBadRequest
		}
		return c.connect(cmd.Id, cmd.Connect, b)
	}
	switch {
	case cmd.Connect != nil:
		c.node.metrics.command("connect", "bad_request")
		c.node.logReject(c, DisconnectBadRequest, "connect command (id "+strconv.FormatUint(uint64(cmd.Id), 10)+") on a connected client")
		return DisconnectBadRequest // a second connect
	case cmd.Subscribe != nil:
		return c.subscribe(cmd.Id, cmd.Subscribe, b)
	case cmd.Unsubscribe != nil:
		return c.unsubscribe(cmd.Id, cmd.Unsubscribe, b)
	case cmd.Publish != nil:
		return c.publish(cmd.Id, cmd.Publish, b)
	case cmd.Presence != nil:
		return c.presenceCmd(cmd.Id, cmd.Presence, b)
	case cmd.PresenceStats != nil:
		return c.presenceStats(cmd.Id, cmd.PresenceStats, b)
	case cmd.History != nil:
		return c.history(cmd.Id, cmd.History, b)
	case cmd.Refresh != nil:
		return c.refresh(cmd.Id, cmd.Refresh, b)
	case cmd.SubRefresh != nil:
		return c.subRefresh(cmd.Id, cmd.SubRefresh, b)
	case cmd.Rpc != nil:
		return c.rpc(cmd.Id, cmd.Rpc, b)
	case cmd.Send != nil:
		// No message handler: Centrifuge closes with 3508.
		c.node.metrics.command("send", "not_available")
		return DisconnectNotAvailable
	}
	c.node.metrics.command("unknown", "bad_request")
	return DisconnectBadRequest // empty command, or the unused ping
}

// violation names the command that closed the connection, for the log line
// of a rejected client: its request field and id, and whether it came
// before connect.
func violation(c *client, cmd *protocol.Command) string {
	name := "empty or unknown"
	switch {
	case cmd.Id == 0 && cmd.Send == nil:
		name = "empty (pong)"
	case cmd.Subscribe != nil:
		name = "subscribe"
	case cmd.Unsubscribe != nil:
		name = "unsubscribe"
	case cmd.Publish != nil:
		name = "publish"
	case cmd.Presence != nil:
		name = "presence"
	case cmd.PresenceStats != nil:
		name = "presence_stats"
	case cmd.History != nil:
		name = "history"
	case cmd.Refresh != nil:
		name = "refresh"
	case cmd.SubRefresh != nil:
		name = "sub_refresh"
	case cmd.Rpc != nil:
		name = "rpc"
	case cmd.Send != nil:
		name = "send"
	}
	why := name + " command (id " + strconv.FormatUint(uint64(cmd.Id), 10) + ")"
	c.mu.Lock()
	connecting := c.state == stateConnecting
	c.mu.Unlock()
	if connecting {
		why += " before connect"
	}
	return why
}
