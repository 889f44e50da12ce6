package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/broker/natsbroker"
	"github.com/xh-control/gateway/pkg/cluster"
)

// NATSConfig selects and configures the NATS engine (broker: nats): the
// keys are natsbroker.Options' yaml keys, with help texts, and the token
// and password tagged secret.
type NATSConfig struct {
	URL               []string          `yaml:"url" help:"NATS servers (comma-separated nats://host:port); empty: nats://127.0.0.1:4222, or the embedded server"`
	CredsFile         string            `yaml:"creds_file" help:"NATS credentials file (user JWT and NKey seed)"`
	Token             Secret            `yaml:"token" secret:"true" help:"NATS token (prefer GATEWAY_NATS_TOKEN; never printed)"`
	User              string            `yaml:"user" help:"NATS user (with nats.password)"`
	Password          Secret            `yaml:"password" secret:"true" help:"NATS password (prefer GATEWAY_NATS_PASSWORD; never printed)"`
	TLS               NATSTLSConfig     `yaml:"tls"`
	Prefix            string            `yaml:"prefix" help:"first token of every subject and name of the JetStream stream and bucket; the same on every node of one cluster"`
	ConnectTimeout    time.Duration     `yaml:"connect_timeout" help:"bound of one dial to NATS"`
	ReconnectWait     time.Duration     `yaml:"reconnect_wait" help:"pause between reconnect rounds (plus jitter)"`
	RequestTimeout    time.Duration     `yaml:"request_timeout" help:"bound of every JetStream request (history, presence, publish with history); past it the call fails with 108"`
	PresenceTTL       time.Duration     `yaml:"presence_ttl" help:"life of a presence entry after its last refresh; longer than channels.client.presence_update_interval; the same on every node"`
	Replicas          int               `yaml:"replicas" help:"JetStream replicas of history and presence (3 in a three-server cluster); the same on every node"`
	MemoryStorage     bool              `yaml:"memory_storage" help:"keep history and presence in NATS memory instead of files (lost when the NATS servers restart)"`
	HeartbeatInterval time.Duration     `yaml:"heartbeat_interval" help:"period of node heartbeats (server API info and channels); a node is forgotten after 3 missed beats"`
	ReadyRequiresNATS bool              `yaml:"ready_requires_nats" help:"/readyz answers 503 while NATS is unreachable (false: 200 with status degraded)"`
	Embedded          bool              `yaml:"embedded" help:"run a NATS server (with JetStream) inside the gateway; nats.server.* and nats.cluster.* configure it"`
	Server            NATSServerConfig  `yaml:"server"`
	Cluster           NATSClusterConfig `yaml:"cluster"`
}

type NATSTLSConfig struct {
	CertFile string `yaml:"cert_file" help:"PEM client certificate for NATS (with nats.tls.key_file)"`
	KeyFile  string `yaml:"key_file" help:"PEM key of the client certificate"`
	CAFile   string `yaml:"ca_file" help:"PEM CA that verifies the NATS servers"`
}

type NATSServerConfig struct {
	Host     string `yaml:"host" help:"embedded server: client listener host"`
	Port     int    `yaml:"port" help:"embedded server: client port (-1 picks a free one)"`
	StoreDir string `yaml:"store_dir" help:"embedded server: JetStream file store directory (required with nats.embedded)"`
	Name     string `yaml:"name" help:"embedded server: name, unique in a cluster (empty: gateway-<node_id>)"`
}

type NATSClusterConfig struct {
	Name   string   `yaml:"name" help:"embedded server: cluster name, the same on every server"`
	Host   string   `yaml:"host" help:"embedded server: route listener host"`
	Port   int      `yaml:"port" help:"embedded server: route listener port (0: no cluster)"`
	Routes []string `yaml:"routes" help:"embedded server: the other servers' routes (comma-separated nats-route://host:port)"`
}

func (c *Config) validateBroker() error {
	var errs []error
	switch c.Broker {
	case "memory":
	case "nats":
		n := &c.NATS
		if n.Embedded && n.Server.StoreDir == "" && !n.MemoryStorage {
			errs = append(errs, errors.New("nats.server.store_dir: required with nats.embedded (JetStream files), or set nats.memory_storage"))
		}
		if n.Embedded && n.Cluster.Port != 0 && n.Cluster.Name == "" {
			errs = append(errs, errors.New("nats.cluster.name: required with nats.cluster.port"))
		}
		if pui := c.Channels.Client.PresenceUpdateInterval; n.PresenceTTL > 0 && pui > 0 && n.PresenceTTL <= pui {
			errs = append(errs, fmt.Errorf("nats.presence_ttl (%v) must be longer than channels.client.presence_update_interval (%v), or live clients vanish from presence", n.PresenceTTL, pui))
		}
		if n.Replicas < 0 {
			errs = append(errs, fmt.Errorf("nats.replicas %d: must not be negative", n.Replicas))
		}
	default:
		errs = append(errs, fmt.Errorf("broker %q: want memory or nats", c.Broker))
	}
	return errors.Join(errs...)
}

// natsOptions maps the configuration to the engine's options.
func (c *Config) natsOptions(log *zap.Logger) natsbroker.Options {
	n := &c.NATS
	name := n.Server.Name
	if name == "" {
		name = fmt.Sprintf("gateway-%d", c.NodeID)
	}
	return natsbroker.Options{
		URLs: n.URL, CredsFile: n.CredsFile, Token: string(n.Token), User: n.User, Password: string(n.Password),
		TLS:  natsbroker.TLSOptions{CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile, CAFile: n.TLS.CAFile},
		Name: nodeControlID(c), Prefix: n.Prefix, ConnectTimeout: n.ConnectTimeout, ReconnectWait: n.ReconnectWait,
		RequestTimeout: n.RequestTimeout, PresenceTTL: n.PresenceTTL, Replicas: n.Replicas, MemoryStorage: n.MemoryStorage,
		Embedded: n.Embedded,
		Server:   natsbroker.ServerOptions{Host: n.Server.Host, Port: n.Server.Port, StoreDir: n.Server.StoreDir, Name: name},
		Cluster:  natsbroker.ClusterOptions{Name: n.Cluster.Name, Host: n.Cluster.Host, Port: n.Cluster.Port, Routes: n.Cluster.Routes},
		Logger:   log,
	}
}

// nodeControlID is the node's ID on the control plane (PublishControl's
// nodeID): the decimal node_id, which is also the 16-bit prefix of its
// session IDs.
func nodeControlID(c *Config) string { return fmt.Sprint(c.NodeID) }

// engine is the broker the channel node runs on, with what stopping it
// takes and what the admin listener reports about it.
type engine struct {
	name     string
	b        broker.Broker
	presence broker.PresenceManager
	healthy  func() bool // nil: always
	embedded *server.Server
	cl       *cluster.Cluster

	publishFailures prometheus.Counter
}

// startEngine builds the configured broker (and the embedded NATS server).
func startEngine(cfg *Config, log *zap.Logger) (*engine, error) {
	if cfg.Broker != "nats" {
		mem := broker.NewMemory(broker.MemoryOptions{NodeID: nodeControlID(cfg)})
		log.Info("broker: memory (one node, nothing external)")
		return &engine{name: "memory", b: mem, presence: mem}, nil
	}
	e := &engine{name: "nats", publishFailures: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gateway_nats_publish_failures_total", Help: "publications the NATS engine refused or failed (the client or API got an error)"})}
	o := cfg.natsOptions(log.Named("nats"))
	if o.Embedded {
		s, url, err := natsbroker.StartEmbedded(o.EmbeddedOptions())
		if err != nil {
			return nil, fmt.Errorf("nats.embedded: %w", err)
		}
		e.embedded = s
		if len(o.URLs) == 0 {
			o.URLs = []string{url}
		}
		log.Info("embedded NATS server started", zap.String("url", url), zap.String("server_name", o.EmbeddedOptions().ServerName),
			zap.Int("cluster_port", o.Cluster.Port), zap.Strings("routes", o.Cluster.Routes))
	}
	// Say at once what start-up waits for (up to the connect timeout).
	log.Info("broker: nats, connecting", zap.Strings("url", o.Redacted().URLs), zap.Duration("wait_at_most", o.ConnectTimeout))
	nb, err := natsbroker.New(o)
	if err != nil {
		e.stopEmbedded()
		return nil, fmt.Errorf("nats: %w", err)
	}
	e.healthy = nb.Healthy
	e.presence = nb
	e.cl = cluster.New(nb, nodeControlID(cfg), cfg.NATS.HeartbeatInterval)
	e.cl.OnPublishError = func(error) { e.publishFailures.Inc() }
	e.b = e.cl
	// New does not wait for NATS; give it a moment so that the log says
	// whether it is there.
	deadline := time.Now().Add(o.ConnectTimeout + 500*time.Millisecond)
	if o.ConnectTimeout == 0 {
		deadline = time.Now().Add(2500 * time.Millisecond)
	}
	for !nb.Healthy() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	red := o.Redacted()
	if nb.Healthy() {
		log.Info("broker: nats, connected", zap.Strings("url", red.URLs), zap.String("node", o.Name), zap.Bool("embedded", o.Embedded))
	} else {
		log.Warn("broker: nats, NATS NOT reachable: serving local clients, readiness degraded, reconnecting in the background",
			zap.Strings("url", red.URLs), zap.String("node", o.Name), zap.String("status", nb.Status()))
	}
	return e, nil
}

func (e *engine) stopEmbedded() {
	if e.embedded != nil {
		e.embedded.Shutdown()
		e.embedded.WaitForShutdown()
	}
}

func (e *engine) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e.b.Close(ctx)
	e.stopEmbedded()
}

// collectors are the engine's metrics: NATS connected and publish failures.
func (e *engine) collectors() []prometheus.Collector {
	if e == nil || e.healthy == nil {
		return nil
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_nats_connected", Help: "1 while the NATS connection is up"},
			func() float64 {
				if e.healthy() {
					return 1
				}
				return 0
			}),
		e.publishFailures,
	}
}

// withReadiness answers GET /readyz itself while NATS is down: 503 when
// nats.ready_requires_nats, else the admin handler's answer is kept and a
// X-Gateway-Degraded header says why. Everything else goes to next.
func withReadiness(next http.Handler, e *engine, requireNATS bool) http.Handler {
	if e == nil || e.healthy == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || e.healthy() {
			next.ServeHTTP(w, r)
			return
		}
		if requireNATS {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"not ready","detail":"NATS unreachable (nats.ready_requires_nats)","nats":false}`+"\n")
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		w.Header().Set("X-Gateway-Degraded", "NATS unreachable")
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder rewrites a 200 readiness body into a degraded one.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 || s.code == http.StatusOK {
		// {"status":"ready",...} becomes {"status":"degraded",...}
		q := strings.Replace(string(p), `"status":"ready"`, `"status":"degraded","detail":"NATS unreachable","nats":false`, 1)
		_, err := s.ResponseWriter.Write([]byte(q))
		return len(p), err
	}
	return s.ResponseWriter.Write(p)
}
