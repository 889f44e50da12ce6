package poller

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// request is the part of an HTTP request head the handshake needs. Its
// slices alias the head, which the connection owns until it is upgraded.
type request struct {
	method     []byte
	target     []byte // request-target as sent, query included
	path       []byte // target without the query
	major      int
	minor      int
	host       []byte
	upgrade    []byte
	connection []byte
	key        []byte
	version    []byte
	origin     []byte
	realIP     []byte
	forwarded  [maxForwardedHeaders][]byte // X-Forwarded-For lines, in order
	nForwarded int
	hostSeen   bool
	originSeen bool
}

// maxForwardedHeaders bounds how many X-Forwarded-For lines are kept; more
// are a sign of a forged request and fail it.
const maxForwardedHeaders = 8

var errMalformed = errors.New("malformed HTTP request")

// headEnd returns the length of the request head in b (through the empty
// line that ends it), or -1 when b does not hold a complete head yet. Bare
// LF line ends are accepted, as gobwas/ws does.
func headEnd(b []byte, from int) int {
	for i := max(from, 1); i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if b[i-1] == '\n' {
			return i + 1
		}
		if b[i-1] == '\r' && i >= 2 && b[i-2] == '\n' {
			return i + 1
		}
	}
	return -1
}

// parseRequest parses a complete request head.
func parseRequest(head []byte, r *request) error {
	line, rest := nextLine(head)
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errMalformed // obsolete line folding (RFC 9112 section 5.2)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errMalformed
		}
		value := bytes.TrimSpace(line[colon+1:])
		if value == nil {
			value = line[len(line):] // present but empty: not nil, so a repeat is seen
		}
		if err := r.header(line[:colon], value); err != nil {
			return err
		}
	}
	return errMalformed // no empty line
}

func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func (r *request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errMalformed
	}
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= sp1+1 {
		return errMalformed
	}
	r.method, r.target = line[:sp1], line[sp1+1:sp2]
	proto := line[sp2+1:]
	if len(proto) != 8 || !bytes.HasPrefix(proto, []byte("HTTP/")) || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return errMalformed
	}
	r.major, r.minor = int(proto[5]-'0'), int(proto[7]-'0')
	r.path = r.target
	if q := bytes.IndexByte(r.target, '?'); q >= 0 {
		r.path = r.target[:q]
	}
	if len(r.path) == 0 || bytes.IndexByte(r.target, ' ') >= 0 {
		return errMalformed
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (r *request) header(name, value []byte) error {
	switch {
	case equalFold(name, "host"):
		if r.hostSeen {
			return errMalformed // RFC 9112 section 3.2: exactly one Host
		}
		r.host, r.hostSeen = value, true
	case equalFold(name, "upgrade"):
		r.upgrade = value
	case equalFold(name, "connection"):
		r.connection = value
	case equalFold(name, "sec-websocket-key"):
		if r.key != nil {
			return errMalformed // RFC 6455 section 11.3.1: at most once
		}
		r.key = value
	case equalFold(name, "sec-websocket-version"):
		if r.version != nil {
			return errMalformed // RFC 6455 section 11.3.5: at most once
		}
		r.version = value
	case equalFold(name, "origin"):
		if r.originSeen {
			return errMalformed // RFC 6454 section 7.3: one Origin; which would we check?
		}
		r.origin, r.originSeen = value, true
	case equalFold(name, "x-real-ip"):
		r.realIP = value
	case equalFold(name, "x-forwarded-for"):
		if r.nForwarded == maxForwardedHeaders {
			return errMalformed
		}
		r.forwarded[r.nForwarded] = value
		r.nForwarded++
	}
	return nil
}

// equalFold compares an ASCII header name with a lower-case constant.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value contains token,
// compared case-insensitively.
func hasToken(value []byte, token string) bool {
	for len(value) > 0 {
		var item []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			item, value = value, nil
		}
		if equalFold(bytes.TrimSpace(item), token) {
			return true
		}
	}
	return false
}

// validKey reports whether a Sec-WebSocket-Key is the base64 encoding of 16
// bytes, as RFC 6455 section 4.1 requires.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], key)
	return err == nil && n == 16
}
