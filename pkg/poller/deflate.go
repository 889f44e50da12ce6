package poller

import (
	"bytes"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// CompressionOptions configure permessage-deflate (RFC 7692).
type CompressionOptions struct {
	// Enabled offers compression to clients that ask for it.
	Enabled bool
	// Level is the flate level, 1 (fastest, default) to 9 (smallest).
	Level int
	// MinSize is the smallest message the server compresses; smaller ones
	// are not worth the CPU. Default 512 bytes.
	MinSize int
}

// deflateResponse is the only answer the gateway gives: no context takeover
// either way, so that compressors and decompressors are pooled per message
// and an idle connection holds no compression state (a flate writer is
// about 640 KiB). A server may demand client_no_context_takeover even when
// the client did not offer it (RFC 7692 section 7.1.1.2).
var deflateResponse = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()

// deflateNegotiator picks the first permessage-deflate offer the server can
// honour, in the client's order of preference. It is gobwas/ws's Negotiate
// callback for one handshake.
type deflateNegotiator struct{ accepted bool }

func (n *deflateNegotiator) negotiate(offer httphead.Option) (httphead.Option, error) {
	if n.accepted || !bytes.Equal(offer.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, nil
	}
	var p wsflate.Parameters
	if err := p.Parse(offer); err != nil {
		// Unknown, duplicate or invalid parameters: decline this offer
		// (section 5), which is not a reason to fail the handshake.
		return httphead.Option{}, nil
	}
	if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits < 15 {
		// Go's flate always uses a 32 KiB window; we cannot promise a
		// smaller one, so this offer is declined (section 7.1.2.1).
		return httphead.Option{}, nil
	}
	n.accepted = true
	return deflateResponse, nil
}
