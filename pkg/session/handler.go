package session

import "github.com/xh-control/gateway/pkg/codec"

// Handler is the application on top of the gateway. The poller calls it
// from its worker pool. Calls for one session never overlap and arrive in
// order: OnOpen, then OnMessage for each message, then OnClose exactly once.
// A handler that blocks holds a worker: see the poller's documentation.
type Handler interface {
	// OnOpen is called once the session is registered and can send.
	OnOpen(s *Session)
	// OnMessage is called for every complete data message. m.Data is only
	// valid during the call: copy it to keep it (Send copies it).
	OnMessage(s *Session, m Message)
	// OnClose is called once, after the session left the registry.
	OnClose(s *Session, info CloseInfo)
}

// Message is a complete data message received from a client.
type Message struct {
	Type MessageType
	Data []byte
}

// CloseInfo describes how a session ended.
type CloseInfo struct {
	// Code is the close code sent or received; StatusAbnormalClosure (1006)
	// when the connection ended without a closing handshake.
	Code codec.StatusCode
	// Reason is the close reason sent or received, or what went wrong.
	Reason string
	// ByPeer reports that the client started the close.
	ByPeer bool
}

// HandlerFuncs adapts functions to Handler; nil functions do nothing.
type HandlerFuncs struct {
	Open    func(s *Session)
	Message func(s *Session, m Message)
	Close   func(s *Session, info CloseInfo)
}

func (h HandlerFuncs) OnOpen(s *Session) {
	if h.Open != nil {
		h.Open(s)
	}
}

func (h HandlerFuncs) OnMessage(s *Session, m Message) {
	if h.Message != nil {
		h.Message(s, m)
	}
}

func (h HandlerFuncs) OnClose(s *Session, info CloseInfo) {
	if h.Close != nil {
		h.Close(s, info)
	}
}
