package session

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"
)

// ID identifies a session. It is stable for the session's life, unique
// across the nodes of a cluster (the top 16 bits are the node ID) and across
// restarts of a node (the low 48 bits continue from the time the node
// started), and it renders as 16 hex digits.
type ID uint64

// String returns the ID as 16 lower-case hex digits.
func (id ID) String() string {
	var b [16]byte
	return string(id.AppendText(b[:0]))
}

// AppendText appends the 16 hex digits of id to dst.
func (id ID) AppendText(dst []byte) []byte {
	const hex = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(uint64(id)>>uint(shift))&0xF])
	}
	return dst
}

// Node returns the ID of the node that created the session.
func (id ID) Node() uint16 { return uint16(id >> 48) }

// ErrBadID is returned by ParseID for text that is not 16 hex digits.
var ErrBadID = errors.New("session: an ID is 16 hex digits")

// ParseID parses the text form of an ID.
func ParseID(s string) (ID, error) {
	if len(s) != 16 {
		return 0, ErrBadID
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, ErrBadID
	}
	return ID(v), nil
}

// idEpoch is the start of the sequence clock; 48 bits of 1/16 ms from here
// last until the 26th century.
var idEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// IDGenerator hands out IDs for one node.
type IDGenerator struct {
	node uint64
	seq  atomic.Uint64
}

// NewIDGenerator returns a generator for node that starts its sequence at
// the current time in units of 1/16 ms. A restarted node therefore never
// repeats an ID unless it handed out more than 16 IDs per millisecond on
// average over its whole previous life.
func NewIDGenerator(node uint16, now time.Time) *IDGenerator {
	g := &IDGenerator{node: uint64(node) << 48}
	g.seq.Store(uint64(now.Sub(idEpoch).Milliseconds()) * 16)
	return g
}

// Next returns a new ID.
func (g *IDGenerator) Next() ID {
	return ID(g.node | (g.seq.Add(1) & (1<<48 - 1)))
}
