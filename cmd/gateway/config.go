package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/serverapi"
	"github.com/xh-control/gateway/pkg/session"
)

// Config is every option of the gateway. Each field's yaml tag is its key
// in the configuration file; the same path, upper-cased with dots and dashes
// as underscores and prefixed with GATEWAY_, is its environment variable,
// and with dots and dashes as its flag name. The help tag is what -h says.
// A field tagged secret:"true" (a token, a key, an HMAC secret) is never
// printed: -print-config, logs and errors show it as redactedValue.
type Config struct {
	Listen          string        `yaml:"listen" help:"TCP address for WebSocket clients (and the demo page)"`
	Path            string        `yaml:"path" help:"URL path of the WebSocket endpoint"`
	Handler         string        `yaml:"handler" help:"application: echo (send every message back) or broadcast (send every message to everyone)"`
	NodeID          int           `yaml:"node_id" help:"0-65535, the top 16 bits of every session ID; unique per node of a cluster"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" help:"on SIGTERM, how long to wait for clients to answer close 1001 before cutting them off"`

	Log       LogConfig       `yaml:"log"`
	Handshake HandshakeConfig `yaml:"handshake"`
	Origins   OriginsConfig   `yaml:"origins"`
	Proxies   []string        `yaml:"trusted_proxies" help:"CIDRs or addresses of proxies whose X-Forwarded-For and X-Real-IP are believed (comma-separated)"`
	Limits    LimitsConfig    `yaml:"limits"`
	Shutdown  ShutdownConfig  `yaml:"shutdown"`
	Compress  CompressConfig  `yaml:"compression"`
	Session   SessionConfig   `yaml:"session"`
	Workers   WorkersConfig   `yaml:"workers"`
	Netpoll   NetpollConfig   `yaml:"netpoll"`
	Admin     AdminConfig     `yaml:"admin"`
	API       APIConfig       `yaml:"api"`
	Channels  ChannelsConfig  `yaml:"channels"`
	Broker    string          `yaml:"broker" help:"where channels live: memory (one node, nothing external) or nats (a cluster through NATS: nats.*)"`
	NATS      NATSConfig      `yaml:"nats"`
}

type AdminConfig struct {
	Listen string `yaml:"listen" help:"address of the admin listener (health, readiness, metrics, push API); empty disables it"`
	Token  string `yaml:"token" secret:"true" help:"bearer token of the push API; empty disables the push API (prefer GATEWAY_ADMIN_TOKEN to a file)"`
	Pprof  bool   `yaml:"pprof" help:"serve /debug/pprof/ on the admin listener"`
}

type LogConfig struct {
	Level  string `yaml:"level" help:"debug, info, warn or error; reloaded on SIGHUP"`
	Format string `yaml:"format" help:"json, console, or auto (console when stdout is a terminal)"`
}

type HandshakeConfig struct {
	Timeout        time.Duration `yaml:"timeout" help:"time from accept to a complete request head"`
	MaxHeaderBytes ByteSize      `yaml:"max_header_bytes" help:"largest request head; larger ones get 431"`
}

type OriginsConfig struct {
	Allowed         []string `yaml:"allowed" help:"browser origins allowed to connect: https://app.example.com, *.example.com, or * (comma-separated); reloaded on SIGHUP"`
	AllowMissing    bool     `yaml:"allow_missing" help:"allow clients that send no Origin header (non-browser clients)"`
	AllowSameOrigin bool     `yaml:"allow_same_origin" help:"allow pages served from the gateway's own host name"`
}

type LimitsConfig struct {
	MaxMessageSize ByteSize `yaml:"max_message_size" help:"largest message a client may send; larger ones close the session with 1009"`
	MaxConnections int      `yaml:"max_connections" help:"sessions at most; further handshakes get 503 (0: no limit)"`
	// Admission (pkg/poller/admission.go).
	MaxConnectionsPerIP int           `yaml:"max_connections_per_ip" help:"connections at most from one client IP (after trusted_proxies); further handshakes get 429 (0: no limit)"`
	HandshakeRate       int           `yaml:"handshake_rate" help:"WebSocket upgrades per second at most, so that a reconnect storm is admitted at a steady rate (0: no limit)"`
	HandshakeBurst      int           `yaml:"handshake_burst" help:"upgrades allowed at once after a quiet period, with handshake_rate"`
	HandshakeQueue      time.Duration `yaml:"handshake_queue" help:"longest wait for an upgrade slot; handshakes that would wait longer get 503 with a jittered Retry-After"`
}

type ShutdownConfig struct {
	Spread time.Duration `yaml:"spread" help:"on SIGTERM, spread the sessions' closes evenly over this long, so that their reconnects do not hit the other nodes at once (0: all at once; must be shorter than shutdown_timeout)"`
}

type CompressConfig struct {
	Enabled bool     `yaml:"enabled" help:"negotiate permessage-deflate (RFC 7692) with clients that offer it"`
	Level   int      `yaml:"level" help:"flate level, 1 (fastest) to 9 (smallest)"`
	MinSize ByteSize `yaml:"min_size" help:"messages smaller than this are sent uncompressed"`
}

type SessionConfig struct {
	QueueMaxBytes    ByteSize      `yaml:"queue_max_bytes" help:"write queue limit per session, in bytes"`
	QueueMaxMessages int           `yaml:"queue_max_messages" help:"write queue limit per session, in messages"`
	SlowConsumer     string        `yaml:"slow_consumer" help:"when a queue is full: close (with 1008) or drop (the newest message)"`
	WriteTimeout     time.Duration `yaml:"write_timeout" help:"close a session whose client does not read for this long"`
	PingInterval     time.Duration `yaml:"ping_interval" help:"ping sessions that sent nothing for this long"`
	IdleTimeout      time.Duration `yaml:"idle_timeout" help:"close sessions that sent nothing (not even a pong) for this long"`
	CloseTimeout     time.Duration `yaml:"close_timeout" help:"how long to wait for the client's answer to a close frame"`
}

type WorkersConfig struct {
	Max         int           `yaml:"max" help:"handler goroutines at most (0: 64 per CPU)"`
	IdleTimeout time.Duration `yaml:"idle_timeout" help:"idle handler goroutines exit after this long"`
}

type NetpollConfig struct {
	BufferSize ByteSize `yaml:"buffer_size" help:"initial read buffer per connection; the main cost of an idle connection"`
	Pollers    int      `yaml:"pollers" help:"epoll loops (0: one per 4 CPUs, at least 1)"`
}

// validate reports every invalid option at once.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := checkAddr(c.Listen); err != nil {
		bad("listen: %v", err)
	}
	if c.Admin.Listen != "" {
		if err := checkAddr(c.Admin.Listen); err != nil {
			bad("admin.listen: %v (empty disables the admin listener)", err)
		} else if sameListener(c.Listen, c.Admin.Listen) {
			bad("admin.listen %q: the same address as listen %q; give each its own port", c.Admin.Listen, c.Listen)
		}
	}
	if !strings.HasPrefix(c.Path, "/") {
		bad("path %q: must start with /", c.Path)
	}
	if c.Channels.Enabled && c.Path == c.Channels.Path {
		bad("path %q: the same as channels.path; the raw endpoint and the channel protocol each need their own path", c.Path)
	}
	for _, o := range options(c) {
		if o.secret && o.val.String() == redactedValue {
			bad("%s: %q is what -print-config writes in place of a secret, not a secret; set the real value (%s)", o.key, redactedValue, o.env)
		}
	}
	if _, ok := handler.ByName(c.Handler); !ok {
		bad("handler %q: want one of %s", c.Handler, strings.Join(handler.Names, ", "))
	}
	if c.NodeID < 0 || c.NodeID > 0xFFFF {
		bad("node_id %d: want 0 to 65535", c.NodeID)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level: %v", err)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format %q: want auto, json or console", c.Log.Format)
	}
	if _, _, err := accessPolicies(c); err != nil {
		bad("%v", err)
	}
	if _, err := session.ParsePolicy(c.Session.SlowConsumer); err != nil {
		bad("session.slow_consumer: %v", err)
	}
	for name, d := range map[string]time.Duration{
		"shutdown_timeout": c.ShutdownTimeout, "handshake.timeout": c.Handshake.Timeout,
		"session.write_timeout": c.Session.WriteTimeout, "session.ping_interval": c.Session.PingInterval,
		"session.idle_timeout": c.Session.IdleTimeout, "session.close_timeout": c.Session.CloseTimeout,
		"workers.idle_timeout": c.Workers.IdleTimeout,
	} {
		if d <= 0 {
			bad("%s %v: must be positive", name, d)
		}
	}
	if c.Session.IdleTimeout <= c.Session.PingInterval {
		bad("session.idle_timeout (%v) must be longer than session.ping_interval (%v), or live clients are closed before they can answer a ping",
			c.Session.IdleTimeout, c.Session.PingInterval)
	}
	for name, n := range map[string]int64{
		"handshake.max_header_bytes": int64(c.Handshake.MaxHeaderBytes), "limits.max_message_size": int64(c.Limits.MaxMessageSize),
		"session.queue_max_bytes": int64(c.Session.QueueMaxBytes), "session.queue_max_messages": int64(c.Session.QueueMaxMessages),
		"netpoll.buffer_size": int64(c.Netpoll.BufferSize),
	} {
		if n <= 0 {
			bad("%s %d: must be positive", name, n)
		}
	}
	if err := (serverapi.Options{ErrorMode: c.API.ErrorMode}).Check(); err != nil {
		bad("api.error_mode: %v", err)
	}
	if c.Compress.Level < 1 || c.Compress.Level > 9 {
		bad("compression.level %d: want 1 to 9", c.Compress.Level)
	}
	if c.Limits.MaxConnections < 0 || c.Workers.Max < 0 || c.Netpoll.Pollers < 0 {
		bad("limits.max_connections, workers.max and netpoll.pollers must not be negative")
	}
	if err := c.Channels.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Limits.MaxConnectionsPerIP < 0 || c.Limits.HandshakeRate < 0 || c.Limits.HandshakeQueue < 0 {
		bad("limits.max_connections_per_ip, limits.handshake_rate and limits.handshake_queue must not be negative")
	}
	if c.Limits.HandshakeRate > 0 && c.Limits.HandshakeBurst < 1 {
		bad("limits.handshake_burst %d: must be at least 1 when limits.handshake_rate is set", c.Limits.HandshakeBurst)
	}
	if c.Limits.HandshakeRate > 0 && c.Limits.HandshakeQueue >= c.Handshake.Timeout {
		bad("limits.handshake_queue %v: must be shorter than handshake.timeout (%v), which also bounds a queued handshake",
			c.Limits.HandshakeQueue, c.Handshake.Timeout)
	}
	if c.Shutdown.Spread < 0 || c.Shutdown.Spread >= c.ShutdownTimeout {
		bad("shutdown.spread %v: want 0 or more, and shorter than shutdown_timeout (%v), which bounds the whole shutdown",
			c.Shutdown.Spread, c.ShutdownTimeout)
	}
	if err := c.validateBroker(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkAddr checks a TCP listen address the way net.Listen will read it:
// host:port, the host empty, an IP address or a name, the port a number
// from 0 to 65535 or a service name.
func checkAddr(addr string) error {
	want := fmt.Sprintf("%q: want host:port, such as :8080 or 127.0.0.1:8080", addr)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(want)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("%s (port %d is out of range)", want, n)
		}
	} else if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return fmt.Errorf("%s (unknown port %q)", want, port)
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil && host != "" {
		for _, c := range host {
			if !(c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return fmt.Errorf("%s (host %q is neither an IP address nor a name)", want, host)
			}
		}
	}
	return nil
}

// sameListener reports whether two listen addresses would take the same
// port: the same port on the same host, or on a wildcard host that covers
// the other ("" and "::" every address, 0.0.0.0 the IPv4 ones).
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	covers := func(w, h string) bool {
		ip := net.ParseIP(h)
		return w == "" || w == "::" || (w == "0.0.0.0" && (h == "" || ip != nil && ip.To4() != nil))
	}
	return ha == hb || covers(ha, hb) || covers(hb, ha)
}
