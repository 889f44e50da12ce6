package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsRunWithoutAnything(t *testing.T) {
	cfg, _, err := loadConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":8080" || cfg.Path != "/ws" || cfg.Handler != "echo" ||
		cfg.Limits.MaxMessageSize != 1<<20 || cfg.Session.QueueMaxBytes != 1<<20 ||
		cfg.Session.QueueMaxMessages != 1024 || cfg.Session.SlowConsumer != "close" ||
		cfg.Session.WriteTimeout != 10*time.Second || cfg.Session.PingInterval != 30*time.Second ||
		cfg.Session.IdleTimeout != 75*time.Second || cfg.Handshake.Timeout != 10*time.Second ||
		cfg.Handshake.MaxHeaderBytes != 8192 || cfg.ShutdownTimeout != 10*time.Second {
		t.Fatalf(
			"defaults differ from the documented ones: %+v",
			cfg,
		)
	}
}

// TestPrecedence sets one key at every layer and checks that flags beat the
// environment, which beats the file, which beats the defaults.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(file, []byte("listen: \":1111\"\npath: /file\nhandler: broadcast\nsession:\n  ping_interval: 5s\n"), 0o644)
	cfg, inv, err := loadConfig(
		[]string{"-path", "/flag", "-session.ping-interval=7s"},
		env(map[string]string{"GATEWAY_CONFIG": file, "GATEWAY_PATH": "/env", "GATEWAY_HANDLER": "echo", "GATEWAY_ORIGINS_ALLOWED": "https://a.com, *.b.com"}),
		&bytes.Buffer{},
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"file over default", cfg.Listen, ":1111"},
		{"env over file", cfg.Handler, "echo"},
		{"flag over env", cfg.Path, "/flag"},
		{"flag over file", cfg.Session.PingInterval.String(), "7s"},
		{"list from env", strings.Join(cfg.Origins.Allowed, "|"), "https://a.com|*.b.com"},
		{"untouched default", cfg.Session.IdleTimeout.String(), "1m15s"},
		{"config path from env", inv.configPath, file},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf(
				"%s: got %q, want %q",
				c.name, c.got, c.want,
			)
		}
	}
}

func TestBadConfigurationIsExplained(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("sesion:\n  ping_interval: 5s\n"), 0o644)
	twice := filepath.Join(dir, "twice.yaml")
	os.WriteFile(twice, []byte("listen: :8081\nsession:\n  ping_interval: 5s\n  ping_interval: 6s\n"), 0o644)
	twiceTop := filepath.Join(dir, "twice-top.yaml")
	os.WriteFile(twiceTop, []byte("listen: :8081\nlisten: :8082\n"), 0o644)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "unknown key in file", args: []string{"-config", typo}, want: "sesion"},
		{name: "key given twice", args: []string{"-config", twice}, want: "line 4: session.ping_interval: given again (first on line 3)"},
		{name: "top-level key given twice", args: []string{"-config", twiceTop}, want: "line 2: listen: given again (first on line 1)"},
		{name: "bad duration in env", env: map[string]string{"GATEWAY_SESSION_WRITE_TIMEOUT": "soon"}, want: "GATEWAY_SESSION_WRITE_TIMEOUT"},
		{name: "bad size flag", args: []string{"-limits.max-message-size", "huge"}, want: "64KiB"},
		{name: "unknown handler", args: []string{"-handler", "chat"}, want: "echo, broadcast"},
		{name: "bad policy", args: []string{"-session.slow-consumer", "ignore"}, want: "drop"},
		{name: "idle shorter than ping", args: []string{"-session.idle-timeout", "10s"}, want: "ping_interval"},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "nope.yaml")}, want: "no such file"},
		{name: "stray argument", args: []string{"serve"}, want: "unexpected argument"},
		{name: "bad origin", args: []string{"-origins.allowed", "example.com"}, want: "scheme://host"},
		{name: "bad proxy", args: []string{"-trusted-proxies", "10.0.0.0/33"}, want: "trusted proxy"},
		{name: "spread past the timeout", args: []string{"-shutdown.spread", "10s"}, want: "shutdown.spread 10s"},
		{name: "negative per-IP limit", env: map[string]string{"GATEWAY_LIMITS_MAX_CONNECTIONS_PER_IP": "-1"}, want: "max_connections_per_ip"},
		{name: "queue past the handshake timeout", args: []string{"-limits.handshake-rate", "100", "-limits.handshake-queue", "10s"}, want: "handshake_queue 10s"},
		{name: "rate without burst", args: []string{"-limits.handshake-rate", "100", "-limits.handshake-burst", "0"}, want: "handshake_burst 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadConfig(tc.args, env(tc.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf(
					"error %v, want one mentioning %q",
					err, tc.want,
				)
			}
		})
	}
}

// TestHelpDocumentsEveryOption: -h names every option with its environment
// variable and default.
func TestHelpDocumentsEveryOption(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-h"}, &out, &out); code != 0 {
		t.Fatalf(
			"-h exited %d",
			code,
		)
	}
	cfg := &Config{}
	for _, o := range options(cfg) {
		if o.help == "" {
			t.Errorf(
				"option %s has no help text",
				o.key,
			)
		}
		for _, want := range []string{"-" + o.flag + " ", o.env} {
			if !strings.Contains(out.String(), want) {
				t.Errorf(
					"-h does not mention %q",
					want,
				)
			}
		}
	}
}

// TestDefaultsFileListsEveryKey keeps the embedded defaults, which double as
// the example configuration, complete.
func TestDefaultsFileListsEveryKey(t *testing.T) {
	var tree map[string]any
	if err := yaml.Unmarshal(defaultsYAML, &tree); err != nil {
		t.Fatal(err)
	}
	for _, o := range options(&Config{}) {
		node := any(tree)
		for _, part := range strings.Split(o.key, ".") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node, ok = m[part]
			if !ok {
				t.Errorf(
					"gateway.yaml does not set %s",
					o.key,
				)
				break
			}
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "1MiB": 1 << 20, "64KiB": 65536, "1 MB": 1000000, "8K": 8192, "2GiB": 2 << 30} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf(
				"%q: got %d %v, want %d",
				in, b, err, want,
			)
		}
	}
	for _, bad := range []string{"", "-1", "1TiB", "lots", "99999999999GiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf(
				"%q accepted",
				bad,
			)
		}
	}
	if s := ByteSize(1 << 20).String(); s != "1MiB" {
		t.Errorf(
			"String() = %q",
			s,
		)
	}
}

func TestPrintConfigRoundTrips(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-print-config", "-session.queue-max-bytes", "2MiB"}, &out, &out); code != 0 {
		t.Fatalf(
			"exit %d: %s",
			code, out.String(),
		)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "printed.yaml")
	os.WriteFile(file, out.Bytes(), 0o644)
	cfg, _, err := loadConfig([]string{"-config", file}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf(
			"printed configuration does not load: %v\n%s",
			err, out.String(),
		)
	}
	if cfg.Session.QueueMaxBytes != 2<<20 {
		t.Fatalf(
			"round trip lost a value: %v",
			cfg.Session.QueueMaxBytes,
		)
	}
}

// TestListenAndAdminOnOnePort: admin.listen on the port listen takes is a
// configuration error naming both, not "in use by another process" at start.
func TestListenAndAdminOnOnePort(t *testing.T) {
	for _, tc := range []struct {
		listen, admin string
		clash         bool
	}{
		{":8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"0.0.0.0:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "[::]:8080", true},
		{"0.0.0.0:8080", "[::1]:8080", false},
		{"127.0.0.1:8080", "127.0.0.2:8080", false},
		{":8080", "127.0.0.1:8081", false},
		{":0", "127.0.0.1:0", false},
	} {
		_, _, err := loadConfig([]string{"-listen", tc.listen, "-admin.listen", tc.admin}, env(nil), &bytes.Buffer{})
		clash := err != nil && strings.Contains(err.Error(), "the same address as listen")
		if clash != tc.clash {
			t.Errorf("listen %s, admin.listen %s: err %v, want clash %v", tc.listen, tc.admin, err, tc.clash)
		}
	}
}
