package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/xh-control/gateway/pkg/channels"
	"github.com/xh-control/gateway/pkg/proxy"
	"github.com/xh-control/gateway/pkg/ratelimit"
)

// ProxiesConfig is channels.proxy: the backends asked about connects,
// refreshes, subscriptions, publications and RPCs (Centrifugo's
// client.proxy.*, channel.proxy.* and rpc.proxy, reference section 9).
type ProxiesConfig struct {
	Connect       ProxyConfig `yaml:"connect"`
	ConnectAlways bool        `yaml:"connect_always" help:"ask the connect proxy also for connects that carry a token (default: only those without)"`
	Refresh       ProxyConfig `yaml:"refresh"`
	Subscribe     ProxyConfig `yaml:"subscribe"`
	Publish       ProxyConfig `yaml:"publish"`
	SubRefresh    ProxyConfig `yaml:"sub_refresh"`
	RPC           ProxyConfig `yaml:"rpc"`
	// RPCRoutes send methods matching a pattern (path.Match: "*" matches
	// within one '/' segment) to their own backend, before rpc; YAML only.
	RPCRoutes []RPCRouteConfig `yaml:"rpc_routes" opt:"-"`
}

// RPCRouteConfig is one entry of channels.proxy.rpc_routes.
type RPCRouteConfig struct {
	Pattern string      `yaml:"pattern"`
	Proxy   ProxyConfig `yaml:"proxy"`
}

// ProxyConfig is one backend endpoint (proxy.Config with help texts).
type ProxyConfig struct {
	Endpoint              string            `yaml:"endpoint" help:"backend URL (http:// or https://) the event is POSTed to; empty: not asked"`
	Timeout               time.Duration     `yaml:"timeout" help:"bound on one backend call; past it the client gets error 100 (temporary)"`
	HTTPHeaders           []string          `yaml:"http_headers" help:"headers forwarded to the backend (comma-separated); X-Forwarded-For and X-Real-Ip carry the client IP as the real-IP logic sees it"`
	EmulatedHeaders       []string          `yaml:"emulated_headers" help:"entries of the connect command's headers map (SDK headers emulation) forwarded as HTTP headers"`
	StaticHeaders         map[string]string `yaml:"static_headers" opt:"-"`
	BinaryEncoding        bool              `yaml:"binary_encoding" help:"send payloads base64-encoded in b64data fields"`
	IncludeConnectionMeta bool              `yaml:"include_connection_meta" help:"send the connection meta with refresh, subscribe, publish, sub_refresh and rpc events"`
	MaxConcurrency        int               `yaml:"max_concurrency" help:"backend calls in flight on this node; past it clients get error 111"`
}

func (p ProxyConfig) build(name string) (*proxy.Proxy, error) {
	if p.Endpoint == "" {
		return nil, nil
	}
	px, err := proxy.New(name, proxy.Config{
		Endpoint: p.Endpoint, Timeout: p.Timeout, HTTPHeaders: p.HTTPHeaders, EmulatedHeaders: p.EmulatedHeaders,
		StaticHeaders: p.StaticHeaders, BinaryEncoding: p.BinaryEncoding, IncludeConnectionMeta: p.IncludeConnectionMeta,
		MaxConcurrency: p.MaxConcurrency,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("channels.proxy.%s: %w", name, err)
	}
	return px, nil
}

// build returns the node's proxies.
func (c *ProxiesConfig) build() (channels.Proxies, error) {
	var ps channels.Proxies
	var err error
	for _, x := range []struct {
		name string
		cfg  ProxyConfig
		dst  **proxy.Proxy
	}{
		{"connect", c.Connect, &ps.Connect}, {"refresh", c.Refresh, &ps.Refresh}, {"subscribe", c.Subscribe, &ps.Subscribe},
		{"publish", c.Publish, &ps.Publish}, {"sub_refresh", c.SubRefresh, &ps.SubRefresh},
	} {
		if *x.dst, err = x.cfg.build(x.name); err != nil {
			return ps, err
		}
	}
	ps.ConnectAlways = c.ConnectAlways
	for i, r := range c.RPCRoutes {
		if r.Pattern == "" {
			return ps, fmt.Errorf("channels.proxy.rpc_routes[%d]: pattern is empty", i)
		}
		px, err := r.Proxy.build("rpc:" + r.Pattern)
		if err != nil || px == nil {
			return ps, fmt.Errorf("channels.proxy.rpc_routes[%d] (%s): %v", i, r.Pattern, firstNonNil(err, "endpoint is empty"))
		}
		ps.RPC = append(ps.RPC, channels.RPCRoute{Pattern: r.Pattern, Proxy: px})
	}
	px, err := c.RPC.build("rpc")
	if err != nil {
		return ps, err
	}
	if px != nil {
		ps.RPC = append(ps.RPC, channels.RPCRoute{Pattern: "", Proxy: px}) // every other method
	}
	return ps, nil
}

func firstNonNil(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// validateLimits checks the per-connection limits of channels.client.
func (l *ClientConfig) validateLimits() error {
	switch strings.ToLower(l.CommandRateAction) {
	case "", "error", "disconnect":
		return nil
	}
	return fmt.Errorf("channels.client.command_rate_action %q: want error or disconnect", l.CommandRateAction)
}

// applyLimits sets the node's per-connection limits.
func (l *ClientConfig) applyLimits(c *channels.Config) {
	if l.CommandRate > 0 {
		burst := l.CommandRateBurst
		if burst <= 0 {
			burst = l.CommandRate
		}
		c.CommandRate = ratelimit.Limit{Rate: float64(l.CommandRate), Burst: burst}
		c.CommandRateDisconnect = strings.EqualFold(l.CommandRateAction, "disconnect")
	}
	c.UserConnectionLimit = l.UserConnectionLimit
	c.MaxPublishSize, c.MaxRPCSize, c.MaxConnectDataSize = l.MaxPublishSize, l.MaxRPCSize, l.MaxConnectDataSize
	c.MaxProxyCalls = l.MaxProxyCalls
}
