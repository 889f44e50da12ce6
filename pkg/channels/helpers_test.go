package channels

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/xh-control/gateway/internal/gatewaytest"
	"github.com/xh-control/gateway/pkg/auth"
	"github.com/xh-control/gateway/pkg/broker"
	rawhandler "github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/namespace"
	"github.com/xh-control/gateway/pkg/poller"
)

const testSecret = "channels-test-secret-at-least-32-bytes"

// testNamespaces: "chat" is the demo namespace (anonymous subscribe and
// publish, history with recovery, presence, join/leave); channels without
// a namespace allow clients but keep nothing; "priv" allows nothing
// without a token; "user" has user-limited channels; "hist" has a history
// of 3 publications.
func testNamespaces() namespace.Config {
	open := namespace.Options{
		AllowSubscribeForClient: true, AllowSubscribeForAnonymous: true,
		AllowPublishForClient: true, AllowPublishForAnonymous: true,
		AllowPresenceForSubscriber: true, AllowPresenceForAnonymous: true,
		AllowHistoryForSubscriber: true, AllowHistoryForAnonymous: true,
	}
	chat := open
	chat.HistorySize, chat.HistoryTTL = 100, 300*time.Second
	chat.ForceRecovery, chat.Presence, chat.JoinLeave, chat.ForcePushJoinLeave = true, true, true, true
	hist := open
	hist.HistorySize, hist.HistoryTTL, hist.AllowRecovery, hist.AllowPositioning = 3, 300*time.Second, true, true
	user := namespace.Options{AllowUserLimitedChannels: true}
	return namespace.Config{
		WithoutNamespace: open,
		Namespaces: []namespace.Namespace{
			{Name: "chat", Options: chat},
			{Name: "priv", Options: namespace.Options{Presence: true}},
			{Name: "user", Options: user},
			{Name: "hist", Options: hist},
		},
	}
}

type testEnv struct {
	node *Node
	srv  *poller.Server
	addr string
	url  string
}

// startNode serves a node on the real poller at /connection/websocket
// (beside /ws) on a loopback port until the test ends.
func startNode(t testing.TB, mod func(o *Options, p *poller.Options)) *testEnv {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	rules, err := namespace.New(testNamespaces())
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.Config{HMACSecret: testSecret}, log)
	if err != nil {
		t.Fatal(err)
	}
	mem := broker.NewMemory(broker.MemoryOptions{})
	opts := Options{
		Config:   Config{AllowAnonymousConnectWithoutToken: true, Version: "test"},
		Broker:   mem,
		Presence: mem,
		Tokens:   verifier,
		Channels: rules,
		Logger:   log,
	}
	popts := poller.Options{Logger: log}
	if mod != nil {
		mod(&opts, &popts)
	}
	n := NewNode(opts)
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	popts.Endpoints = append(popts.Endpoints, poller.Endpoint{
		Path: "/connection/websocket", Handler: n.Handler(),
		Subprotocols: Subprotocols, QuerySubprotocol: QuerySubprotocol,
		KeepHeaders: n.KeepHeaders(), OnHeaders: n.OnHeaders,
	})
	srv, addr := gatewaytest.Serve(t, popts, rawhandler.Echo{})
	t.Cleanup(func() {
		n.Close()
		mem.Close(context.Background())
		verifier.Close()
	})
	return &testEnv{node: n, srv: srv, addr: addr, url: "ws://" + addr + "/connection/websocket"}
}

// token signs HS256 claims with the test secret.
func token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wsClient is a raw protocol client over gorilla/websocket.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	in   []string // JSON messages read but not yet consumed
}

func dialJSON(t testing.TB, url string, d *websocket.Dialer) *wsClient {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, conn: c}
}

// send writes one text message.
func (c *wsClient) send(lines ...string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(strings.Join(lines, "\n"))); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next JSON reply (one line of a message).
func (c *wsClient) next() string {
	c.t.Helper()
	s, err := c.nextErr(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return s
}

func (c *wsClient) nextErr(timeout time.Duration) (string, error) {
	for len(c.in) == 0 {
		c.conn.SetReadDeadline(time.Now().Add(timeout))
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			return "", err
		}
		c.in = append(c.in, strings.Split(string(p), "\n")...)
	}
	s := c.in[0]
	c.in = c.in[1:]
	return s, nil
}

// nextNonPing skips server pings.
func (c *wsClient) nextNonPing() string {
	c.t.Helper()
	for {
		if s := c.next(); s != "{}" {
			return s
		}
	}
}

// expectClose reads until the connection closes and checks the code.
func (c *wsClient) expectClose(code int) {
	c.t.Helper()
	for {
		_, err := c.nextErr(5 * time.Second)
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != code {
			c.t.Fatalf("got %v, want close %d", err, code)
		}
		return
	}
}

// connect sends a connect (anonymous unless tok) and returns the client ID.
func (c *wsClient) connect(tok string) string {
	c.t.Helper()
	c.send(`{"id":1,"connect":{"token":"` + tok + `"}}`)
	var r struct {
		ID      int `json:"id"`
		Connect struct {
			Client string `json:"client"`
		} `json:"connect"`
	}
	s := c.next()
	if err := json.Unmarshal([]byte(s), &r); err != nil || r.Connect.Client == "" {
		c.t.Fatalf("connect reply %s: %v", s, err)
	}
	return r.Connect.Client
}

func expectJSON(t testing.TB, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// cutEpoch removes the `,"epoch":"..."` member of a publication line and
// returns the line without it and the epoch ("" when there is none).
func cutEpoch(line string) (rest, epoch string) {
	const key = `,"epoch":"`
	i := strings.Index(line, key)
	if i < 0 {
		return line, ""
	}
	j := strings.IndexByte(line[i+len(key):], '"')
	if j < 0 {
		return line, ""
	}
	return line[:i] + line[i+len(key)+j+1:], line[i+len(key) : i+len(key)+j]
}
