// Package session holds what the gateway knows about each upgraded
// connection: its identity, its serialized write queue, its place in the
// registry and its heartbeat. It knows nothing about sockets: the poller
// hands each session a Transport, and handlers see only Session and Hub.
//
// # Writing
//
// Any goroutine may Send to a session. Frames go into the session's bounded
// queue, and exactly one goroutine at a time drains it: the one that found
// the queue idle. Draining batches every queued frame into one non-blocking
// writev. When the socket's send buffer is full, the rest is handed to a
// goroutine that waits for the socket; only sessions whose peer is not
// reading fast enough ever have such a goroutine, and the write deadline
// bounds how long it lives. Senders never block on a slow peer.
//
// # Heartbeat
//
// One Tick per Hub, driven by the poller's single ticker, pings idle
// sessions, closes those that stay silent past the idle timeout, and enforces
// the write and close deadlines. There is no timer per session.
package session
