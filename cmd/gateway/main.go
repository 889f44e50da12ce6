// Command gateway runs the WebSocket gateway: an epoll-based server that
// holds hundreds of thousands of connections per node without a goroutine
// per connection. See README.md, and `gateway -h` for every option.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/xh-control/gateway/pkg/admin"
	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/serverapi"
	"github.com/xh-control/gateway/pkg/session"
	"github.com/xh-control/gateway/web"
)

// version is set at build time: -ldflags "-X main.version=$(git describe)".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			return "dev-" + rev[:12] + dirty
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

// run is main with its exit code returned: 0 after a clean shutdown, 1 when
// the gateway fails or is killed by a second signal, 2 for bad options.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, inv, err := loadConfig(args, os.LookupEnv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(flagError)):
		fmt.Fprintf(stderr, "gateway: %v\nrun 'gateway -h' for the options\n", err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 2
	case inv.version:
		fmt.Fprintln(stdout, "gateway", versionString())
		return 0
	case inv.printConfig:
		printConfig(stdout, cfg)
		return 0
	}
	level := zap.NewAtomicLevel()
	lvl, _ := parseLevel(cfg.Log.Level)
	level.SetLevel(lvl)
	log := newLogger(cfg.Log, level)
	defer log.Sync()
	for _, w := range unknownEnv(os.Environ()) {
		log.Warn(w)
	}
	if err := serve(cfg, inv, level, log); err != nil {
		log.Error("gateway failed", zap.Error(err))
		return 1
	}
	return 0
}

// serve runs the gateway until a signal stops it.
func serve(cfg *Config, inv invocation, level zap.AtomicLevel, log *zap.Logger) error {
	process := poller.ConfigureProcess(poller.ProcessOptions{
		BufferSize: int(cfg.Netpoll.BufferSize),
		Pollers:    cfg.Netpoll.Pollers,
		Logger:     log,
	})
	opts, err := serverOptions(cfg, log)
	if err != nil {
		return err
	}
	h, _ := handler.ByName(cfg.Handler)
	chans, endpoint, err := startChannels(cfg, log)
	if err != nil {
		return err
	}
	defer chans.stop()
	if endpoint != nil {
		opts.Endpoints = append(opts.Endpoints, *endpoint)
	}
	srv := poller.New(opts, h)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return listenError("listen", cfg.Listen, err)
	}
	log.Info("gateway starting", zap.String("version", versionString()), zap.String("handler", cfg.Handler),
		zap.Int("netpoll_buffer", process.BufferSize), zap.Int("netpoll_pollers", process.Pollers), zap.String("config", inv.configPath))
	adminSrv, err := startAdmin(cfg, srv, chans, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopAdmin(adminSrv)
	// Signals are caught before anything can announce the gateway, so that
	// a SIGTERM right after start is a graceful stop, not a kill.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	sd := notifier{log: log}
	for !srv.Ready() {
		select {
		case err := <-served:
			return fmt.Errorf("server stopped: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	sd.ready(ln.Addr().String())
	log.Info("demo page: open it in a browser", zap.String("url", demoURL(ln.Addr())))
	stopWatchdog := make(chan struct{})
	defer close(stopWatchdog)
	go sd.watchdog(srv, stopWatchdog)

	for {
		select {
		case err := <-served:
			return fmt.Errorf("server stopped: %w", err)
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				sd.reloading()
				reload(inv, cfg, srv, level, log)
				sd.reloaded()
				continue
			}
			sd.stopping()
			// Channel clients get 3001 "shutdown" rather than 1001: with a
			// spread, from the server's spread closes (OnShutdown), else all
			// at once here.
			if cfg.Shutdown.Spread <= 0 {
				chans.shutdown()
			}
			return shutdown(srv, cfg.ShutdownTimeout, sig, signals, served, log)
		}
	}
}

// startAdmin starts the admin listener, unless admin.listen is empty. It
// stays up while the gateway drains, so that /readyz can say 503.
func startAdmin(cfg *Config, srv *poller.Server, chans *channelsRuntime, log *zap.Logger) (*http.Server, error) {
	if cfg.Admin.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, listenError("admin.listen", cfg.Admin.Listen, err)
	}
	apiMetrics := serverapi.NewMetrics()
	h := admin.New(srv, admin.Options{
		Token: cfg.Admin.Token, Pprof: cfg.Admin.Pprof, MaxMessageSize: int64(cfg.Limits.MaxMessageSize),
		Version: versionString(), Logger: log.Named("admin"), Collectors: append(chans.collectors(), apiMetrics),
	})
	var eng *engine
	if chans != nil {
		eng = chans.engine
	}
	top := withSessionForwarding(withServerAPI(cfg, h, chans.apiNode(), apiMetrics, log), h, eng, cfg, log.Named("admin"))
	hs := &http.Server{Handler: withReadiness(top, eng, cfg.NATS.ReadyRequiresNATS), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: zap.NewStdLog(log.Named("admin"))}
	go hs.Serve(ln)
	pushAPI := "disabled (no admin.token)"
	if cfg.Admin.Token != "" {
		pushAPI = "enabled"
	}
	log.Info("admin listening", zap.Stringer("addr", ln.Addr()), zap.String("push_api", pushAPI), zap.Bool("pprof", cfg.Admin.Pprof))
	return hs, nil
}

func stopAdmin(hs *http.Server) {
	if hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(ctx)
}

// shutdown drains the server; a second signal exits at once.
func shutdown(srv *poller.Server, timeout time.Duration, sig os.Signal, signals <-chan os.Signal, served <-chan error, log *zap.Logger) error {
	log.Info("shutting down: closing sessions (1001 going away; channel clients 3001 shutdown)", zap.String("signal", sig.String()),
		zap.Int("sessions", srv.Hub().Count()), zap.Duration("timeout", timeout))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for {
		select {
		case err := <-done:
			<-served
			if err != nil {
				log.Warn("shutdown deadline passed; remaining sessions were cut off", zap.Error(err))
			} else {
				log.Info("shutdown complete")
			}
			return nil
		case s := <-signals:
			if s == syscall.SIGHUP {
				continue
			}
			log.Warn("second signal: exiting at once", zap.String("signal", s.String()))
			log.Sync()
			os.Exit(1)
		}
	}
}

// accessPolicies builds the two settings that both start-up and a reload
// apply: the origin allowlist and the trusted proxies.
func accessPolicies(cfg *Config) (*poller.OriginPolicy, *poller.TrustedProxies, error) {
	origins, err := poller.NewOriginPolicy(cfg.Origins.Allowed, cfg.Origins.AllowMissing, cfg.Origins.AllowSameOrigin)
	if err != nil {
		return nil, nil, err
	}
	proxies, err := poller.ParseTrustedProxies(cfg.Proxies)
	if err != nil {
		return nil, nil, err
	}
	return origins, proxies, nil
}

// serverOptions turns the configuration into the poller's options.
func serverOptions(cfg *Config, log *zap.Logger) (poller.Options, error) {
	origins, proxies, err := accessPolicies(cfg)
	if err != nil {
		return poller.Options{}, err
	}
	policy, _ := session.ParsePolicy(cfg.Session.SlowConsumer)
	return poller.Options{
		Path:             cfg.Path,
		HandshakeTimeout: cfg.Handshake.Timeout,
		MaxHeaderBytes:   int(cfg.Handshake.MaxHeaderBytes),
		MaxMessageSize:   int64(cfg.Limits.MaxMessageSize),
		MaxConnections:   cfg.Limits.MaxConnections,
		// Admission and the shutdown spread.
		MaxConnectionsPerIP: cfg.Limits.MaxConnectionsPerIP,
		HandshakeRate:       float64(cfg.Limits.HandshakeRate),
		HandshakeBurst:      cfg.Limits.HandshakeBurst,
		HandshakeQueue:      cfg.Limits.HandshakeQueue,
		ShutdownSpread:      cfg.Shutdown.Spread,
		Workers:             cfg.Workers.Max,
		WorkerIdleTime:      cfg.Workers.IdleTimeout,
		Origins:             origins,
		TrustedProxies:      proxies,
		Logger:              log,
		Pages:               pages(cfg),
		Compression: poller.CompressionOptions{
			Enabled: cfg.Compress.Enabled,
			Level:   cfg.Compress.Level,
			MinSize: int(cfg.Compress.MinSize),
		},
		Session: session.Options{
			NodeID:           uint16(cfg.NodeID),
			QueueMaxBytes:    int(cfg.Session.QueueMaxBytes),
			QueueMaxMessages: cfg.Session.QueueMaxMessages,
			SlowConsumer:     policy,
			WriteTimeout:     cfg.Session.WriteTimeout,
			PingInterval:     cfg.Session.PingInterval,
			IdleTimeout:      cfg.Session.IdleTimeout,
			CloseTimeout:     cfg.Session.CloseTimeout,
			Logger:           log,
		},
	}, nil
}

// listenError explains a failed listen: which option holds the address, and
// when the port is taken, that the option is what to change.
func listenError(key, addr string, err error) error {
	env := "GATEWAY_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s %s: the address is in use by another process; stop it or choose another address with %s (-%s, %s)",
			key, addr, key, key, env)
	}
	return fmt.Errorf("cannot listen on %s %s: %w; check %s (-%s, %s)", key, addr, err, key, key, env)
}

// reloadable are the options a SIGHUP applies; a change to any other needs
// a restart.
var reloadable = []string{"log.level", "origins.allowed", "origins.allow_missing", "origins.allow_same_origin", "trusted_proxies"}

// restartNeeded lists the options, other than the reloadable ones, whose
// value differs between the running configuration and next.
func restartNeeded(running, next *Config) []string {
	var changed []string
	a, b := options(running), options(next)
	for i := range a {
		if !slices.Contains(reloadable, a[i].key) && !reflect.DeepEqual(a[i].val.Interface(), b[i].val.Interface()) {
			changed = append(changed, a[i].key)
		}
	}
	return changed
}

// pages are the plain HTTP pages of the WebSocket listener: the chat demo at
// / (on the channel protocol, with the SDK it loads) when channels are
// enabled, the raw WebSocket echo demo at /echo (and at / without channels).
func pages(cfg *Config) map[string]poller.Page {
	const html = "text/html; charset=utf-8"
	echo := poller.Page{ContentType: html, Body: web.Echo(cfg.Path)}
	p := map[string]poller.Page{"/": echo, "/echo": echo}
	if cfg.Channels.Enabled {
		p["/"] = poller.Page{ContentType: html, Body: web.Chat(cfg.Channels.Path)}
		p["/vendor/centrifuge.js"] = poller.Page{ContentType: "text/javascript; charset=utf-8", Body: web.CentrifugeJS()}
		p["/vendor/centrifuge.LICENSE"] = poller.Page{ContentType: "text/plain; charset=utf-8", Body: web.CentrifugeLicense()}
	}
	return p
}

// reload applies what can change without dropping connections: the log
// level, the origin allowlist and the trusted proxies. Everything else
// needs a restart, and reload names each option that changed and needs
// one; running is the configuration the process started with.
func reload(inv invocation, running *Config, srv *poller.Server, level zap.AtomicLevel, log *zap.Logger) {
	cfg, _, err := loadConfig(inv.args, os.LookupEnv, io.Discard)
	var origins *poller.OriginPolicy
	var proxies *poller.TrustedProxies
	if err == nil {
		origins, proxies, err = accessPolicies(cfg)
	}
	if err != nil {
		log.Error("reload failed; keeping the running configuration", zap.Error(err))
		return
	}
	lvl, _ := parseLevel(cfg.Log.Level) // validated by loadConfig
	level.SetLevel(lvl)
	srv.SetOrigins(origins)
	srv.SetTrustedProxies(proxies)
	// "level" is the key of the line's own level: the new one is new_level.
	log.Info("configuration reloaded (log level, origins, trusted proxies; other changes need a restart)",
		zap.Stringer("new_level", lvl), zap.Strings("origins", cfg.Origins.Allowed), zap.Strings("trusted_proxies", cfg.Proxies))
	if changed := restartNeeded(running, cfg); len(changed) > 0 {
		log.Warn("changed options need a restart to apply; their running values stay", zap.Strings("restart_needed", changed))
	}
}

// demoURL is the address of the demo page (pages) on the client listener,
// with a loopback host where the listener takes every address.
func demoURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
