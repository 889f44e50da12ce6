// Package cluster tests the gateway as a cluster end to end with real
// processes: a nats-server (or the gateways' embedded NATS servers), three
// gateway processes built once from ./cmd/gateway, nginx in front with the
// three as upstreams, and centrifuge-go SDK clients connecting through
// nginx. The tests skip with a message when nginx or nats-server is missing
// and fail instead when CI is set.
//
// nats-server is found at $NATS_SERVER, on PATH, or at
// ~/.cache/gateway-tools/nats-server; .ci/run builds it there from the
// version go.mod pins:
//
//	go build -o ~/.cache/gateway-tools/nats-server github.com/nats-io/nats-server/v2
package cluster
