package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBrokerOptions: the broker keys load from env and flags into the
// engine's options, and bad combinations are refused with the key named.
func TestBrokerOptions(t *testing.T) {
	cfg, _, err := loadConfig([]string{"-broker", "nats", "-nats.url", "nats://a:4222,nats://b:4222", "-node-id", "7"},
		env(map[string]string{"GATEWAY_NATS_TOKEN": "s3cret", "GATEWAY_NATS_PRESENCE_TTL": "90s"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.natsOptions(nil)
	if o.Name != "7" || len(o.URLs) != 2 || o.URLs[1] != "nats://b:4222" || o.Token != "s3cret" || o.PresenceTTL.String() != "1m30s" || o.Server.Name != "gateway-7" {
		t.Fatalf("natsOptions = %+v", o.Redacted())
	}
	var out bytes.Buffer
	run([]string{"-broker", "nats", "-print-config"}, &out, &out)
	if strings.Contains(out.String(), "s3cret") {
		t.Fatal("print-config shows the NATS token")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-broker", "redis"}, `broker "redis"`},
		{[]string{"-broker", "nats", "-nats.embedded"}, "nats.server.store_dir"},
		{[]string{"-broker", "nats", "-nats.embedded", "-nats.server.store-dir", "/tmp/x", "-nats.cluster.port", "6222"}, "nats.cluster.name"},
		{[]string{"-broker", "nats", "-nats.presence-ttl", "25s"}, "nats.presence_ttl"},
		{[]string{"-broker", "nats", "-nats.replicas", "-1"}, "nats.replicas"},
	} {
		_, _, err := loadConfig(c.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.want)
		}
	}
	// presence_ttl 26s is longer than the 25s update interval: accepted.
	if _, _, err := loadConfig([]string{"-broker", "nats", "-nats.presence-ttl", "26s"}, env(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestReadinessWithoutNATS: /readyz says degraded (200) while NATS is
// down, 503 with nats.ready_requires_nats, and passes through when up.
func TestReadinessWithoutNATS(t *testing.T) {
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"sessions":0,"status":"ready"}`+"\n")
	})
	up := false
	e := &engine{healthy: func() bool { return up }}
	get := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(withReadiness(admin, e, false)); code != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"nats":false`) {
		t.Fatalf("NATS down: %d %s, want 200 degraded", code, body)
	}
	if code, body := get(withReadiness(admin, e, true)); code != 503 || !strings.Contains(body, "NATS unreachable") {
		t.Fatalf("NATS down, ready_requires_nats: %d %s, want 503", code, body)
	}
	up = true
	for _, req := range []bool{false, true} {
		if code, body := get(withReadiness(admin, e, req)); code != 200 || body != `{"sessions":0,"status":"ready"}`+"\n" {
			t.Fatalf("NATS up: %d %s, want the admin handler's answer", code, body)
		}
	}
}

// TestPrintConfigRedactsNATSURL: a password or token in nats.url's user info
// never reaches -print-config, and every secret reads the same <redacted>.
func TestPrintConfigRedactsNATSURL(t *testing.T) {
	t.Setenv("GATEWAY_NATS_URL", "nats://u:s3cr3t-pw@127.0.0.1:4222,nats://s3cr3t-tok@h:4222")
	t.Setenv("GATEWAY_NATS_PASSWORD", "s3cr3t-np")
	var out, errOut bytes.Buffer
	if code := run([]string{"-print-config"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	s := out.String()
	for _, want := range []string{"- nats://u:REDACTED@127.0.0.1:4222\n", "- nats://REDACTED@h:4222\n", "password: <redacted>\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
	if strings.Contains(s, "s3cr3t") {
		t.Errorf("a secret in:\n%s", s)
	}
}
