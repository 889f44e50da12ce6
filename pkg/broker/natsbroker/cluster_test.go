package natsbroker

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/xh-control/gateway/pkg/broker"
)

// Three embedded servers form one NATS cluster with JetStream (R3
// history and presence); one engine per server. A publication made on A
// reaches the subscriber on C, history reads the same from B, presence
// counts all.
func TestEmbeddedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server JetStream cluster takes seconds to elect")
	}
	dir := t.TempDir()
	const n = 3
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
	}
	urls := make([]string, n)
	servers := make([]*server.Server, n)
	for i := 0; i < n; i++ {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		o := Options{Name: fmt.Sprintf("gw%d", i)}
		o.Server = ServerOptions{Host: "127.0.0.1", Port: -1, StoreDir: filepath.Join(dir, o.Name)}
		o.Cluster = ClusterOptions{Name: "gateways", Host: "127.0.0.1", Port: routePorts[i], Routes: routes}
		s, url, err := StartEmbedded(o.EmbeddedOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers[i], urls[i] = s, url
	}
	engines := make([]*Broker, n)
	recs := make([]*recorder, n)
	for i := range engines {
		engines[i], recs[i] = newEngine(t, urls[i], fmt.Sprintf("gw%d", i), func(o *Options) {
			o.Replicas = 3
			o.RequestTimeout = 5 * time.Second
		})
	}
	a, b, c := engines[0], engines[1], engines[2]
	// The JetStream meta group needs a leader before the stream can be
	// made with three replicas.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := a.CheckJetStream(ctx(t))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream cluster: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.Subscribe("news"); err != nil {
		t.Fatal(err)
	}
	// Interest travels over the routes; wait until A's server knows it.
	for !hasInterest(servers[0], "gateway.ch."+token("news")) {
		if time.Now().After(deadline) {
			t.Fatal("interest did not reach server A")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last broker.StreamPosition
	for i := 1; i <= 3; i++ {
		sp, err := a.Publish(ctx(t), "news", []byte(fmt.Sprint(i)), histOpts)
		if err != nil || sp.Offset != uint64(i) {
			t.Fatalf("publish %d on A: %+v %v", i, sp, err)
		}
		last = sp
	}
	for i, e := range recs[2].wait(t, 3) {
		if e.pub.Offset != uint64(i+1) || string(e.pub.Data) != fmt.Sprint(i+1) || e.sp.Epoch != last.Epoch {
			t.Fatalf("C delivery %d: %+v %+v", i, e.pub, e.sp)
		}
	}
	pubs, sp, err := b.History(ctx(t), "news", broker.HistoryOptions{Limit: -1})
	if err != nil || sp != last || !equal(offsets(pubs), seq(1, 3)) {
		t.Fatalf("history on B: %v %+v %v", offsets(pubs), sp, err)
	}
	// Concurrent publishers on B and C continue the sequence.
	done := make(chan error, 2)
	for _, e := range []*Broker{b, c} {
		go func() {
			for i := 0; i < 10; i++ {
				if _, err := e.Publish(ctx(t), "news", []byte("x"), histOpts); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	pubs, sp, err = a.History(ctx(t), "news", broker.HistoryOptions{Limit: -1})
	if err != nil || sp.Offset != 23 || sp.Epoch != last.Epoch || !equal(offsets(pubs), seq(1, 23)) {
		t.Fatalf("history on A: %v %+v %v", offsets(pubs), sp, err)
	}
	for i, e := range recs[2].wait(t, 23) {
		if e.pub.Offset != uint64(i+1) {
			t.Fatalf("C delivery %d has offset %d", i, e.pub.Offset)
		}
	}
	for i, e := range engines {
		if err := e.AddPresence(ctx(t), "news", &broker.ClientInfo{ClientID: fmt.Sprint("c", i), UserID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := b.PresenceStats(ctx(t), "news"); err != nil || st != (broker.PresenceStats{NumClients: 3, NumUsers: 1}) {
		t.Fatalf("presence stats: %+v %v", st, err)
	}
	// Control to one node across servers.
	if err := a.PublishControl(ctx(t), []byte("hi c"), "gw2"); err != nil {
		t.Fatal(err)
	}
	waitControl(t, recs[2], "hi c")
}

func hasInterest(s *server.Server, subject string) bool {
	return s.GlobalAccount().Interest(subject) > 0
}

func waitControl(t *testing.T, r *recorder, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range r.settle(20 * time.Millisecond) {
			if e.kind == "control" && string(e.data) == want {
				return
			}
		}
	}
	t.Fatalf("control %q not delivered", want)
}
