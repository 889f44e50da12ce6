// Package codec turns WebSocket (RFC 6455) bytes into messages and messages
// into bytes. It performs no I/O: a Parser consumes whatever bytes the caller
// happens to have, in any split, and the Append functions write server frames
// into caller-owned buffers.
//
// Everything a peer can get wrong is reported as a *ProtocolError that
// carries the close code the connection must be failed with (1002, 1007,
// 1009), so that callers never have to map errors to codes themselves.
//
// The hot path (header parsing, unmasking, UTF-8 validation, frame writing)
// does not allocate; see the benchmarks next to each file.
package codec
