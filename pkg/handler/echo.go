package handler

import "github.com/xh-control/gateway/pkg/session"

// Echo sends every message back to its sender with the same type: text as
// text, binary as binary. It is the gateway's default handler and what the
// reference design does.
type Echo struct{}

func (Echo) OnOpen(*session.Session) {}

func (Echo) OnMessage(s *session.Session, m session.Message) { s.Send(m.Type, m.Data) }

func (Echo) OnClose(*session.Session, session.CloseInfo) {}
