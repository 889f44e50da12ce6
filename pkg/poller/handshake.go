package poller

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudwego/netpoll"
	"github.com/gobwas/ws"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/session"
)

// readHandshake moves buffered bytes into the connection's head buffer until
// the request head is complete, then answers it. It never waits for bytes:
// a client that sends its head slowly costs a buffer, not a worker, and the
// server's ticker closes it at the handshake deadline.
func (c *conn) readHandshake(r netpoll.Reader) {
	if c.queuedInput() {
		return
	}
	limit := c.srv.opts.MaxHeaderBytes
	if c.head == nil {
		c.head = getBuffer(0)
	}
	have := len(*c.head)
	take := min(r.Len(), limit+1-have) // one byte over the limit proves the overflow
	b, err := r.Next(take)
	if err != nil {
		return
	}
	*c.head = append(*c.head, b...)
	r.Release()
	end := headEnd(*c.head, have-3)
	if end < 0 || end > limit { // a head that ends in the byte over the limit is over it
		if len(*c.head) > limit {
			c.reject(nil, RejectHeaderTooLarge, http.StatusRequestHeaderFieldsTooLarge, "", "request head larger than "+strconv.Itoa(limit)+" bytes")
		}
		return
	}
	c.answer((*c.head)[:end], (*c.head)[end:])
}

// answer routes a complete request head: a WebSocket upgrade on the
// configured path, a page, or an HTTP error with the status that says what
// is wrong. early holds bytes the client sent after the head (its first
// frames); they are parsed once the connection is upgraded.
func (c *conn) answer(head, early []byte) {
	srv := c.srv
	var req request
	if err := parseRequest(head, &req); err != nil {
		c.reject(nil, RejectMalformed, http.StatusBadRequest, "", err.Error())
		return
	}
	isUpgrade := req.upgrade.hasToken("websocket")
	epIndex, ep := srv.endpoint(req.path)
	switch {
	case string(req.method) != http.MethodGet && !(string(req.method) == http.MethodHead && !isUpgrade):
		c.reject(&req, RejectMethod, http.StatusMethodNotAllowed, "Allow: GET\r\n", "only GET is allowed")
	case ep == nil:
		if page, ok := srv.opts.Pages[string(req.path)]; ok && !isUpgrade {
			c.servePage(&req, page)
			return
		}
		c.reject(&req, RejectNotFound, http.StatusNotFound, "", "no WebSocket endpoint at "+string(req.path)+"; use "+srv.paths())
	case !isUpgrade:
		c.reject(&req, RejectNotUpgrade, http.StatusUpgradeRequired,
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
			"this endpoint speaks WebSocket only: send Upgrade: websocket")
	case req.major != 1:
		// 505 is about the major version (RFC 9110 section 15.6.6).
		c.reject(&req, RejectMalformed, http.StatusHTTPVersionNotSupported, "", "HTTP/"+strconv.Itoa(req.major)+" is not supported; WebSocket needs HTTP/1.1")
	case req.minor < 1:
		c.reject(&req, RejectMalformed, http.StatusBadRequest, "", "WebSocket needs HTTP/1.1 or later (RFC 6455 section 4.1); this request is HTTP/1."+strconv.Itoa(req.minor))
	case !req.hostSeen:
		c.reject(&req, RejectBadHandshake, http.StatusBadRequest, "", "missing Host header")
	case !req.connection.hasToken("upgrade"):
		c.reject(&req, RejectBadHandshake, http.StatusBadRequest, "", "Connection header must include Upgrade")
	case req.keyLines > 1:
		c.reject(&req, RejectBadKey, http.StatusBadRequest, "", "Sec-WebSocket-Key appears "+strconv.Itoa(req.keyLines)+" times; RFC 6455 section 11.3.1 allows one")
	case req.versionLines > 1:
		c.reject(&req, RejectBadVersion, http.StatusBadRequest, "", "Sec-WebSocket-Version appears "+strconv.Itoa(req.versionLines)+" times in a request; send it once")
	case req.originLines > 1:
		c.reject(&req, RejectBadHandshake, http.StatusBadRequest, "", "Origin appears "+strconv.Itoa(req.originLines)+" times; RFC 6454 section 7.3 allows one")
	case len(req.version) == 0:
		c.reject(&req, RejectBadVersion, http.StatusBadRequest, "", "missing Sec-WebSocket-Version")
	case string(req.version) != "13":
		c.reject(&req, RejectBadVersion, http.StatusUpgradeRequired, "Sec-WebSocket-Version: 13\r\n", "unsupported WebSocket version; this server speaks 13")
	case !validKey(req.key):
		c.reject(&req, RejectBadKey, http.StatusBadRequest, "", "Sec-WebSocket-Key must be 16 base64-encoded bytes")
	case !srv.origins.Load().Allow(req.origin, req.originSeen, req.host):
		c.reject(&req, RejectOrigin, http.StatusForbidden, "", originRefusal(&req))
	case srv.draining.Load():
		c.reject(&req, RejectUnavailable, http.StatusServiceUnavailable, "Retry-After: 5\r\n", "server is shutting down")
	case srv.opts.MaxConnections > 0 && srv.hub.Count() >= srv.opts.MaxConnections:
		c.reject(&req, RejectUnavailable, http.StatusServiceUnavailable, "Retry-After: 5\r\n", "server is at its connection limit")
	default:
		c.admitAndUpgrade(&req, uint8(epIndex), ep, early)
	}
}

// upgrade completes the handshake with gobwas/ws, which is given the head
// the request validated by answer comes down to (request.appendUpgradeHead),
// not the raw one: gobwas/ws would check the raw lines by other rules. Its
// own buffered reader must not see the first frames either.
func (c *conn) upgrade(req *request, epIndex uint8, ep *Endpoint, early []byte) {
	srv := c.srv
	norm := getBuffer(256)
	defer putBuffer(norm)
	*norm = req.appendUpgradeHead((*norm)[:0])
	head := *norm
	resp := getBuffer(256)
	defer putBuffer(resp)
	out := bytes.NewBuffer(*resp)
	u := srv.upgrader
	var deflate deflateNegotiator
	if srv.opts.Compression.Enabled {
		u.Negotiate = deflate.negotiate
	}
	var subprotocol uint8
	if len(ep.Subprotocols) > 0 {
		u.Protocol = ep.selectSubprotocol(&subprotocol)
	}
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), out})
	if err != nil {
		c.rejectWith(req, RejectBadHandshake, out.Bytes(), err.Error())
		return
	}
	srv.unlistHandshake(c)
	clientIP := srv.proxies.Load().clientIP(c.remote.Addr(), req)
	c.deflate = deflate.accepted
	if subprotocol == 0 && ep.QuerySubprotocol != nil {
		subprotocol = ep.QuerySubprotocol(bytes.TrimPrefix(req.query, []byte("?")))
	}
	info := session.Info{Remote: c.remote, ClientIP: clientIP, Compression: deflate.accepted,
		DeflateWindowBits: deflate.windowBits, Endpoint: epIndex, Subprotocol: subprotocol}
	c.sess = srv.hub.Open(c, info, out.Bytes())
	if !c.state.CompareAndSwap(connHandshake, connOpen) {
		// Closed while the response was written (a write failed, or a
		// queued connection's peer left): the close callback may not
		// have seen the session. TransportClosed runs once.
		c.sess.TransportClosed("connection closed")
		return
	}
	srv.stats.Upgraded.Inc()
	srv.stats.HandshakeLatency.ObserveDuration(time.Duration(time.Now().UnixNano() - c.acceptedAt))
	if ce := srv.log.Check(zap.DebugLevel, "session opened"); ce != nil {
		ce.Write(zap.Stringer("session", c.sess.ID()), zap.Stringer("ip", clientIP),
			zap.Stringer("remote", c.remote), zap.ByteString("origin", req.origin), zap.Bool("deflate", deflate.accepted))
	}
	c.sess.Start()
	if len(ep.KeepHeaders) > 0 && ep.OnHeaders != nil && c.head != nil {
		ep.OnHeaders(c.sess, keptHeaders(*c.head, ep.KeepHeaders)) // the raw head: head is normalized
	}
	if len(early) > 0 && c.state.Load() == connOpen {
		c.sess.BeginDispatch()
		c.feed(early)
		c.sess.EndDispatch()
	}
	if c.head != nil {
		putBuffer(c.head) // early bytes were delivered; handlers copied what they keep
		c.head = nil
	}
}

// servePage answers a plain GET for one of the configured pages.
func (c *conn) servePage(req *request, p Page) {
	c.srv.stats.PagesSent.Inc()
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + p.ContentType +
		"\r\nContent-Length: " + strconv.Itoa(len(p.Body)) +
		"\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
	body := p.Body
	if string(req.method) == http.MethodHead {
		body = nil
	}
	c.finishHTTP([]byte(head), body)
}

// reject answers with an HTTP error and logs why. req is nil when the
// request could not be parsed.
func (c *conn) reject(req *request, reason RejectReason, status int, headers, msg string) {
	body := msg + "\n"
	head := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\n" + headers + "Connection: close\r\n\r\n"
	c.rejectWith(req, reason, []byte(head+body), msg)
}

func (c *conn) rejectWith(req *request, reason RejectReason, response []byte, msg string) {
	srv := c.srv
	srv.stats.Rejections[reason].Inc()
	ip := c.remote.Addr()
	if req != nil {
		ip = srv.proxies.Load().clientIP(ip, req)
	}
	fields := []zap.Field{zap.String("reason", reason.String()), zap.String("detail", msg),
		zap.Stringer("ip", ip), zap.Stringer("remote", c.remote)}
	if req != nil {
		fields = append(fields, zap.ByteString("path", req.path))
		if req.originSeen {
			fields = append(fields, zap.ByteString("origin", req.origin))
		}
	}
	srv.log.Info("handshake rejected", fields...)
	c.finishHTTP(response, nil)
}

// finishHTTP sends a final HTTP response and half-closes: the connection
// stays open (input discarded) until the client closes it or the handshake
// deadline passes, so that the client reads the response rather than a
// reset.
func (c *conn) finishHTTP(head, body []byte) {
	c.state.Store(connRejected)
	// Responses are small and the socket fresh, so netpoll's Flush writes
	// them at once; it only waits if a client asks for a page and never
	// reads it, and the handshake deadline ends that.
	if c.flushWait([][]byte{head, body}) == nil {
		c.CloseWrite()
	}
}

// expire closes a connection whose handshake did not finish in time. The
// server's ticker calls it; the reader may be running, so it only closes.
func (c *conn) expire() {
	if c.state.Load() == connHandshake {
		c.srv.stats.Rejections[RejectTimeout].Inc()
		c.srv.log.Info("handshake rejected", zap.String("reason", RejectTimeout.String()),
			zap.Stringer("remote", c.remote), zap.Duration("handshake_timeout", c.srv.opts.HandshakeTimeout))
	}
	c.nc.Close()
}

// Page is a static resource served over plain HTTP on the WebSocket port,
// such as the demo page.
type Page struct {
	ContentType string
	Body        []byte
}

// defaultUpgrader answers the handshake; the checks gobwas/ws would make
// have already been made, with precise statuses, by answer.
var defaultUpgrader = ws.Upgrader{}

type wsUpgrader = ws.Upgrader

// originRefusal says which origin was refused, so that the log line and the
// client's 403 name it.
func originRefusal(req *request) string {
	if !req.originSeen {
		return "a request without an Origin header is not allowed here"
	}
	return "origin " + strconv.Quote(string(req.origin)) + " is not allowed"
}
