// Package natsbroker is the NATS engine of package broker: publications
// travel between nodes over core NATS subjects, history lives in one
// JetStream stream, presence in a JetStream key-value bucket, and the
// control plane uses plain subjects. It implements broker.Broker and
// broker.PresenceManager and passes package brokertest's suite, its
// two-node cases with two engines on one nats-server.
//
// Where the schemes are described: subjects in subject.go, history (offsets,
// epochs, bounds and why concurrent publishers on several nodes never make
// a gap or a duplicate offset) in history.go, the per-node publish stripes
// in tail.go, presence in presence.go, the embedded server in embedded.go.
//
// # Faults
//
// New does not wait for NATS: the connection retries in the background
// (forever by default). While it is down Healthy is false, and Publish,
// PublishJoin/Leave/Control, History, RemoveHistory and every presence call
// return broker.ErrUnavailable at once (nats.go's reconnect buffer is off,
// so nothing is queued to be sent late). While it is up but JetStream
// cannot answer (no quorum), calls that need JetStream return
// ErrUnavailable after Options.RequestTimeout. Subscriptions made while
// disconnected are made when the connection returns; nats.go restores all
// subscriptions after a reconnect.
//
// # What survives what
//
//   - A gateway node restart or crash: everything in NATS survives
//     (history, positions, epochs, idempotency keys, other nodes' presence);
//     the node's own presence entries expire within PresenceTTL unless it
//     adds them again.
//   - A NATS server restart with file storage (the default) on the same
//     store directory: history, positions, epochs, presence entries (until
//     their TTL) and idempotency keys survive. Publications refused during
//     the outage were refused with ErrUnavailable; a publication without
//     history handed to the socket just before the connection broke can be
//     lost (core NATS is at most once; with history the stream's
//     acknowledgement is awaited, so a Publish that returned a position is
//     stored).
//   - The same with Options.MemoryStorage: history is lost; the next
//     Publish or History starts a new epoch, so clients holding old
//     positions are told that recovery is impossible.
//   - One server of a three-server cluster with Options.Replicas = 3:
//     everything survives and keeps working (JetStream elects new leaders);
//     with Replicas = 1 the stream is unavailable while its server is down.
//   - Losing the stream (deleted, purged, store lost): a new epoch.
//
// # Settings shared by all nodes
//
// The stream and buckets are created, or updated, by the first call of any
// node, from its Options: PresenceTTL, IdempotencyWindow, Replicas and
// MemoryStorage must be the same on every node, or the last node to start
// sets them.
package natsbroker
