package handler

import "github.com/xh-control/gateway/pkg/session"

// Broadcast is a chat room: every message a client sends is sent to every
// open session, the sender included. The frame is encoded once and shared
// by every recipient's queue.
type Broadcast struct{}

func (Broadcast) OnOpen(*session.Session) {}

func (Broadcast) OnMessage(s *session.Session, m session.Message) {
	s.Hub().Broadcast(m.Type, m.Data)
}

func (Broadcast) OnClose(*session.Session, session.CloseInfo) {}

// ByName returns the built-in handler with the given name.
func ByName(name string) (session.Handler, bool) {
	switch name {
	case "echo":
		return Echo{}, true
	case "broadcast":
		return Broadcast{}, true
	}
	return nil, false
}

// Names lists the built-in handlers.
var Names = []string{"echo", "broadcast"}
