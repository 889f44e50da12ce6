package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSecretsAreRedacted: a set admin.token never appears in -print-config
// or -h, from a flag, the environment or a file.
func TestSecretsAreRedacted(t *testing.T) {
	const secret = "s3cr3t-token-value"
	file := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(file, []byte("admin:\n  token: "+secret+"\n"), 0o600)
	for name, args := range map[string][]string{
		"flag": {"-print-config", "-admin.token", secret},
		"file": {"-print-config", "-config", file},
		"help": {"-h", "-admin.token", secret},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			run(args, &out, &errOut)
			all := out.String() + errOut.String()
			if strings.Contains(all, secret) {
				t.Fatalf(
					"secret printed:\n%s",
					all,
				)
			}
			if name != "help" && !strings.Contains(out.String(), "token: <redacted>") {
				t.Fatalf(
					"no redacted token in:\n%s",
					out.String(),
				)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		t.Setenv("GATEWAY_ADMIN_TOKEN", secret)
		var out bytes.Buffer
		run([]string{"-print-config"}, &out, &out)
		if strings.Contains(out.String(), secret) || !strings.Contains(out.String(), "token: <redacted>") {
			t.Fatalf(
				"print-config:\n%s",
				out.String(),
			)
		}
	})
	t.Run("unset stays empty", func(t *testing.T) {
		var out bytes.Buffer
		run([]string{"-print-config"}, &out, &out)
		if !strings.Contains(out.String(), `token: ""`) {
			t.Fatalf(
				"print-config:\n%s",
				out.String(),
			)
		}
	})
}

// TestSecretLookingOptionsAreMarked keeps future options such as api.key or
// a token HMAC secret from being printed: every option whose name says it
// holds a secret must carry secret:"true".
func TestSecretLookingOptionsAreMarked(t *testing.T) {
	for _, o := range options(&Config{}) {
		last := o.key[strings.LastIndexByte(o.key, '.')+1:]
		if strings.Contains(last, "public") || strings.HasPrefix(last, "allow_") || strings.HasSuffix(last, "_file") {
			continue // public keys, permissions and paths of key files are not secrets
		}
		for _, word := range []string{"token", "secret", "key", "password"} {
			if strings.Contains(last, word) && !o.secret {
				t.Errorf(
					"option %s looks secret but has no secret:\"true\" tag",
					o.key,
				)
			}
		}
	}
	var c Config
	f, _ := reflect.TypeOf(c.Admin).FieldByName("Token")
	if f.Tag.Get("secret") != "true" {
		t.Fatal("admin.token is not marked secret")
	}
}

// TestListenAddressesAreValidated: bad addresses fail with the other
// configuration errors (exit 2, on stderr, naming the option).
func TestListenAddressesAreValidated(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"-listen", "nonsense"}, want: `listen: "nonsense": want host:port`},
		{env: map[string]string{"GATEWAY_LISTEN": "bad:port:x"}, want: `listen: "bad:port:x": want host:port`},
		{args: []string{"-listen", ":99999"}, want: "port 99999 is out of range"},
		{args: []string{"-listen", ":nope"}, want: `unknown port "nope"`},
		{args: []string{"-listen", "a b:80"}, want: "neither an IP address nor a name"},
		{args: []string{"-admin.listen", "9090"}, want: `admin.listen: "9090": want host:port`},
	}
	for _, tc := range cases {
		_, _, err := loadConfig(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf(
				"%v %v: error %v, want one with %q",
				tc.args, tc.env, err, tc.want,
			)
		}
	}
	for _, good := range []string{":8080", "127.0.0.1:0", "[::1]:8080", "localhost:http", "gw.example.com:443"} {
		if _, _, err := loadConfig([]string{"-listen", good}, env(nil), &bytes.Buffer{}); err != nil {
			t.Errorf(
				"%s refused: %v",
				good, err,
			)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"-listen", "nonsense"}, &out, &errOut); code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "listen") {
		t.Fatalf(
			"exit %d, stdout %q, stderr %q",
			code, out.String(), errOut.String(),
		)
	}
}

// TestBadFlagIsShort: a bad flag prints the error and where the options
// are, not the whole usage.
func TestBadFlagIsShort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-limits.max-message-size", "huge"}, `gateway: invalid value "huge" for flag -limits.max-message-size: size "huge": want a number of bytes such as 65536, 64KiB or 1MiB` + "\nrun 'gateway -h' for the options\n"},
		{[]string{"-sesion.ping-interval", "5s"}, "gateway: flag provided but not defined: -sesion.ping-interval (did you mean -session.ping-interval?)\nrun 'gateway -h' for the options\n"},
		{[]string{"serve"}, "gateway: unexpected argument \"serve\": options are flags\nrun 'gateway -h' for the options\n"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 2 || errOut.String() != tc.want || out.Len() != 0 {
			t.Errorf(
				"%v: exit %d, stderr\n%s\nwant\n%s",
				tc.args, code, errOut.String(), tc.want,
			)
		}
	}
}

// TestYAMLErrorsNameLineAndKey: a typo names its line and the nearest valid
// key; a bad value names its key; all problems are reported at once.
func TestYAMLErrorsNameLineAndKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"log:\n  level: info\nsesion:\n  ping_interval: 5s\n", `line 3: unknown key "sesion" (did you mean "session"?)`},
		{"session:\n  ping_intervl: 5s\n", `line 2: unknown key "session.ping_intervl" (did you mean "session.ping_interval"?)`},
		{"colour: red\n", `line 1: unknown key "colour"`},
		{"limits:\n  max_message_size: huge\n", `line 2: limits.max_message_size: size "huge": want a number of bytes such as 65536, 64KiB or 1MiB`},
		{"session:\n  queue_max_messages: lots\n", `line 2: session.queue_max_messages: want an integer, got "lots"`},
		{"session:\n  write_timeout: soon\n", `line 2: session.write_timeout: want a duration such as 30s, got "soon"`},
		{"session: 5\n", `line 1: session: want keys`},
		{"lisen: :1\npth: /x\n", "line 1: unknown key \"lisen\" (did you mean \"listen\"?)\nline 2: unknown key \"pth\" (did you mean \"path\"?)"},
	} {
		err := decodeYAML([]byte(tc.yaml), &Config{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf(
				"%q: error\n%v\nwant\n%s",
				tc.yaml, err, tc.want,
			)
		}
	}
	if err := decodeYAML([]byte("log:\n"), &Config{}); err != nil {
		t.Fatalf(
			"empty section: %v",
			err,
		)
	}
}

func TestUnknownEnvironmentVariablesAreReported(t *testing.T) {
	got := unknownEnv([]string{"PATH=/bin", "GATEWAY_LISTEN=:1", "GATEWAY_CONFIG=x", "GATEWAY_ADMIN_TOKN=t", "GATEWAY_WHATEVER=1", "GATEWAY_SESSION_WRITE_TIMEOUT=1s"})
	want := []string{
		"GATEWAY_ADMIN_TOKN matches no option and is ignored (did you mean GATEWAY_ADMIN_TOKEN?)",
		"GATEWAY_WHATEVER matches no option and is ignored",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf(
			"got %q\nwant %q",
			got, want,
		)
	}
}

func TestRestartNeededNamesChangedOptions(t *testing.T) {
	running, _, err := loadConfig(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := loadConfig([]string{"-listen", ":9999", "-log.level", "debug", "-origins.allowed", "https://a.example",
		"-admin.token", "x", "-limits.max-message-size", "2MiB"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := restartNeeded(running, next); !reflect.DeepEqual(got, []string{"listen", "limits.max_message_size", "admin.token"}) {
		t.Fatalf(
			"restart needed for %q",
			got,
		)
	}
	if got := restartNeeded(running, running); len(got) != 0 {
		t.Fatalf(
			"unchanged configuration: %q",
			got,
		)
	}
}

// TestPortInUseNamesTheOption: a taken port says which option to change.
func TestPortInUseNamesTheOption(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = net.Listen("tcp", ln.Addr().String())
	got := listenError("admin.listen", ln.Addr().String(), err).Error()
	want := "cannot listen on admin.listen " + ln.Addr().String() +
		": the address is in use by another process; stop it or choose another address with admin.listen (-admin.listen, GATEWAY_ADMIN_LISTEN)"
	if got != want {
		t.Fatalf(
			"got  %s\nwant %s",
			got, want,
		)
	}
}

// TestDemoURL: the start log points at a page a browser on this host can
// open, also when the listener takes every address.
func TestDemoURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:8080":      "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/",
		"127.0.0.1:8081": "http://127.0.0.1:8081/",
		"[::1]:8082":     "http://[::1]:8082/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := demoURL(a); got != want {
			t.Errorf("demoURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// TestPrintedConfigDoesNotLoadPlaceholderSecrets: -print-config's output,
// loaded back as a configuration file, must not run with "<redacted>" as
// the API key, admin token, token HMAC key or NATS credentials (anyone
// could present it); it stops with a line naming each option.
func TestPrintedConfigDoesNotLoadPlaceholderSecrets(t *testing.T) {
	var printed, errOut bytes.Buffer
	args := []string{"-print-config", "-api.key", "k1", "-admin.token", "k2",
		"-channels.client.token.hmac-secret-key", "k3", "-nats.token", "k4", "-nats.password", "k5"}
	if code := run(args, &printed, &errOut); code != 0 {
		t.Fatalf("print-config: exit %d: %s", code, errOut.String())
	}
	file := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(file, printed.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"-config", file, "-print-config"}, &out, &out); code != 2 {
		t.Fatalf("loading the printed configuration: exit %d, want 2:\n%s", code, out.String())
	}
	for _, key := range []string{"api.key", "admin.token", "channels.client.token.hmac_secret_key", "nats.token", "nats.password"} {
		if !strings.Contains(out.String(), key+`: "<redacted>" is what -print-config writes`) {
			t.Errorf("no error for %s in:\n%s", key, out.String())
		}
	}
}

// TestRawPathAndChannelsPathDiffer: one path for both endpoints would serve
// only one of them, silently.
func TestRawPathAndChannelsPathDiffer(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-path", "/connection/websocket", "-print-config"}, &out, &out); code != 2 ||
		!strings.Contains(out.String(), `path "/connection/websocket": the same as channels.path`) {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-path", "/connection/websocket", "-channels.enabled=false", "-print-config"}, &out, &out); code != 0 {
		t.Fatalf("channels off, the path is free: exit %d:\n%s", code, out.String())
	}
}
