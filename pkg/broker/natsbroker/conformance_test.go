package natsbroker

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker/brokertest"
)

// TestConformance runs the shared suite against engines on one in-process
// nats-server (JetStream on, file store in a temp dir); NewNode makes a
// second engine on the same server, a second gateway node.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite's TTL cases take about a minute with whole-second TTLs")
	}
	_, url := runServer(t, t.TempDir(), 0)
	var n atomic.Int64
	var node func(t *testing.T) brokertest.Engines
	node = func(t *testing.T) brokertest.Engines {
		id := "node-" + strconv.FormatInt(n.Add(1), 10)
		b, err := New(Options{URLs: []string{url}, Name: id, RequestTimeout: 10 * time.Second, // the suite reads 8000 publications under -race
			PresenceTTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close(t.Context()) })
		return brokertest.Engines{
			Broker: b, Presence: b, NodeID: id, NewNode: node,
			// JetStream message TTLs (the meta TTL) count whole seconds.
			TTLUnit: time.Second,
		}
	}
	brokertest.Run(t, node)
}
