// Package conformance checks the gateway against RFC 6455 and RFC 7692 the
// way the Autobahn testsuite does: its cases are grouped like Autobahn's
// sections 1 to 7, 9, 10, 12 and 13 (framing, pings, reserved bits,
// opcodes, fragmentation, UTF-8, close handling, limits, auto-fragmentation
// and compression), plus the handshake and masking rules. Every case opens a
// fresh connection to the real gateway binary, sends raw frames (so that it
// can send what no client library would), and checks what comes back: the
// echoed messages, the pongs, the close code and that the server ends the
// TCP connection.
//
// The client side is written here from the RFCs, independently of the
// gateway's codec: it frames, masks, fragments and compresses (with the
// standard library's compress/flate) by itself.
//
//	go test ./test/conformance -v
package conformance
