package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestChannelsDemoDefaults: the built-in configuration serves the channel
// protocol at /connection/websocket beside /ws, anonymous clients may
// subscribe and publish in chat:* with history, the start-up log says so,
// and the channel metrics are on the admin listener.
func TestChannelsDemoDefaults(t *testing.T) {
	p := startGateway(t)
	if !p.Logged("channel protocol enabled") || !p.Logged("namespace open to anonymous clients") {
		t.Fatal("the start-up log does not describe the channel protocol")
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr+"/connection/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"chat:lobby"}}`+"\n"+
		`{"id":3,"publish":{"channel":"chat:lobby","data":{"text":"hi"}}}`+"\n"+`{"id":4,"history":{"channel":"chat:lobby","limit":10}}`))
	var lines []string
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(lines) < 6 { // connect, subscribe, own join, publish, publication, history
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, strings.Split(string(msg), "\n")...)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{`{"id":3,"publish":{}}`, `"pub":{"data":{"text":"hi"}`, `{"id":4,"history":{"publications":[{"data":{"text":"hi"}`} {
		if !strings.Contains(all, want) {
			t.Fatalf("missing %s in\n%s", want, all)
		}
	}
	// /ws still echoes.
	d := dial(t, p.Addr, nil)
	d.WriteMessage(websocket.TextMessage, []byte("echo?"))
	d.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := d.ReadMessage(); err != nil || string(m) != "echo?" {
		t.Fatalf("/ws: %q %v", m, err)
	}
	resp, err := http.Get("http://" + p.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`gateway_channels_commands_total{method="publish",result="ok"} 1`)) {
		t.Fatal("channel metrics missing from /metrics")
	}
}

// TestChannelsTokenSecretNeverPrinted: -print-config redacts the token key.
func TestChannelsTokenSecretNeverPrinted(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-print-config", "-channels.client.token.hmac-secret-key", "s3cr3t-value"}, &out, &errOut)
	if code != 0 || bytes.Contains(out.Bytes(), []byte("s3cr3t-value")) || !bytes.Contains(out.Bytes(), []byte("hmac_secret_key: <redacted>")) {
		t.Fatalf("exit %d, output:\n%s%s", code, out.String(), errOut.String())
	}
}

// TestChannelsSIGTERMSends3001: on SIGTERM channel clients are told
// "shutdown" (3001, the SDKs reconnect), all at once or spread over
// shutdown.spread.
func TestChannelsSIGTERMSends3001(t *testing.T) {
	t.Run("at once", func(t *testing.T) { sigtermSends3001(t) })
	t.Run("spread", func(t *testing.T) { sigtermSends3001(t, "-shutdown.spread", "500ms") })
}

func sigtermSends3001(t *testing.T, args ...string) {
	p := startGateway(t, args...)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+p.Addr+"/connection/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{}}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGTERM)
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 3001 {
		t.Fatalf("got %v, want close 3001", err)
	}
}

// TestChannelsWarnWhenEveryClientIsRefused: anonymous connect off and no
// token key refuses every client; the start-up log warns and names the key.
func TestChannelsWarnWhenEveryClientIsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		warn bool
	}{
		{[]string{"-channels.client.allow-anonymous-connect-without-token=false"}, true},
		{[]string{"-channels.client.allow-anonymous-connect-without-token=false", "-channels.client.token.hmac-secret-key", "k"}, false},
		{nil, false},
	} {
		cfg, _, err := loadConfig(tc.args, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.WarnLevel)
		rt, _, err := startChannels(cfg, zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		rt.stop()
		warned := logs.FilterMessageSnippet("refuses every client").FilterMessageSnippet("GATEWAY_CHANNELS_CLIENT_TOKEN_HMAC_SECRET_KEY").Len() == 1
		if warned != tc.warn {
			t.Errorf("%v: warned %v, want %v (%v)", tc.args, warned, tc.warn, logs.All())
		}
	}
}
