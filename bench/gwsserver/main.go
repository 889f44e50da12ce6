// Command gwsserver is the strongest peer the gateway is measured against:
// github.com/lxzan/gws in its default server mode (gws.NewServer, one
// goroutine per connection running gws's ReadLoop, writes under the
// connection's own lock), doing what bench/run.sh asks of every server:
// echo each data message back, or with -mode broadcast send it to every
// connection, encoded once with gws.Broadcaster as gws's documentation
// recommends.
//
// It stays out of the gateway's import graph: nothing imports this package.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"runtime"

	"github.com/lxzan/gws"
)

// handler implements gws.Event for the echo and broadcast modes.
type handler struct {
	gws.BuiltinEventHandler
	broadcast bool
	conns     *gws.ConcurrentMap[*gws.Conn, struct{}]
}

func (h *handler) OnOpen(c *gws.Conn) { h.conns.Store(c, struct{}{}) }

func (h *handler) OnClose(c *gws.Conn, _ error) { h.conns.Delete(c) }

func (h *handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if !h.broadcast {
		_ = c.WriteMessage(m.Opcode, m.Bytes())
		return
	}
	b := gws.NewBroadcaster(m.Opcode, m.Bytes())
	defer b.Close()
	h.conns.Range(func(peer *gws.Conn, _ struct{}) bool {
		_ = b.Broadcast(peer)
		return true
	})
}

func main() {
	listen := flag.String("listen", ":8080", "address for WebSocket clients (every path upgrades)")
	mode := flag.String("mode", "echo", "echo, or broadcast (every message to every connection)")
	metrics := flag.String("metrics", "", "address serving go_goroutines in Prometheus text format, for the load tool")
	flag.Parse()
	if *mode != "echo" && *mode != "broadcast" {
		log.Fatalf("-mode %q: want echo or broadcast", *mode)
	}
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
		})
		go func() { log.Fatal(http.ListenAndServe(*metrics, mux)) }()
	}
	h := &handler{broadcast: *mode == "broadcast", conns: gws.NewConcurrentMap[*gws.Conn, struct{}](64)}
	srv := gws.NewServer(h, nil) // nil: gws's defaults, its "default server mode"
	log.Printf("gws %s server listening on %s", *mode, *listen)
	log.Fatal(srv.Run(*listen))
}
