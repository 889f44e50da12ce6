package natsbroker

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Options configure the NATS engine. The yaml tags are the keys under the
// gateway's `nats:` section (nats.url, nats.embedded, nats.cluster.routes,
// ...). Zero values take the defaults named on each field.
type Options struct {
	// URLs are the NATS servers to connect to (nats.url, a list); empty
	// takes nats://127.0.0.1:4222, or the embedded server's URL.
	URLs []string `yaml:"url"`

	// TLS client settings; files in PEM. CAFile alone verifies the server;
	// CertFile with KeyFile adds a client certificate.
	TLS TLSOptions `yaml:"tls"`
	// CredsFile is a NATS credentials file (user JWT and NKey seed).
	CredsFile string `yaml:"creds_file"`
	// Token, or User with Password, authenticate without a creds file.
	Token    string `yaml:"token"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`

	// Name is this node's ID: the NATS connection name and the target of
	// PublishControl(data, Name). Required.
	Name string `yaml:"-"`
	// Prefix starts every subject and names the JetStream stream and
	// bucket; default "gateway". Letters, digits, '-' and '_' only, so
	// that gateways sharing one NATS can be kept apart.
	Prefix string `yaml:"prefix"`

	// ConnectTimeout bounds one dial; default 2s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReconnectWait is the pause between reconnect rounds (nats.go adds
	// ReconnectJitter); defaults 1s and 200ms.
	ReconnectWait   time.Duration `yaml:"reconnect_wait"`
	ReconnectJitter time.Duration `yaml:"reconnect_jitter"`
	// MaxReconnects bounds reconnect attempts per server; 0 takes -1,
	// which reconnects forever.
	MaxReconnects int `yaml:"max_reconnects"`
	// RequestTimeout bounds every JetStream request (history, presence,
	// publish with history); default 2s. A call that cannot finish in
	// time returns broker.ErrUnavailable.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// PresenceTTL is how long a presence entry lives after its last
	// AddPresence; default 60s. The node must refresh its clients'
	// entries more often than this.
	PresenceTTL time.Duration `yaml:"presence_ttl"`
	// HistoryMetaTTL is the default for PublishOptions.HistoryMetaTTL;
	// default 720h.
	HistoryMetaTTL time.Duration `yaml:"history_meta_ttl"`
	// IdempotencyWindow is the stream's duplicate window, the longest
	// PublishOptions.IdempotentResultTTL honoured; default 5m.
	IdempotencyWindow time.Duration `yaml:"idempotency_window"`
	// Replicas is the JetStream replica count of the history stream and
	// the presence bucket (3 in a three-server cluster); default 1.
	Replicas int `yaml:"replicas"`
	// MemoryStorage keeps history and presence in memory instead of files
	// (lost when every replica's server restarts).
	MemoryStorage bool `yaml:"memory_storage"`

	// Embedded runs a NATS server inside the process (see StartEmbedded);
	// read by the caller, not by New.
	Embedded bool `yaml:"embedded"`
	// Server configures the embedded server.
	Server ServerOptions `yaml:"server"`
	// Cluster configures the embedded server's cluster.
	Cluster ClusterOptions `yaml:"cluster"`

	// Logger receives connection events; nil logs nothing.
	Logger *zap.Logger `yaml:"-"`
}

// TLSOptions are TLS files for the NATS connection (nats.tls.*).
type TLSOptions struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

// ServerOptions configure the embedded server's client listener and store
// (nats.server.*).
type ServerOptions struct {
	Host     string `yaml:"host"`      // default 127.0.0.1
	Port     int    `yaml:"port"`      // default 4222; -1 picks a free port
	StoreDir string `yaml:"store_dir"` // JetStream files; required with JetStream
	Name     string `yaml:"name"`      // server name, unique in a cluster; default the node ID
}

// ClusterOptions configure the embedded server's routes (nats.cluster.*).
type ClusterOptions struct {
	Name   string   `yaml:"name"`   // cluster name, the same on every server
	Host   string   `yaml:"host"`   // route listener; default 0.0.0.0
	Port   int      `yaml:"port"`   // route listener port; 0: no cluster
	Routes []string `yaml:"routes"` // nats-route://host:port of the other servers
}

// EmbeddedOptions returns the embedded server's options from o, with
// JetStream on.
func (o *Options) EmbeddedOptions() EmbeddedOptions {
	name := o.Server.Name
	if name == "" {
		name = o.Name
	}
	return EmbeddedOptions{
		Host: o.Server.Host, Port: o.Server.Port, StoreDir: o.Server.StoreDir,
		JetStream: true, ServerName: name,
		ClusterName: o.Cluster.Name, ClusterHost: o.Cluster.Host,
		ClusterPort: o.Cluster.Port, Routes: o.Cluster.Routes,
	}
}

// Errors from New for options it cannot use.
var (
	ErrNoName    = errors.New("natsbroker: Options.Name (the node ID) is required")
	ErrBadPrefix = errors.New("natsbroker: Options.Prefix may hold only letters, digits, '-' and '_'")
)

func (o *Options) setDefaults() error {
	if o.Name == "" {
		return ErrNoName
	}
	if o.Prefix == "" {
		o.Prefix = "gateway"
	}
	if strings.Trim(o.Prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("%w: %q", ErrBadPrefix, o.Prefix)
	}
	if len(o.URLs) == 0 {
		o.URLs = []string{"nats://127.0.0.1:4222"}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, 2*time.Second)
	def(&o.ReconnectWait, time.Second)
	def(&o.ReconnectJitter, 200*time.Millisecond)
	def(&o.RequestTimeout, 2*time.Second)
	def(&o.PresenceTTL, 60*time.Second)
	def(&o.HistoryMetaTTL, 720*time.Hour)
	def(&o.IdempotencyWindow, 5*time.Minute)
	if o.MaxReconnects == 0 {
		o.MaxReconnects = -1
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return nil
}

// Redacted returns a copy of o with the token, the password and the
// credentials in the URLs replaced, for printing the configuration.
func (o Options) Redacted() Options {
	if len(o.URLs) > 0 {
		urls := make([]string, len(o.URLs))
		for i, u := range o.URLs {
			urls[i] = RedactURL(u)
		}
		o.URLs = urls
	}
	if o.Token != "" {
		o.Token = "REDACTED"
	}
	if o.Password != "" {
		o.Password = "REDACTED"
	}
	return o
}

// RedactURL hides the credentials in a NATS URL's user info: the password of
// nats://user:password@host, or the token of nats://token@host, reads
// REDACTED. A URL without user info comes back unchanged; one that does not
// parse but has an '@' comes back as REDACTED.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "REDACTED"
		}
		return s
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	} else {
		u.User = url.User("REDACTED")
	}
	return u.String()
}
