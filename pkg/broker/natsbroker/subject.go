package natsbroker

import "encoding/base64"

// Subject scheme. Every name taken from outside (channel, client ID, node
// ID) becomes one subject token "c" + base64url(name) without padding.
// base64url's alphabet [A-Za-z0-9-_] holds none of the characters NATS
// subjects forbid or give meaning to ('.', '*', '>', whitespace, non-ASCII)
// and the constant "c" keeps the empty name a non-empty token, so the token
// is valid for any name and, base64 being injective, distinct names never
// share a token. Subjects (with the default prefix "gateway"):
//
//	gateway.ch.<tok>    live deliveries: publications, join, leave (core NATS)
//	gateway.h.<tok>     history stream subjects (JetStream), republished by
//	                    the stream to gateway.ch.<tok> once stored
//	gateway.ctl         control messages for every node
//	gateway.ctl.<tok>   control messages for the node whose ID is tok
//
// Presence keys in the KV bucket are "<tok(channel)>.<tok(clientID)>".
var tokenEncoding = base64.RawURLEncoding

// token encodes name as one subject token.
func token(name string) string {
	b := make([]byte, 1+tokenEncoding.EncodedLen(len(name)))
	b[0] = 'c'
	tokenEncoding.Encode(b[1:], []byte(name))
	return string(b)
}

// untoken reverses token; ok is false for a string token never returns.
func untoken(tok string) (name string, ok bool) {
	if len(tok) == 0 || tok[0] != 'c' {
		return "", false
	}
	b, err := tokenEncoding.DecodeString(tok[1:])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// subjects holds the subject names derived from Options.Prefix.
type subjects struct {
	live      string // prefix + ".ch."
	history   string // prefix + ".h."
	control   string // prefix + ".ctl"
	controlTo string // prefix + ".ctl."
}

func newSubjects(prefix string) subjects {
	return subjects{
		live:      prefix + ".ch.",
		history:   prefix + ".h.",
		control:   prefix + ".ctl",
		controlTo: prefix + ".ctl.",
	}
}

func (s subjects) liveSubject(channel string) string    { return s.live + token(channel) }
func (s subjects) historySubject(channel string) string { return s.history + token(channel) }
func (s subjects) nodeSubject(nodeID string) string     { return s.controlTo + token(nodeID) }

// presenceKey is the KV key of one client's presence in channel.
func presenceKey(channel, clientID string) string {
	return token(channel) + "." + token(clientID)
}
