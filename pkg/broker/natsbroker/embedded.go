package natsbroker

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure a NATS server run inside the gateway process
// (nats.embedded: true). Three gateways whose embedded servers name each
// other in Routes form one NATS cluster, and with JetStream a JetStream
// cluster, so that the history stream and presence bucket can be
// replicated (Options.Replicas = 3) with nothing else installed.
type EmbeddedOptions struct {
	Host      string // client listener; default 127.0.0.1
	Port      int    // client port; 0 takes 4222, -1 a free port
	StoreDir  string // JetStream file store; required with JetStream
	JetStream bool
	// ServerName must be unique in a cluster; JetStream clusters require it.
	ServerName string
	// ClusterName, ClusterHost and ClusterPort open the route listener when
	// ClusterPort is not 0 (-1 picks a free port); Routes are the other
	// servers' route URLs (nats-route://host:port).
	ClusterName string
	ClusterHost string
	ClusterPort int
	Routes      []string
	// ReadyTimeout bounds the wait for the listeners; default 10s.
	ReadyTimeout time.Duration
}

// ErrBadRoute: a route URL that is not nats-route://host:port.
var ErrBadRoute = errors.New("natsbroker: bad route URL")

// ErrEmbeddedNotReady: the embedded server did not accept connections within
// EmbeddedOptions.ReadyTimeout.
var ErrEmbeddedNotReady = errors.New("natsbroker: embedded NATS server not ready for connections")

// StartEmbedded starts a NATS server in this process, the way nats-server's
// own tests do (server.NewServer, Start, ReadyForConnections), and returns it
// with the URL clients connect to. The caller stops it with Shutdown (then
// WaitForShutdown) after closing the engines using it.
func StartEmbedded(o EmbeddedOptions) (*server.Server, string, error) {
	opts := &server.Options{
		Host:       o.Host,
		Port:       o.Port,
		ServerName: o.ServerName,
		JetStream:  o.JetStream,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = server.DEFAULT_PORT
	}
	if o.JetStream && o.StoreDir == "" {
		return nil, "", errors.New("natsbroker: embedded JetStream needs a store directory")
	}
	if o.ClusterPort != 0 {
		opts.Cluster.Name = o.ClusterName
		opts.Cluster.Host = o.ClusterHost
		opts.Cluster.Port = o.ClusterPort
		if opts.Cluster.Host == "" {
			opts.Cluster.Host = "0.0.0.0"
		}
		for _, r := range o.Routes {
			// nats-server takes a route without a host and panics later.
			u, err := url.Parse(r)
			if err != nil || u.Hostname() == "" || u.Port() == "" || (u.Scheme != "nats-route" && u.Scheme != "nats") {
				return nil, "", fmt.Errorf("%w: %q (want nats-route://host:port)", ErrBadRoute, r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, "", fmt.Errorf("natsbroker: embedded NATS server: %w", err)
	}
	s.Start()
	wait := o.ReadyTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		return nil, "", ErrEmbeddedNotReady
	}
	return s, s.ClientURL(), nil
}
