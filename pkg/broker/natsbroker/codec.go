package natsbroker

import (
	"encoding/binary"
	"errors"

	"github.com/xh-control/gateway/pkg/broker"
)

// Message kinds, the first byte of every message body.
const (
	kindPublication byte = 1
	kindJoin        byte = 2
	kindLeave       byte = 3
	// kindMarker holds a history stream's position and epoch without a
	// publication: written when History first meets a channel (so that its
	// epoch is fixed) and by RemoveHistory (so that the position outlives
	// the publications it drops).
	kindMarker byte = 4
)

// errMalformed: a message body that envelope.decode cannot read.
var errMalformed = errors.New("natsbroker: malformed message body")

// envelope is the body of every message this engine publishes. Layout:
//
//	kind    byte
//	offset  uvarint   history offset (0 without history)
//	epoch   string    uvarint length + bytes
//	time    varint    Unix ms
//	size    uvarint   history size the channel was published with
//	expires varint    Unix ms after which the publication leaves history (0: never)
//	info    byte 0 (none) or 1, then client, user (strings), conn, chan (bytes)
//	tags    uvarint count (0: nil map), then key, value strings
//	data    the rest
//
// bytes fields are uvarint(len+1) with 0 meaning nil, so that nil and empty
// survive a round trip.
type envelope struct {
	kind    byte
	offset  uint64
	epoch   string
	time    int64
	size    uint64
	expires int64
	info    *broker.ClientInfo
	tags    map[string]string
	data    []byte
}

func (e *envelope) encode(b []byte) []byte {
	b = append(b, e.kind)
	b = binary.AppendUvarint(b, e.offset)
	b = appendString(b, e.epoch)
	b = binary.AppendVarint(b, e.time)
	b = binary.AppendUvarint(b, e.size)
	b = binary.AppendVarint(b, e.expires)
	b = appendInfo(b, e.info)
	if e.tags == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.tags))+1)
		for k, v := range e.tags {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return append(b, e.data...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p))+1)
	return append(b, p...)
}

func appendInfo(b []byte, info *broker.ClientInfo) []byte {
	if info == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendString(b, info.ClientID)
	b = appendString(b, info.UserID)
	b = appendBytes(b, info.ConnInfo)
	return appendBytes(b, info.ChanInfo)
}

// reader reads envelope fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMalformed
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errMalformed
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errMalformed
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) raw(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string() string { return string(r.raw(r.uvarint())) }

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	return append([]byte{}, r.raw(n-1)...)
}

// decode reads b into e. Data is copied, so b may be reused.
func (e *envelope) decode(b []byte) error {
	r := reader{b: b}
	e.kind = r.byte()
	if r.err == nil && (e.kind < kindPublication || e.kind > kindMarker) {
		return errMalformed
	}
	e.offset = r.uvarint()
	e.epoch = r.string()
	e.time = r.varint()
	e.size = r.uvarint()
	e.expires = r.varint()
	e.info = nil
	switch r.byte() {
	case 0:
	case 1:
		e.info = &broker.ClientInfo{ClientID: r.string(), UserID: r.string()}
		e.info.ConnInfo = r.bytes()
		e.info.ChanInfo = r.bytes()
	default:
		return errMalformed
	}
	e.tags = nil
	if n := r.uvarint(); n > 0 && r.err == nil {
		n--
		if n > uint64(len(r.b)) { // each pair takes at least 2 bytes
			return errMalformed
		}
		e.tags = make(map[string]string, n)
		for ; n > 0 && r.err == nil; n-- {
			k := r.string()
			e.tags[k] = r.string()
		}
	}
	if r.err != nil {
		return r.err
	}
	e.data = append([]byte{}, r.b...)
	return nil
}

// publication returns the broker publication e carries.
func (e *envelope) publication() *broker.Publication {
	return &broker.Publication{Offset: e.offset, Data: e.data, Info: e.info, Tags: e.tags, Time: e.time}
}
