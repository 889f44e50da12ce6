package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/xh-control/gateway/internal/metric"
)

// Errors returned by calls. Callers compare with errors.Is.
var (
	// ErrUnavailable: the backend could not be reached, timed out, or did
	// not answer 200 with a decodable body. The client gets error 100
	// "internal server error" with temporary set, and stays connected.
	ErrUnavailable = errors.New("proxy: backend unavailable")
	// ErrOverloaded: Config.MaxConcurrency calls are already running on
	// this node. The client gets error 111 "too many requests" (temporary).
	ErrOverloaded = errors.New("proxy: too many calls in flight")
)

// Config configures one backend endpoint (Centrifugo's proxy object).
type Config struct {
	// Endpoint is the backend URL; every call is a POST of JSON to it.
	Endpoint string `yaml:"endpoint"`
	// Timeout bounds one attempt, connection included. Default 1s.
	Timeout time.Duration `yaml:"timeout"`
	// HTTPHeaders lists the client's upgrade-request headers forwarded to
	// the backend (case-insensitive), such as Cookie, Authorization,
	// Origin, User-Agent, X-Forwarded-For (the gateway's real-IP view).
	// Nothing is forwarded by default.
	HTTPHeaders []string `yaml:"http_headers"`
	// EmulatedHeaders lists the connect command's headers map entries
	// (headers emulation of the SDKs) forwarded as HTTP headers.
	EmulatedHeaders []string `yaml:"emulated_headers"`
	// StaticHeaders are sent with every call, before forwarded ones.
	StaticHeaders map[string]string `yaml:"static_headers"`
	// BinaryEncoding sends payloads base64-encoded in b64data fields.
	BinaryEncoding bool `yaml:"binary_encoding"`
	// IncludeConnectionMeta sends the connection's meta with refresh,
	// subscribe, publish, sub_refresh and rpc events.
	IncludeConnectionMeta bool `yaml:"include_connection_meta"`
	// MaxConcurrency bounds calls in flight on this node; further calls
	// fail at once with ErrOverloaded. Default 1024.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Retries is how many times an idempotent call (connect, refresh,
	// subscribe, sub_refresh) is retried after a transport error or a
	// 5xx, within the caller's context. Publish and rpc are never retried.
	// Default 1; negative disables.
	Retries int `yaml:"retries"`
}

// Headers is what a call may forward: the client's upgrade-request headers
// and its emulated headers. Only names the Config lists are sent.
type Headers struct {
	HTTP     http.Header
	Emulated map[string]string
}

// Metrics are a proxy's counters, exported by the admin listener.
type Metrics struct {
	Calls   metric.Counter
	Errors  metric.Counter // ErrUnavailable answers
	Refused metric.Counter // ErrOverloaded answers
	Latency *metric.Histogram
}

// Proxy calls one backend endpoint. It is safe for concurrent use.
type Proxy struct {
	name     string
	cfg      Config
	client   *http.Client
	slots    chan struct{}
	forward  []string // canonical header names
	emulated []string
	metrics  Metrics
}

// New returns a Proxy named name (for metrics and logs) for cfg. client may
// be nil for a default one with keep-alive connections.
func New(name string, cfg Config, client *http.Client) (*Proxy, error) {
	if !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
		return nil, fmt.Errorf("proxy %s: endpoint %q: want an http:// or https:// URL", name, cfg.Endpoint)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 1024
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // backends are reached directly, never through HTTP_PROXY
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	p := &Proxy{name: name, cfg: cfg, client: client, slots: make(chan struct{}, cfg.MaxConcurrency)}
	for _, h := range cfg.HTTPHeaders {
		p.forward = append(p.forward, http.CanonicalHeaderKey(h))
	}
	for _, h := range cfg.EmulatedHeaders {
		p.emulated = append(p.emulated, strings.ToLower(h))
	}
	p.metrics.Latency = metric.NewHistogram(metric.LatencyBounds)
	return p, nil
}

// Name returns the proxy's name.
func (p *Proxy) Name() string { return p.name }

// Config returns the proxy's configuration with defaults applied.
func (p *Proxy) Config() Config { return p.cfg }

// Metrics returns the proxy's counters.
func (p *Proxy) Metrics() *Metrics { return &p.metrics }

// Encoding returns the encoding field value requests carry.
func (p *Proxy) Encoding() string {
	if p.cfg.BinaryEncoding {
		return EncodingBinary
	}
	return EncodingJSON
}

// EncodePayload fills a request's data pair: raw JSON in data, or base64 in
// b64data under binary encoding.
func (p *Proxy) EncodePayload(b []byte) (json.RawMessage, string) {
	if len(b) == 0 {
		return nil, ""
	}
	if p.cfg.BinaryEncoding {
		return nil, base64.StdEncoding.EncodeToString(b)
	}
	return json.RawMessage(b), ""
}

// Connect calls the connect event.
func (p *Proxy) Connect(ctx context.Context, h Headers, req *ConnectRequest) (*Reply[ConnectResult], error) {
	req.Encoding = p.Encoding()
	return call[ConnectResult](ctx, p, h, req, true)
}

// Refresh calls the refresh event.
func (p *Proxy) Refresh(ctx context.Context, h Headers, req *RefreshRequest) (*Reply[RefreshResult], error) {
	req.Encoding = p.Encoding()
	return call[RefreshResult](ctx, p, h, req, true)
}

// Subscribe calls the subscribe event.
func (p *Proxy) Subscribe(ctx context.Context, h Headers, req *SubscribeRequest) (*Reply[SubscribeResult], error) {
	req.Encoding = p.Encoding()
	return call[SubscribeResult](ctx, p, h, req, true)
}

// SubRefresh calls the sub_refresh event.
func (p *Proxy) SubRefresh(ctx context.Context, h Headers, req *SubRefreshRequest) (*Reply[RefreshResult], error) {
	req.Encoding = p.Encoding()
	return call[RefreshResult](ctx, p, h, req, true)
}

// Publish calls the publish event; it is never retried.
func (p *Proxy) Publish(ctx context.Context, h Headers, req *PublishRequest) (*Reply[PublishResult], error) {
	req.Encoding = p.Encoding()
	return call[PublishResult](ctx, p, h, req, false)
}

// RPC calls the rpc event; it is never retried.
func (p *Proxy) RPC(ctx context.Context, h Headers, req *RPCRequest) (*Reply[RPCResult], error) {
	req.Encoding = p.Encoding()
	return call[RPCResult](ctx, p, h, req, false)
}

// call POSTs req and decodes the reply. Backend-declared errors and
// disconnects come back in the Reply, not as err.
func call[T any](ctx context.Context, p *Proxy, h Headers, req any, idempotent bool) (*Reply[T], error) {
	select {
	case p.slots <- struct{}{}:
	default:
		p.metrics.Refused.Inc()
		return nil, ErrOverloaded
	}
	defer func() { <-p.slots }()
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: encoding request: %w", p.name, err)
	}
	p.metrics.Calls.Inc()
	start := time.Now()
	defer func() { p.metrics.Latency.ObserveDuration(time.Since(start)) }()
	attempts := 1
	if idempotent && p.cfg.Retries > 0 {
		attempts += p.cfg.Retries
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		reply, retry, err := attempt[T](ctx, p, h, body)
		if err == nil {
			return reply, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	p.metrics.Errors.Inc()
	return nil, lastErr
}

// attempt makes one HTTP call. retry reports whether the failure is one an
// idempotent call may retry (transport errors and 5xx, not timeouts of the
// caller's context nor 4xx).
func attempt[T any](ctx context.Context, p *Proxy, h Headers, body []byte) (*Reply[T], bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", ErrUnavailable, p.name, err)
	}
	p.setHeaders(r.Header, h)
	resp, err := p.client.Do(r)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, p.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, resp.StatusCode >= 500, fmt.Errorf("%w: %s: status %d", ErrUnavailable, p.name, resp.StatusCode)
	}
	var reply Reply[T]
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxReplyBytes))
	if err := dec.Decode(&reply); err != nil {
		return nil, false, fmt.Errorf("%w: %s: undecodable reply: %v", ErrUnavailable, p.name, err)
	}
	return &reply, false, nil
}

// maxReplyBytes bounds a backend's answer: a connect result with many
// subscriptions fits easily; a runaway backend cannot exhaust memory.
const maxReplyBytes = 4 << 20

func (p *Proxy) setHeaders(dst http.Header, h Headers) {
	for k, v := range p.cfg.StaticHeaders {
		dst.Set(k, v)
	}
	for _, name := range p.forward {
		if vs := h.HTTP.Values(name); len(vs) > 0 {
			dst[name] = append([]string(nil), vs...)
		}
	}
	for _, name := range p.emulated {
		for k, v := range h.Emulated {
			if strings.ToLower(k) == name {
				dst.Set(k, v)
			}
		}
	}
	dst.Set("Content-Type", "application/json")
}
