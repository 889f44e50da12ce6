package serverapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

// recNode is a serverapi.Node that records each call (as method name and
// its arguments in JSON) and answers from fields the test sets. It stands
// in for *channels.Node, which is built in parallel; the differential tests
// (test/differential) run the real one.
type recNode struct {
	mu    sync.Mutex
	calls []string

	err      map[string]error // method -> error to return
	pos      broker.StreamPosition
	presence map[string]*broker.ClientInfo
	stats    broker.PresenceStats
	pubs     []*broker.Publication
	channels map[string]int
	nodes    []serverapi.NodeInfo
}

func (n *recNode) record(method string, args ...any) error {
	b, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, method+" "+string(b))
	return n.err[method]
}

func (n *recNode) takeCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.calls
	n.calls = nil
	return c
}

func (n *recNode) Publish(_ context.Context, channel string, data []byte, opts serverapi.PublishOptions) (broker.StreamPosition, error) {
	// data as a string, so that the test sees the exact bytes.
	if err := n.record("publish", channel, string(data), opts); err != nil {
		return broker.StreamPosition{}, err
	}
	return n.pos, nil
}

func (n *recNode) Subscribe(_ context.Context, req serverapi.SubscribeRequest) error {
	return n.record("subscribe", req.User, req.Channel, req.Client, req.Session, string(req.Info), string(req.Data), req.RecoverSince, req.Override, req.ExpireAt)
}

func (n *recNode) Unsubscribe(_ context.Context, req serverapi.UnsubscribeRequest) error {
	return n.record("unsubscribe", req)
}

func (n *recNode) Disconnect(_ context.Context, req serverapi.DisconnectRequest) error {
	return n.record("disconnect", req)
}

func (n *recNode) Refresh(_ context.Context, req serverapi.RefreshRequest) error {
	return n.record("refresh", req.User, req.Client, req.Session, req.Expired, req.ExpireAt, string(req.Info))
}

func (n *recNode) Presence(_ context.Context, channel string) (map[string]*broker.ClientInfo, error) {
	if err := n.record("presence", channel); err != nil {
		return nil, err
	}
	return n.presence, nil
}

func (n *recNode) PresenceStats(_ context.Context, channel string) (broker.PresenceStats, error) {
	if err := n.record("presence_stats", channel); err != nil {
		return broker.PresenceStats{}, err
	}
	return n.stats, nil
}

func (n *recNode) History(_ context.Context, channel string, opts broker.HistoryOptions) ([]*broker.Publication, broker.StreamPosition, error) {
	if err := n.record("history", channel, opts.Since, opts.Limit, opts.Reverse); err != nil {
		return nil, broker.StreamPosition{}, err
	}
	return n.pubs, n.pos, nil
}

func (n *recNode) HistoryRemove(_ context.Context, channel string) error {
	return n.record("history_remove", channel)
}

func (n *recNode) Channels(_ context.Context, pattern string) (map[string]int, error) {
	if err := n.record("channels", pattern); err != nil {
		return nil, err
	}
	return n.channels, nil
}

func (n *recNode) Info(context.Context) ([]serverapi.NodeInfo, error) {
	if err := n.record("info"); err != nil {
		return nil, err
	}
	return n.nodes, nil
}

var _ serverapi.Node = (*recNode)(nil)

var errPlain = fmt.Errorf("engine down")
