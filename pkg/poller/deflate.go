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

// The gateway always answers with no context takeover either way, so that
// compressors and decompressors are pooled per message and an idle
// connection holds no compression state (a flate writer is about 640 KiB).
// A server may demand client_no_context_takeover even when the client did
// not offer it (RFC 7692 section 7.1.1.2).
//
// deflateNegotiator picks the first permessage-deflate offer, in the
// client's order of preference, that has valid parameters. It is gobwas/ws's
// Negotiate callback for one handshake.
type deflateNegotiator struct {
	accepted   bool
	windowBits uint8 // server_max_window_bits the client asked for, or 0
}

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
	response := wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	if p.ServerMaxWindowBits.Defined() {
		// The client limits our window; the compressor honours any size
		// from 8 to 15 bits, and the response confirms it (section 7.1.2.1).
		response.ServerMaxWindowBits = p.ServerMaxWindowBits
		n.windowBits = uint8(p.ServerMaxWindowBits)
	}
	n.accepted = true
	return response.Option(), nil
}
