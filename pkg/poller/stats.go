package poller

import "github.com/xh-control/gateway/internal/metric"

// RejectReason classifies refused handshakes, for logs and metrics.
type RejectReason uint8

// Reasons a handshake is refused, with the HTTP status each answers.
const (
	RejectMalformed      RejectReason = iota // 400: not a valid HTTP request
	RejectHeaderTooLarge                     // 431: request head over the limit
	RejectMethod                             // 405: not a GET
	RejectNotFound                           // 404: no WebSocket or page at this path
	RejectNotUpgrade                         // 426: a plain HTTP request for the WebSocket path
	RejectBadVersion                         // 426: Sec-WebSocket-Version is not 13
	RejectBadKey                             // 400: missing or malformed Sec-WebSocket-Key
	RejectBadHandshake                       // 400: other handshake header errors
	RejectOrigin                             // 403: origin not allowed
	RejectUnavailable                        // 503: draining or at the connection limit
	RejectTimeout                            // 408: request head not complete in time
	RejectIPLimit                            // 429: the client IP is at its connection limit
	RejectHandshakeRate                      // 503: the handshake pacer's queue is full
	numRejectReasons
)

var rejectLabels = [numRejectReasons]string{
	"malformed", "header_too_large", "method", "not_found", "not_upgrade",
	"bad_version", "bad_key", "bad_handshake", "origin", "unavailable", "timeout",
	"ip_limit", "handshake_rate",
}

func (r RejectReason) String() string { return rejectLabels[r] }

// Stats are the poller's counters.
type Stats struct {
	Accepted   metric.Counter // TCP connections accepted
	Refused    metric.Counter // connections refused while draining
	Upgraded   metric.Counter // handshakes that succeeded
	PagesSent  metric.Counter // plain HTTP pages served
	Rejections [numRejectReasons]metric.Counter
	Panics     metric.Counter // handler panics recovered
	// ReadPauses counts the times reading a connection stopped: its
	// replies outran its socket, or its input outran the parser.
	ReadPauses metric.Counter
	// HandshakeLatency is the time from accept to the 101 response.
	HandshakeLatency *metric.Histogram
}

// EachRejection calls fn with each reason's label and count.
func (s *Stats) EachRejection(fn func(reason string, n uint64)) {
	for i := range s.Rejections {
		fn(rejectLabels[i], s.Rejections[i].Load())
	}
}
