package serverapi

import (
	"context"
	"encoding/base64"
	"sync"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/codec"
)

// executor runs the API methods on a Node. Each method checks what
// Centrifugo's Executor (internal/api/api.go) checks before it asks its node
// (a channel is required, base64 fields must decode) and leaves the checks
// that need the channel options (102 unknown namespace, 107 empty data
// after the namespace is found, 108 presence or history off) to the Node.
// On success the result is never nil.
type executor struct {
	node Node
}

func b64(s string, raw Raw) ([]byte, *Error) {
	if s == "" {
		return raw, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrorBadRequest
	}
	return b, nil
}

func (x *executor) publish(ctx context.Context, r *publishRequest) (*publishResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	data, e := b64(r.B64Data, r.Data)
	if e != nil {
		return nil, e
	}
	sp, err := x.node.Publish(ctx, r.Channel, data, PublishOptions{SkipHistory: r.SkipHistory, Tags: r.Tags, IdempotencyKey: r.IdempotencyKey})
	if err != nil {
		return nil, apiError(err)
	}
	return &publishResult{Offset: sp.Offset, Epoch: sp.Epoch}, nil
}

// broadcastConcurrency bounds the publications of one broadcast in flight
// (Centrifugo: broadcastRequestMaxConcurrency).
const broadcastConcurrency = 1024

func (x *executor) broadcast(ctx context.Context, r *broadcastRequest) (*broadcastResult, *Error) {
	if len(r.Channels) == 0 {
		return nil, ErrorBadRequest
	}
	data, e := b64(r.B64Data, r.Data)
	if e != nil {
		return nil, e
	}
	opts := PublishOptions{SkipHistory: r.SkipHistory, Tags: r.Tags, IdempotencyKey: r.IdempotencyKey}
	responses := make([]*publishResponse, len(r.Channels))
	sem := make(chan struct{}, broadcastConcurrency)
	var wg sync.WaitGroup
	for i, ch := range r.Channels {
		if ch == "" {
			responses[i] = &publishResponse{Error: ErrorBadRequest}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, ch string) {
			defer func() { <-sem; wg.Done() }()
			sp, err := x.node.Publish(ctx, ch, data, opts)
			if err != nil {
				responses[i] = &publishResponse{Error: apiError(err)}
				return
			}
			responses[i] = &publishResponse{Result: &publishResult{Offset: sp.Offset, Epoch: sp.Epoch}}
		}(i, ch)
	}
	wg.Wait()
	return &broadcastResult{Responses: responses}, nil
}

func (x *executor) subscribe(ctx context.Context, r *subscribeRequest) (*emptyResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	data, e := b64(r.B64Data, r.Data)
	if e != nil {
		return nil, e
	}
	info, e := b64(r.B64Info, r.Info)
	if e != nil {
		return nil, e
	}
	req := SubscribeRequest{User: r.User, Channel: r.Channel, Client: r.Client, Session: r.Session,
		Info: info, Data: data, ExpireAt: r.ExpireAt}
	if r.RecoverSince != nil {
		req.RecoverSince = &StreamPosition{Offset: r.RecoverSince.Offset, Epoch: r.RecoverSince.Epoch}
	}
	if o := r.Override; o != nil {
		req.Override = &Override{Presence: value(o.Presence), JoinLeave: value(o.JoinLeave),
			ForcePushJoinLeave: value(o.ForcePushJoinLeave), ForceRecovery: value(o.ForceRecovery),
			ForcePositioning: value(o.ForcePositioning)}
	}
	if err := x.node.Subscribe(ctx, req); err != nil {
		return nil, apiError(err)
	}
	return &emptyResult{}, nil
}

func value(b *boolValue) *bool {
	if b == nil {
		return nil
	}
	v := b.Value
	return &v
}

// unsubscribe: an empty channel is allowed (Centrifugo passes it on: the
// user leaves every channel).
func (x *executor) unsubscribe(ctx context.Context, r *unsubscribeRequest) (*emptyResult, *Error) {
	err := x.node.Unsubscribe(ctx, UnsubscribeRequest{User: r.User, Channel: r.Channel, Client: r.Client, Session: r.Session})
	if err != nil {
		return nil, apiError(err)
	}
	return &emptyResult{}, nil
}

func (x *executor) disconnect(ctx context.Context, r *disconnectRequest) (*emptyResult, *Error) {
	req := DisconnectRequest{User: r.User, Client: r.Client, Session: r.Session, Whitelist: r.Whitelist}
	if r.Disconnect != nil {
		req.Code, req.Reason = r.Disconnect.Code, r.Disconnect.Reason
		// The code goes into the client's close frame, so a code RFC 6455
		// section 7.4 keeps off the wire (under 1000, 1004-1006, 1015,
		// 1016-2999) or one past 16 bits is a bad request rather than a frame
		// the client must fail (Centrifugo sends any code). 0 means the
		// default, 3503 force disconnect.
		if req.Code != 0 && (req.Code > 0xFFFF || !codec.StatusCode(req.Code).ValidOnWire()) {
			return nil, ErrorBadRequest
		}
	}
	if err := x.node.Disconnect(ctx, req); err != nil {
		return nil, apiError(err)
	}
	return &emptyResult{}, nil
}

func (x *executor) refresh(ctx context.Context, r *refreshRequest) (*emptyResult, *Error) {
	err := x.node.Refresh(ctx, RefreshRequest{User: r.User, Client: r.Client, Session: r.Session,
		Expired: r.Expired, ExpireAt: r.ExpireAt, Info: r.Info})
	if err != nil {
		return nil, apiError(err)
	}
	return &emptyResult{}, nil
}

func toClientInfo(ci *broker.ClientInfo) *clientInfo {
	return &clientInfo{User: ci.UserID, Client: ci.ClientID, ConnInfo: ci.ConnInfo, ChanInfo: ci.ChanInfo}
}

func (x *executor) presence(ctx context.Context, r *channelRequest) (*presenceResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	p, err := x.node.Presence(ctx, r.Channel)
	if err != nil {
		return nil, apiError(err)
	}
	res := &presenceResult{Presence: make(map[string]*clientInfo, len(p))}
	for id, ci := range p {
		if ci != nil {
			res.Presence[id] = toClientInfo(ci)
		}
	}
	return res, nil
}

func (x *executor) presenceStats(ctx context.Context, r *channelRequest) (*presenceStatsResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	s, err := x.node.PresenceStats(ctx, r.Channel)
	if err != nil {
		return nil, apiError(err)
	}
	return &presenceStatsResult{NumClients: uint32(s.NumClients), NumUsers: uint32(s.NumUsers)}, nil
}

// history passes limit as given: 0 asks for the position only, -1 for
// everything the node allows; since and reverse as in the client protocol.
func (x *executor) history(ctx context.Context, r *historyRequest) (*historyResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	opts := broker.HistoryOptions{Limit: int(r.Limit), Reverse: r.Reverse}
	if r.Since != nil {
		opts.Since = &broker.StreamPosition{Offset: r.Since.Offset, Epoch: r.Since.Epoch}
	}
	pubs, sp, err := x.node.History(ctx, r.Channel, opts)
	if err != nil {
		return nil, apiError(err)
	}
	res := &historyResult{Publications: make([]*publication, 0, len(pubs)), Epoch: sp.Epoch, Offset: sp.Offset}
	for _, p := range pubs {
		ap := &publication{Data: p.Data, Offset: p.Offset, Tags: p.Tags}
		if p.Info != nil {
			ap.Info = toClientInfo(p.Info)
		}
		res.Publications = append(res.Publications, ap)
	}
	return res, nil
}

func (x *executor) historyRemove(ctx context.Context, r *channelRequest) (*emptyResult, *Error) {
	if r.Channel == "" {
		return nil, ErrorBadRequest
	}
	if err := x.node.HistoryRemove(ctx, r.Channel); err != nil {
		return nil, apiError(err)
	}
	return &emptyResult{}, nil
}

func (x *executor) channels(ctx context.Context, r *channelsRequest) (*channelsResult, *Error) {
	chs, err := x.node.Channels(ctx, r.Pattern)
	if err != nil {
		return nil, apiError(err)
	}
	res := &channelsResult{Channels: make(map[string]*channelInfo, len(chs))}
	for ch, n := range chs {
		res.Channels[ch] = &channelInfo{NumClients: uint32(n)}
	}
	return res, nil
}

func (x *executor) info(ctx context.Context, _ *infoRequest) (*infoResult, *Error) {
	nodes, err := x.node.Info(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	res := &infoResult{Nodes: make([]*nodeResult, len(nodes))}
	for i, n := range nodes {
		res.Nodes[i] = &nodeResult{UID: n.UID, Name: n.Name, Version: n.Version,
			NumClients: uint32(n.NumClients), NumUsers: uint32(n.NumUsers), NumChannels: uint32(n.NumChannels),
			NumSubs: uint32(n.NumSubs), Uptime: uint32(n.Uptime.Seconds())}
	}
	return res, nil
}

// rpc has no server-side methods: a named method is 104 "not found"
// (Centrifugo without RPC extensions), a missing one 107.
func (x *executor) rpc(_ context.Context, r *rpcRequest) (*rpcResult, *Error) {
	if r.Method == "" {
		return nil, ErrorBadRequest
	}
	return nil, ErrorNotFound
}

// batchConcurrency bounds the commands of a parallel batch in flight
// (Centrifugo: batchRequestMaxConcurrency).
const batchConcurrency = 1024

func (x *executor) batch(ctx context.Context, r *batchRequest) *batchResponse {
	replies := make([]*reply, len(r.Commands))
	var sem chan struct{}
	if r.Parallel {
		sem = make(chan struct{}, batchConcurrency)
	}
	var wg sync.WaitGroup
	for i, c := range r.Commands {
		replies[i] = new(reply)
		if !r.Parallel {
			x.command(ctx, c, replies[i])
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *command, rep *reply) {
			defer func() { <-sem; wg.Done() }()
			x.command(ctx, c, rep)
		}(c, replies[i])
	}
	wg.Wait()
	return &batchResponse{Replies: replies}
}

// command runs one batch command into rep: a null command is 107, one with
// no method this server knows 104 (Centrifugo processCmd).
func (x *executor) command(ctx context.Context, c *command, rep *reply) {
	switch {
	case c == nil:
		rep.Error = ErrorBadRequest
	case c.Publish != nil:
		rep.Publish, rep.Error = x.publish(ctx, c.Publish)
	case c.Broadcast != nil:
		rep.Broadcast, rep.Error = x.broadcast(ctx, c.Broadcast)
	case c.Subscribe != nil:
		rep.Subscribe, rep.Error = x.subscribe(ctx, c.Subscribe)
	case c.Unsubscribe != nil:
		rep.Unsubscribe, rep.Error = x.unsubscribe(ctx, c.Unsubscribe)
	case c.Disconnect != nil:
		rep.Disconnect, rep.Error = x.disconnect(ctx, c.Disconnect)
	case c.History != nil:
		rep.History, rep.Error = x.history(ctx, c.History)
	case c.HistoryRemove != nil:
		rep.HistoryRemove, rep.Error = x.historyRemove(ctx, c.HistoryRemove)
	case c.Presence != nil:
		rep.Presence, rep.Error = x.presence(ctx, c.Presence)
	case c.PresenceStats != nil:
		rep.PresenceStats, rep.Error = x.presenceStats(ctx, c.PresenceStats)
	case c.Info != nil:
		rep.Info, rep.Error = x.info(ctx, c.Info)
	case c.RPC != nil:
		rep.RPC, rep.Error = x.rpc(ctx, c.RPC)
	case c.Refresh != nil:
		rep.Refresh, rep.Error = x.refresh(ctx, c.Refresh)
	case c.Channels != nil:
		rep.Channels, rep.Error = x.channels(ctx, c.Channels)
	default:
		rep.Error = ErrorNotFound
	}
}
