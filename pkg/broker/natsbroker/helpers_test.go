package natsbroker

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/xh-control/gateway/pkg/broker"
)

// runServer starts an in-process NATS server with JetStream on a free port
// and a store under dir.
func runServer(t testing.TB, dir string, port int) (*server.Server, string) {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	s, url, err := StartEmbedded(EmbeddedOptions{Port: port, StoreDir: dir, JetStream: true, ServerName: "s" + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, url
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newEngine returns a running engine named name connected to url.
func newEngine(t testing.TB, url, name string, mod ...func(*Options)) (*Broker, *recorder) {
	t.Helper()
	o := Options{URLs: []string{url}, Name: name, RequestTimeout: 2 * time.Second, ReconnectWait: 100 * time.Millisecond, ReconnectJitter: time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if err := b.Run(rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b, rec
}

// event is one delivery seen by a recorder.
type event struct {
	kind    string // pub, join, leave, control
	channel string
	pub     *broker.Publication
	sp      broker.StreamPosition
	info    *broker.ClientInfo
	data    []byte
}

// recorder is an EventHandler that records every delivery.
type recorder struct {
	mu     sync.Mutex
	events []event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition) {
	r.add(event{kind: "pub", channel: ch, pub: pub, sp: sp})
}
func (r *recorder) HandleJoin(ch string, info *broker.ClientInfo) {
	r.add(event{kind: "join", channel: ch, info: info})
}
func (r *recorder) HandleLeave(ch string, info *broker.ClientInfo) {
	r.add(event{kind: "leave", channel: ch, info: info})
}
func (r *recorder) HandleControl(data []byte) { r.add(event{kind: "control", data: data}) }

// wait returns the first n events, failing after 5s.
func (r *recorder) wait(t testing.TB, n int) []event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			ev := append([]event(nil), r.events[:n]...)
			r.mu.Unlock()
			return ev
		}
		have := len(r.events)
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("got %d events, want %d", have, n)
		}
	}
}

// settle waits d and returns everything recorded.
func (r *recorder) settle(d time.Duration) []event {
	time.Sleep(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var histOpts = broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
