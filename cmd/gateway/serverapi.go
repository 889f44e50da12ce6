package main

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/serverapi"
)

// APIConfig configures the server API (Centrifugo's HTTP API) on the admin
// listener.
type APIConfig struct {
	Key       Secret `yaml:"key" secret:"true" help:"server API key (X-API-Key or Authorization: apikey <key>); empty refuses every call unless api.insecure (prefer GATEWAY_API_KEY to a file)"`
	Insecure  bool   `yaml:"insecure" help:"serve the server API without a key (only behind a trusted network)"`
	ErrorMode string `yaml:"error_mode" help:"\"\" (errors as HTTP 200 with an error object, as Centrifugo) or transport (errors as HTTP statuses)"`
}

// apiNode is the node the server API acts on: nil while the channel
// protocol is off (channels.enabled false), and the API is not served.
func (rt *channelsRuntime) apiNode() serverapi.Node {
	if rt == nil {
		return nil
	}
	if rt.engine.cl != nil {
		return rt.engine.cl.APINode(rt.node)
	}
	return rt.node
}

// withServerAPI returns the admin listener's handler: adminHandler alone
// without a channel node, else adminHandler for /api/v1/ (the raw /ws
// sessions' push API) and everything outside /api, and the server API for
// POST /api and /api/<method>, counted in m.
func withServerAPI(cfg *Config, adminHandler http.Handler, node serverapi.Node, m *serverapi.Metrics, log *zap.Logger) http.Handler {
	if node == nil {
		return adminHandler
	}
	api := serverapi.NewHandler(node, serverapi.Options{
		Key: string(cfg.API.Key), Insecure: cfg.API.Insecure, ErrorMode: cfg.API.ErrorMode,
		MaxBodySize: serverapi.DefaultMaxBodySize, Logger: log.Named("api"), Observe: m.Observe,
	})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", adminHandler)
	mux.Handle("/api/", api)
	mux.Handle("/api", api)
	mux.Handle("/", adminHandler)
	switch {
	case cfg.API.Insecure:
		log.Warn("server API at /api serves without a key (api.insecure)")
	case cfg.API.Key == "":
		log.Warn("server API at /api refuses every call: set api.key (GATEWAY_API_KEY)")
	default:
		log.Info("server API at /api enabled", zap.String("error_mode", cfg.API.ErrorMode))
	}
	return mux
}
