package poller

import (
	"bytes"
	"encoding/base64"
)

// request is the part of an HTTP request head the handshake needs. Its
// slices alias the head, which the connection owns until it is upgraded.
type request struct {
	method []byte
	target []byte // request-target as sent, query included
	path   []byte // the target's path: origin-form without the query, or an absolute-form target's path
	query  []byte // "?..." or empty
	major  int
	minor  int
	// host is what the same-origin check compares with: the Host header,
	// or an absolute-form target's authority, which RFC 9112 section 3.2.2
	// says replaces it.
	host      []byte
	absolute  bool // the target was in absolute-form
	hostSeen  bool
	hostLines int

	// List-valued fields: every line of a repeated field is one element
	// of a single comma-separated list (RFC 9110 section 5.3).
	upgrade    fieldLines
	connection fieldLines
	extensions fieldLines // Sec-WebSocket-Extensions
	protocols  fieldLines // Sec-WebSocket-Protocol

	// Singleton fields: the first line, and how many lines came, so that
	// the handshake can refuse a repeated one (RFC 6455 section 11.3).
	key          []byte
	keyLines     int
	version      []byte
	versionLines int
	origin       []byte
	originLines  int
	originSeen   bool

	realIP     []byte
	forwarded  [maxForwardedHeaders][]byte // X-Forwarded-For lines, in order
	nForwarded int
}

// maxForwardedHeaders bounds how many X-Forwarded-For lines are kept; more
// are a sign of a forged request and fail it.
const maxForwardedHeaders = 8

// maxFieldLines bounds the lines of one list-valued field (Connection,
// Upgrade, Sec-WebSocket-Extensions, Sec-WebSocket-Protocol) that are kept;
// a request that repeats one more often is refused with 400.
const maxFieldLines = 8

// fieldLines holds the lines of a list-valued field, in order.
type fieldLines struct {
	line [maxFieldLines][]byte
	n    int
}

func (f *fieldLines) add(v []byte) bool {
	if f.n == maxFieldLines {
		return false
	}
	f.line[f.n] = v
	f.n++
	return true
}

// each calls fn with every non-empty element of the list, in order, with
// optional whitespace trimmed, until fn returns false. Commas inside quoted
// strings (extension parameters) do not split elements. Empty elements are
// skipped, as RFC 9110 section 5.6.1 requires of a recipient.
func (f *fieldLines) each(fn func(elem []byte) bool) {
	for _, line := range f.line[:f.n] {
		start, quoted, escaped := 0, false, false
		for i := 0; i <= len(line); i++ {
			if i < len(line) {
				c := line[i]
				switch {
				case escaped:
					escaped = false
					continue
				case quoted && c == '\\':
					escaped = true
					continue
				case c == '"':
					quoted = !quoted
					continue
				case c != ',' || quoted:
					continue
				}
			}
			if elem := trimOWS(line[start:i]); len(elem) > 0 && !fn(elem) {
				return
			}
			start = i + 1
		}
	}
}

// hasToken reports whether the list holds token, compared
// case-insensitively.
func (f *fieldLines) hasToken(token string) bool {
	found := false
	f.each(func(elem []byte) bool {
		found = equalFold(elem, token)
		return !found
	})
	return found
}

// appendList appends the list's elements to dst, joined by ", ".
func (f *fieldLines) appendList(dst []byte) []byte {
	first := true
	f.each(func(elem []byte) bool {
		if !first {
			dst = append(dst, ", "...)
		}
		dst, first = append(dst, elem...), false
		return true
	})
	return dst
}

// requestError is a request that is not valid HTTP; its text is the reason
// the 400 response gives.
type requestError string

func (e requestError) Error() string { return string(e) }

var errMalformed = requestError("malformed HTTP request")

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

// parseRequest parses a complete request head (RFC 9112). Obsolete line
// folding (RFC 9112 section 5.2) is replaced, in head, by spaces: a folded
// value is read as one line, which is the second of the two answers the RFC
// allows (the first is 400). Field names are case-insensitive; values lose
// their surrounding spaces and tabs; a value holding a control character, a
// bare CR, or a name followed by whitespace before its colon fails the
// request.
func parseRequest(head []byte, r *request) error {
	eol := bytes.IndexByte(head, '\n')
	if eol < 0 {
		return errMalformed
	}
	if err := r.parseRequestLine(trimCR(head[:eol])); err != nil {
		return err
	}
	pos := eol + 1
	if pos < len(head) && isOWS(head[pos]) {
		// RFC 9112 section 2.2: whitespace between the start-line and
		// the first field line.
		return requestError("whitespace before the first header line")
	}
	for pos < len(head) {
		start := pos
		i := bytes.IndexByte(head[pos:], '\n')
		if i < 0 {
			break
		}
		end := pos + i // the line's LF
		pos = end + 1
		if end == start || (end == start+1 && head[start] == '\r') {
			r.finish()
			return nil
		}
		for pos < len(head) && isOWS(head[pos]) { // obs-fold: unfold in place
			head[end] = ' '
			if head[end-1] == '\r' {
				head[end-1] = ' '
			}
			j := bytes.IndexByte(head[pos:], '\n')
			if j < 0 {
				return errMalformed
			}
			end = pos + j
			pos = end + 1
		}
		if err := r.fieldLine(trimCR(head[start:end])); err != nil {
			return err
		}
	}
	return errMalformed // no empty line
}

// finish applies what needs the whole head.
func (r *request) finish() {
	if r.absolute {
		r.host = r.authority()
	}
}

// authority is an absolute-form target's host[:port].
func (r *request) authority() []byte {
	rest := r.target[bytes.Index(r.target, []byte("://"))+3:]
	if i := bytes.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func (r *request) fieldLine(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return requestError("header line without a name and a colon")
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	for _, c := range name {
		if !isTokenChar(c) {
			if isOWS(c) {
				// RFC 9112 section 5.1: MUST be rejected.
				return requestError("whitespace between a header name and its colon")
			}
			return requestError("invalid character in a header name")
		}
	}
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			// RFC 9110 section 5.5 (CR, LF, NUL) and RFC 9112 section 2.2 (bare CR).
			return requestError("control character in the value of " + string(name))
		}
	}
	return r.header(name, value)
}

func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP, HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isTokenChar reports whether c is a tchar (RFC 9110 section 5.6.2).
func isTokenChar(c byte) bool { return tchar[c] }

var tchar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), byte(c)) >= 0
	}
	return t
}()

// parseRequestLine parses "method SP request-target SP HTTP-version". The
// target may be in origin-form (/path?query), absolute-form
// (http://host/path?query; also https, ws and wss, RFC 9112 section 3.2.2)
// or asterisk-form (*, which only OPTIONS uses and the handshake refuses).
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
	for _, c := range r.method {
		if !isTokenChar(c) {
			return errMalformed
		}
	}
	proto := line[sp2+1:]
	if len(proto) != 8 || !bytes.HasPrefix(proto, []byte("HTTP/")) || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return errMalformed
	}
	r.major, r.minor = int(proto[5]-'0'), int(proto[7]-'0')
	for _, c := range r.target {
		if c <= ' ' || c == 0x7f || c == '#' {
			return requestError("invalid character in the request-target")
		}
	}
	target := r.target
	switch {
	case target[0] == '/':
	case len(target) == 1 && target[0] == '*':
		r.path = target
		return nil
	default:
		scheme, rest, ok := bytes.Cut(target, []byte("://"))
		if !ok || !(equalFold(scheme, "http") || equalFold(scheme, "https") || equalFold(scheme, "ws") || equalFold(scheme, "wss")) {
			return requestError("request-target must be a path (/ws) or an absolute http, https, ws or wss URI")
		}
		authority := rest
		if i := bytes.IndexAny(rest, "/?"); i >= 0 {
			authority = rest[:i]
		}
		if len(authority) == 0 || bytes.IndexByte(authority, '@') >= 0 {
			// RFC 9110 section 4.2.4: userinfo is an error.
			return requestError("request-target needs an authority without userinfo")
		}
		if !validHost(authority) {
			// It stands in for Host (RFC 9112 section 3.2.2): the same rule.
			return requestError("invalid authority in the request-target")
		}
		r.absolute = true
		target = rest[len(authority):]
	}
	r.path = target
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.path, r.query = target[:q], target[q:]
	}
	if len(r.path) == 0 {
		r.path = rootPath // http://host and http://host?q mean "/" (RFC 9110 section 4.2.3)
	}
	return nil
}

var rootPath = []byte("/")

// validHost reports whether a Host value (or an absolute-form target's
// authority, which stands in for it) has none of the characters that cannot
// appear in a uri-host[:port] or that would split it.
func validHost(v []byte) bool { return !bytes.ContainsAny(v, " \t,/?#@\\") }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (r *request) header(name, value []byte) error {
	switch {
	case equalFold(name, "host"):
		if r.hostSeen {
			return requestError("Host appears more than once (RFC 9112 section 3.2)")
		}
		if !validHost(value) {
			return requestError("invalid Host value")
		}
		r.host, r.hostSeen = value, true
	case equalFold(name, "upgrade"):
		return r.upgrade.addOr(value, "Upgrade")
	case equalFold(name, "connection"):
		return r.connection.addOr(value, "Connection")
	case equalFold(name, "sec-websocket-extensions"):
		return r.extensions.addOr(value, "Sec-WebSocket-Extensions")
	case equalFold(name, "sec-websocket-protocol"):
		return r.protocols.addOr(value, "Sec-WebSocket-Protocol")
	case equalFold(name, "sec-websocket-key"):
		if r.keyLines == 0 {
			r.key = value
		}
		r.keyLines++
	case equalFold(name, "sec-websocket-version"):
		if r.versionLines == 0 {
			r.version = value
		}
		r.versionLines++
	case equalFold(name, "origin"):
		if r.originLines == 0 {
			r.origin, r.originSeen = value, true
		}
		r.originLines++
	case equalFold(name, "x-real-ip"):
		r.realIP = value
	case equalFold(name, "x-forwarded-for"):
		if r.nForwarded == maxForwardedHeaders {
			return requestError("too many X-Forwarded-For lines")
		}
		r.forwarded[r.nForwarded] = value
		r.nForwarded++
	}
	return nil
}

func (f *fieldLines) addOr(value []byte, name string) error {
	if !f.add(value) {
		return requestError("too many " + name + " lines")
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

// appendUpgradeHead appends the request head gobwas/ws is given to write the
// 101: one line per field it reads, each list joined into one line and
// Upgrade and Connection already checked. gobwas/ws checks raw lines by its
// own rules (Upgrade must be exactly "websocket", one line per field); it
// must only see what this parser has validated.
func (r *request) appendUpgradeHead(dst []byte) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, r.path...)
	dst = append(dst, r.query...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, r.host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	dst = append(dst, r.key...)
	dst = append(dst, "\r\n"...)
	dst = appendListLine(dst, "Sec-WebSocket-Extensions: ", &r.extensions)
	dst = appendListLine(dst, "Sec-WebSocket-Protocol: ", &r.protocols)
	return append(dst, "\r\n"...)
}

// appendListLine appends "Name: a, b\r\n", or nothing when the list has no
// element.
func appendListLine(dst []byte, name string, f *fieldLines) []byte {
	n := len(dst)
	dst = append(dst, name...)
	m := len(dst)
	if dst = f.appendList(dst); len(dst) == m {
		return dst[:n]
	}
	return append(dst, "\r\n"...)
}
