package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/serverapi"
)

var _ serverapi.Node = (*channels.Node)(nil)

// ChannelsConfig is the channel protocol (Centrifugo client protocol v2),
// with Centrifugo's option names: client.* for connections and tokens,
// channel.* for names and namespaces.
type ChannelsConfig struct {
	Enabled bool          `yaml:"enabled" help:"serve the channel protocol (Centrifugo client protocol v2) beside the raw endpoint"`
	Path    string        `yaml:"path" help:"URL path of the channel protocol endpoint (the SDKs' default is /connection/websocket)"`
	Client  ClientConfig  `yaml:"client"`
	Channel ChannelConfig `yaml:"channel"`
	Proxy   ProxiesConfig `yaml:"proxy"`
}

type ClientConfig struct {
	AllowAnonymousConnectWithoutToken bool          `yaml:"allow_anonymous_connect_without_token" help:"let clients connect without a token, as anonymous users"`
	PingInterval                      time.Duration `yaml:"ping_interval" help:"protocol ping interval (whole seconds on the wire)"`
	PongTimeout                       time.Duration `yaml:"pong_timeout" help:"close with 3012 when no pong arrives this long after a ping; shorter than ping_interval"`
	StaleCloseDelay                   time.Duration `yaml:"stale_close_delay" help:"close with 3502 connections that did not connect within this time"`
	ExpiredCloseDelay                 time.Duration `yaml:"expired_close_delay" help:"close with 3005 connections this long past their token expiry without a refresh"`
	ExpiredSubCloseDelay              time.Duration `yaml:"expired_sub_close_delay" help:"unsubscribe (2501) subscriptions this long past their token expiry without a refresh"`
	ChannelLimit                      int           `yaml:"channel_limit" help:"channels one connection may subscribe to (error 106 past it)"`
	HistoryMaxPublicationLimit        int           `yaml:"history_max_publication_limit" help:"most publications one history call returns"`
	RecoveryMaxPublicationLimit       int           `yaml:"recovery_max_publication_limit" help:"most publications one recovery returns"`
	PresenceUpdateInterval            time.Duration `yaml:"presence_update_interval" help:"how often presence entries are refreshed"`
	Token                             TokenConfig   `yaml:"token"`
	CommandRate                       int           `yaml:"command_rate" help:"commands per second one connection may send (token bucket; 0: no limit)"`
	CommandRateBurst                  int           `yaml:"command_rate_burst" help:"commands one connection may send at once after a quiet period (default: command_rate)"`
	CommandRateAction                 string        `yaml:"command_rate_action" help:"past the command rate: error (answer 111 too many requests) or disconnect (close 3013)"`
	UserConnectionLimit               int           `yaml:"user_connection_limit" help:"connections one user ID may hold on this node; past it close 3504 (0: no limit)"`
	MaxPublishSize                    int           `yaml:"max_publish_size" help:"largest publish data in bytes; past it error 107 (0: no limit)"`
	MaxRPCSize                        int           `yaml:"max_rpc_size" help:"largest rpc data in bytes; past it error 107 (0: no limit)"`
	MaxConnectDataSize                int           `yaml:"max_connect_data_size" help:"largest connect data in bytes; past it close 3501 (0: no limit)"`
	MaxProxyCalls                     int           `yaml:"max_proxy_calls" help:"backend calls in flight per connection; past it error 111"`
}

type TokenConfig struct {
	HMACSecretKey      Secret        `yaml:"hmac_secret_key" secret:"true" help:"HS256/384/512 key of connection and subscription tokens (prefer GATEWAY_CHANNELS_CLIENT_TOKEN_HMAC_SECRET_KEY; never printed)"`
	RSAPublicKey       string        `yaml:"rsa_public_key" help:"PEM public key for RS256/384/512 tokens"`
	ECDSAPublicKey     string        `yaml:"ecdsa_public_key" help:"PEM public key for ES256/384/512 tokens"`
	JWKSPublicEndpoint string        `yaml:"jwks_public_endpoint" help:"JWKS URL; when set, the only source of keys"`
	JWKSCacheTTL       time.Duration `yaml:"jwks_cache_ttl" help:"how long fetched JWKS keys are used"`
	Audience           string        `yaml:"audience" help:"required aud claim (checked only when set)"`
	Issuer             string        `yaml:"issuer" help:"required iss claim (checked only when set)"`
	UserIDClaim        string        `yaml:"user_id_claim" help:"claim holding the user ID (dotted path; empty: sub)"`
}

type ChannelConfig struct {
	MaxLength int `yaml:"max_length" help:"longest channel name in bytes (error 107 past it)"`
	// Namespaces are set in YAML only (no env or flag).
	WithoutNamespace namespace.Options     `yaml:"without_namespace" opt:"-"`
	Namespaces       []namespace.Namespace `yaml:"namespaces" opt:"-"`
}

// Secret is a string option that -print-config and logs never show.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redactedValue
}

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalText sets the secret from an environment variable or flag.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

func (c *ChannelsConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, fmt.Errorf("channels.path %q: must start with /", c.Path))
	}
	if c.Client.PingInterval > 0 && c.Client.PongTimeout >= c.Client.PingInterval {
		errs = append(errs, fmt.Errorf("channels.client.pong_timeout (%v) must be shorter than ping_interval (%v)", c.Client.PongTimeout, c.Client.PingInterval))
	}
	if err := c.Client.validateLimits(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Proxy.build(); err != nil {
		errs = append(errs, err)
	}
	if _, err := namespace.New(c.namespaces()); err != nil {
		errs = append(errs, fmt.Errorf("channels.channel: %w", err))
	}
	return errors.Join(errs...)
}

func (c *ChannelsConfig) namespaces() namespace.Config {
	return namespace.Config{WithoutNamespace: c.Channel.WithoutNamespace, Namespaces: c.Channel.Namespaces, MaxLength: c.Channel.MaxLength}
}

func (c *ChannelsConfig) tokensConfigured() bool {
	t := c.Client.Token
	return t.HMACSecretKey != "" || t.RSAPublicKey != "" || t.ECDSAPublicKey != "" || t.JWKSPublicEndpoint != ""
}

// channelsRuntime is the channel protocol's parts, for start and stop.
type channelsRuntime struct {
	node     *channels.Node
	engine   *engine
	verifier *auth.Verifier
}

// startChannels builds the node and its endpoint, or returns nil when the
// protocol is disabled.
func startChannels(cfg *Config, log *zap.Logger) (*channelsRuntime, *poller.Endpoint, error) {
	c := &cfg.Channels
	if !c.Enabled {
		return nil, nil, nil
	}
	rules, err := namespace.New(c.namespaces())
	if err != nil {
		return nil, nil, err
	}
	eng, err := startEngine(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	rt := &channelsRuntime{engine: eng}
	var tokens channels.TokenVerifier
	if c.tokensConfigured() {
		t := c.Client.Token
		rt.verifier, err = auth.NewVerifier(auth.Config{
			HMACSecret: string(t.HMACSecretKey), RSAPublicKeyPEM: t.RSAPublicKey, ECDSAPublicKeyPEM: t.ECDSAPublicKey,
			JWKSURL: t.JWKSPublicEndpoint, JWKSCacheTTL: t.JWKSCacheTTL, Audience: t.Audience, Issuer: t.Issuer, UserIDClaim: t.UserIDClaim,
		}, log.Named("auth"))
		if err != nil {
			eng.stop()
			return nil, nil, fmt.Errorf("channels.client.token: %w", err)
		}
		tokens = rt.verifier
	}
	proxies, err := c.Proxy.build()
	if err != nil {
		return nil, nil, err
	}
	nodeCfg := channels.Config{
		AllowAnonymousConnectWithoutToken: c.Client.AllowAnonymousConnectWithoutToken,
		PingInterval:                      c.Client.PingInterval,
		PongTimeout:                       c.Client.PongTimeout,
		StaleCloseDelay:                   c.Client.StaleCloseDelay,
		ExpiredCloseDelay:                 c.Client.ExpiredCloseDelay,
		ExpiredSubCloseDelay:              c.Client.ExpiredSubCloseDelay,
		ChannelLimit:                      c.Client.ChannelLimit,
		HistoryMaxPublicationLimit:        c.Client.HistoryMaxPublicationLimit,
		RecoveryMaxPublicationLimit:       c.Client.RecoveryMaxPublicationLimit,
		PresenceUpdateInterval:            c.Client.PresenceUpdateInterval,
		Version:                           versionString(),
		Name:                              fmt.Sprintf("gateway-%d", cfg.NodeID),
	}
	c.Client.applyLimits(&nodeCfg)
	rt.node = channels.NewNode(channels.Options{
		Config: nodeCfg, Proxies: proxies,
		Broker: eng.b, Presence: eng.presence, Tokens: tokens, Channels: rules, Logger: log.Named("channels"),
	})
	if err := rt.node.Run(); err != nil {
		eng.stop()
		return nil, nil, err
	}
	if eng.cl != nil {
		eng.cl.Start(rt.node)
	}
	var names []string
	for _, ns := range c.Channel.Namespaces {
		names = append(names, ns.Name)
	}
	log.Info("channel protocol enabled", zap.String("path", c.Path),
		zap.Bool("anonymous_connect", c.Client.AllowAnonymousConnectWithoutToken),
		zap.Bool("tokens", tokens != nil), zap.Strings("namespaces", names))
	if tokens == nil && !c.Client.AllowAnonymousConnectWithoutToken {
		log.Warn("channel protocol refuses every client: no token key is set and anonymous connect is off; set channels.client.token.hmac_secret_key (GATEWAY_CHANNELS_CLIENT_TOKEN_HMAC_SECRET_KEY), rsa_public_key, ecdsa_public_key or jwks_public_endpoint")
	}
	for _, ns := range c.Channel.Namespaces {
		o := ns.Options
		if o.AllowSubscribeForAnonymous || o.AllowPublishForAnonymous {
			log.Info("namespace open to anonymous clients", zap.String("namespace", ns.Name),
				zap.Bool("subscribe", o.AllowSubscribeForClient && o.AllowSubscribeForAnonymous),
				zap.Bool("publish", o.AllowPublishForClient && o.AllowPublishForAnonymous),
				zap.Bool("history", o.HistoryEnabled()), zap.Bool("presence", o.Presence))
		}
	}
	return rt, &poller.Endpoint{Path: c.Path, Handler: rt.node.Handler(),
		Subprotocols: channels.Subprotocols, QuerySubprotocol: channels.QuerySubprotocol,
		KeepHeaders: rt.node.KeepHeaders(), OnHeaders: rt.node.OnHeaders}, nil
}

// shutdown disconnects the channel clients with 3001 shutdown (the SDKs
// reconnect) before the server closes the rest with 1001.
func (rt *channelsRuntime) shutdown() {
	if rt != nil {
		rt.node.Close()
	}
}

func (rt *channelsRuntime) stop() {
	if rt == nil {
		return
	}
	rt.node.Close()
	rt.engine.stop()
	if rt.verifier != nil {
		rt.verifier.Close()
	}
}

// collectors are the channel protocol's metrics, for the admin listener.
func (rt *channelsRuntime) collectors() []prometheus.Collector {
	if rt == nil {
		return nil
	}
	return append([]prometheus.Collector{rt.node.Metrics()}, rt.engine.collectors()...)
}
