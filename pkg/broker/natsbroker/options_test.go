package natsbroker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/xh-control/gateway/pkg/broker"
)

func TestOptionsYAML(t *testing.T) {
	const doc = `
url: [nats://a:4222, nats://b:4222]
embedded: true
token: s3cret
tls: {cert_file: c.pem, key_file: k.pem, ca_file: ca.pem}
creds_file: n.creds
prefix: gw2
reconnect_wait: 250ms
presence_ttl: 30s
replicas: 3
server: {host: 0.0.0.0, port: 4222, store_dir: /var/lib/gw/nats}
cluster:
  name: gateways
  port: 6222
  routes: [nats-route://b:6222, nats-route://c:6222]
`
	var o Options
	if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
		t.Fatal(err)
	}
	o.Name = "gw1"
	want := Options{
		URLs: []string{"nats://a:4222", "nats://b:4222"}, Embedded: true, Token: "s3cret",
		TLS:       TLSOptions{CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem"},
		CredsFile: "n.creds", Prefix: "gw2", ReconnectWait: 250 * time.Millisecond,
		PresenceTTL: 30 * time.Second, Replicas: 3, Name: "gw1",
		Server:  ServerOptions{Host: "0.0.0.0", Port: 4222, StoreDir: "/var/lib/gw/nats"},
		Cluster: ClusterOptions{Name: "gateways", Port: 6222, Routes: []string{"nats-route://b:6222", "nats-route://c:6222"}},
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
	e := o.EmbeddedOptions()
	if e.ServerName != "gw1" || !e.JetStream || e.ClusterPort != 6222 || len(e.Routes) != 2 || e.StoreDir != "/var/lib/gw/nats" {
		t.Fatalf("%+v", e)
	}
	if r := o.Redacted(); r.Token != "REDACTED" || o.Token != "s3cret" {
		t.Fatalf("redacted %q, original %q", r.Token, o.Token)
	}
}

func TestStartEmbeddedErrors(t *testing.T) {
	if _, _, err := StartEmbedded(EmbeddedOptions{Port: -1, JetStream: true}); err == nil {
		t.Fatal("JetStream without a store directory started")
	}
	for _, r := range []string{"::bad::", "nats-route://", "nats-route://host", "http://h:1", "h:6222"} {
		if _, _, err := StartEmbedded(EmbeddedOptions{Port: -1, ClusterPort: -1, Routes: []string{r}}); !errors.Is(err, ErrBadRoute) {
			t.Fatalf("route %q: %v", r, err)
		}
	}
}

// Token and user/password authentication reach the server; a wrong token
// leaves the node unhealthy and its calls unavailable.
func TestAuth(t *testing.T) {
	port := freePort(t)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, Authorization: "tok", NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	good, _ := newEngine(t, s.ClientURL(), "good", func(o *Options) { o.Token = "tok" })
	waitHealthy(t, good)
	bad, _ := newEngine(t, s.ClientURL(), "bad", func(o *Options) { o.Token = "nope" })
	time.Sleep(200 * time.Millisecond)
	if bad.Healthy() {
		t.Fatal("wrong token connected")
	}
	if err := bad.PublishControl(context.Background(), []byte("x"), ""); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("%v", err)
	}

	s2, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Username: "u", Password: "p", NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s2.Start()
	t.Cleanup(s2.Shutdown)
	if !s2.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	up, _ := newEngine(t, s2.ClientURL(), "up", func(o *Options) { o.User, o.Password = "u", "p" })
	waitHealthy(t, up)
}

// TestRedactURL: credentials in a NATS URL's user info never survive
// Redacted, and the original options keep them.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":          "nats://127.0.0.1:4222",
		"nats://u:s3cret@127.0.0.1:4222": "nats://u:REDACTED@127.0.0.1:4222",
		"nats://s3cret@127.0.0.1:4222":   "nats://REDACTED@127.0.0.1:4222",
		"nats://u:s3cret@h:4222/%zz":     "REDACTED",
		"127.0.0.1:4222":                 "127.0.0.1:4222",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	o := Options{URLs: []string{"nats://u:s3cret@a:4222", "nats://b:4222"}}
	r := o.Redacted()
	if strings.Join(r.URLs, " ") != "nats://u:REDACTED@a:4222 nats://b:4222" || o.URLs[0] != "nats://u:s3cret@a:4222" {
		t.Fatalf("redacted %q, original %q", r.URLs, o.URLs)
	}
}
