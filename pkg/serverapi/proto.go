package serverapi

import "errors"

// The request and result types below mirror Centrifugo v6.9.1
// internal/apiproto/api.pb.go field for field: the same JSON names, the same
// Go types (so encoding/json accepts and rejects the same bodies) and the
// same omitempty choices (internal/apiproto/generate_tags.sh removes
// omitempty from the fields that must always be present).

// Raw is a JSON value kept as it came (apiproto.Raw): publication data, info.
// encoding/json has already checked that it is valid JSON.
type Raw []byte

// MarshalJSON writes r as is; nil is null.
func (r Raw) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of data (a JSON null arrives as the 4 bytes
// "null", as in Centrifugo).
func (r *Raw) UnmarshalJSON(data []byte) error {
	if r == nil {
		return errors.New("raw: UnmarshalJSON on nil pointer")
	}
	*r = append((*r)[0:0], data...)
	return nil
}

// Error is an API error (apiproto.Error).
type Error struct {
	Code    uint32 `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// streamPosition is apiproto.StreamPosition.
type streamPosition struct {
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
}

type publishRequest struct {
	Channel        string            `json:"channel,omitempty"`
	Data           Raw               `json:"data,omitempty"`
	B64Data        string            `json:"b64data,omitempty"`
	SkipHistory    bool              `json:"skip_history,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Delta          bool              `json:"delta,omitempty"`
	Version        uint64            `json:"version,omitempty"`
	VersionEpoch   string            `json:"version_epoch,omitempty"`
}

type publishResult struct {
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
}

type publishResponse struct {
	Error  *Error         `json:"error,omitempty"`
	Result *publishResult `json:"result,omitempty"`
}

type broadcastRequest struct {
	Channels       []string          `json:"channels,omitempty"`
	Data           Raw               `json:"data,omitempty"`
	B64Data        string            `json:"b64data,omitempty"`
	SkipHistory    bool              `json:"skip_history,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Delta          bool              `json:"delta,omitempty"`
	Version        uint64            `json:"version,omitempty"`
	VersionEpoch   string            `json:"version_epoch,omitempty"`
}

type broadcastResult struct {
	Responses []*publishResponse `json:"responses,omitempty"`
}

type boolValue struct {
	Value bool `json:"value,omitempty"`
}

type subscribeOptionOverride struct {
	Presence           *boolValue `json:"presence,omitempty"`
	JoinLeave          *boolValue `json:"join_leave,omitempty"`
	ForceRecovery      *boolValue `json:"force_recovery,omitempty"`
	ForcePositioning   *boolValue `json:"force_positioning,omitempty"`
	ForcePushJoinLeave *boolValue `json:"force_push_join_leave,omitempty"`
}

type subscribeRequest struct {
	Channel      string                   `json:"channel,omitempty"`
	User         string                   `json:"user,omitempty"`
	ExpireAt     int64                    `json:"expire_at,omitempty"`
	Info         Raw                      `json:"info,omitempty"`
	B64Info      string                   `json:"b64info,omitempty"`
	Client       string                   `json:"client,omitempty"`
	Data         Raw                      `json:"data,omitempty"`
	B64Data      string                   `json:"b64data,omitempty"`
	RecoverSince *streamPosition          `json:"recover_since,omitempty"`
	Override     *subscribeOptionOverride `json:"override,omitempty"`
	Session      string                   `json:"session,omitempty"`
}

type unsubscribeRequest struct {
	Channel string `json:"channel,omitempty"`
	User    string `json:"user,omitempty"`
	Client  string `json:"client,omitempty"`
	Session string `json:"session,omitempty"`
}

type disconnectObject struct {
	Code   uint32 `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type disconnectRequest struct {
	User       string            `json:"user,omitempty"`
	Disconnect *disconnectObject `json:"disconnect,omitempty"`
	Client     string            `json:"client,omitempty"`
	Whitelist  []string          `json:"whitelist,omitempty"`
	Session    string            `json:"session,omitempty"`
}

type refreshRequest struct {
	User     string `json:"user,omitempty"`
	Client   string `json:"client,omitempty"`
	Expired  bool   `json:"expired,omitempty"`
	ExpireAt int64  `json:"expire_at,omitempty"`
	Info     Raw    `json:"info,omitempty"`
	Session  string `json:"session,omitempty"`
}

type channelRequest struct {
	Channel string `json:"channel,omitempty"`
}

// clientInfo is apiproto.ClientInfo: user and client are always present.
type clientInfo struct {
	User     string `json:"user"`
	Client   string `json:"client"`
	ConnInfo Raw    `json:"conn_info,omitempty"`
	ChanInfo Raw    `json:"chan_info,omitempty"`
}

type presenceResult struct {
	Presence map[string]*clientInfo `json:"presence"`
}

type presenceStatsResult struct {
	NumClients uint32 `json:"num_clients"`
	NumUsers   uint32 `json:"num_users"`
}

type historyRequest struct {
	Channel string          `json:"channel,omitempty"`
	Limit   int32           `json:"limit,omitempty"`
	Since   *streamPosition `json:"since,omitempty"`
	Reverse bool            `json:"reverse,omitempty"`
}

type publication struct {
	Data   Raw               `json:"data,omitempty"`
	Info   *clientInfo       `json:"info,omitempty"`
	Offset uint64            `json:"offset,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

type historyResult struct {
	Publications []*publication `json:"publications"`
	Epoch        string         `json:"epoch"`
	Offset       uint64         `json:"offset"`
}

type infoRequest struct{}

type nodeResult struct {
	UID         string `json:"uid"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	NumClients  uint32 `json:"num_clients"`
	NumUsers    uint32 `json:"num_users"`
	NumChannels uint32 `json:"num_channels"`
	Uptime      uint32 `json:"uptime,omitempty"`
	NumSubs     uint32 `json:"num_subs"`
}

type infoResult struct {
	Nodes []*nodeResult `json:"nodes,omitempty"`
}

type rpcRequest struct {
	Method string `json:"method,omitempty"`
	Params Raw    `json:"params,omitempty"`
}

type rpcResult struct {
	Data Raw `json:"data,omitempty"`
}

type channelsRequest struct {
	Pattern string `json:"pattern,omitempty"`
}

type channelInfo struct {
	NumClients uint32 `json:"num_clients,omitempty"`
}

type channelsResult struct {
	Channels map[string]*channelInfo `json:"channels"`
}

// emptyResult is the result of subscribe, unsubscribe, disconnect, refresh
// and history_remove: always {}.
type emptyResult struct{}

// command is one element of a batch (apiproto.Command): exactly one field
// set. Commands this server does not implement (Centrifugo PRO's, map_*)
// decode to no field and are answered 104 "not found", as Centrifugo OSS
// answers the PRO ones.
type command struct {
	Publish       *publishRequest     `json:"publish,omitempty"`
	Broadcast     *broadcastRequest   `json:"broadcast,omitempty"`
	Subscribe     *subscribeRequest   `json:"subscribe,omitempty"`
	Unsubscribe   *unsubscribeRequest `json:"unsubscribe,omitempty"`
	Disconnect    *disconnectRequest  `json:"disconnect,omitempty"`
	Presence      *channelRequest     `json:"presence,omitempty"`
	PresenceStats *channelRequest     `json:"presence_stats,omitempty"`
	History       *historyRequest     `json:"history,omitempty"`
	HistoryRemove *channelRequest     `json:"history_remove,omitempty"`
	Info          *infoRequest        `json:"info,omitempty"`
	RPC           *rpcRequest         `json:"rpc,omitempty"`
	Refresh       *refreshRequest     `json:"refresh,omitempty"`
	Channels      *channelsRequest    `json:"channels,omitempty"`
}

type batchRequest struct {
	Commands []*command `json:"commands,omitempty"`
	Parallel bool       `json:"parallel,omitempty"`
}

// reply is one element of a batch reply (apiproto.Reply): the error or the
// method's result under the method's name, no "result" wrapper.
type reply struct {
	Error         *Error               `json:"error,omitempty"`
	Publish       *publishResult       `json:"publish,omitempty"`
	Broadcast     *broadcastResult     `json:"broadcast,omitempty"`
	Subscribe     *emptyResult         `json:"subscribe,omitempty"`
	Unsubscribe   *emptyResult         `json:"unsubscribe,omitempty"`
	Disconnect    *emptyResult         `json:"disconnect,omitempty"`
	Presence      *presenceResult      `json:"presence,omitempty"`
	PresenceStats *presenceStatsResult `json:"presence_stats,omitempty"`
	History       *historyResult       `json:"history,omitempty"`
	HistoryRemove *emptyResult         `json:"history_remove,omitempty"`
	Info          *infoResult          `json:"info,omitempty"`
	RPC           *rpcResult           `json:"rpc,omitempty"`
	Refresh       *emptyResult         `json:"refresh,omitempty"`
	Channels      *channelsResult      `json:"channels,omitempty"`
}

type batchResponse struct {
	Replies []*reply `json:"replies,omitempty"`
}
