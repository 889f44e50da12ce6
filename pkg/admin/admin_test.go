package admin

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xh-control/gateway/internal/gatewaytest"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/handler"
	"github.com/xh-control/gateway/pkg/poller"
)

const token = "s3cret-token"

// setup runs a real gateway server and its admin handler on loopback.
func setup(t *testing.T, opts Options) (*poller.Server, string, *httptest.Server) {
	t.Helper()
	srv, addr := gatewaytest.Serve(t, poller.Options{MaxMessageSize: 4096}, handler.Echo{})
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = 4096
	}
	api := httptest.NewServer(New(srv, opts))
	t.Cleanup(api.Close)
	return srv, addr, api
}

// client is a minimal WebSocket client that reads server frames. Its
// framing is the test's own (wsframe_test.go), not pkg/codec's.
type client struct {
	conn net.Conn
	br   *bufio.Reader
}

func connect(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var k [16]byte
	rand.Read(k[:])
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", base64.StdEncoding.EncodeToString(k[:]))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf(
			"upgrade: %v %v",
			resp, err,
		)
	}
	return &client{conn: c, br: br}
}

// read returns the next complete message's (or control frame's) opcode and
// payload.
func (c *client) read(t *testing.T) (codec.OpCode, []byte) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var msg []byte
	var op byte
	for {
		fin, fop, p, err := readServerFrame(c.br)
		if err != nil {
			t.Fatalf(
				"read: %v",
				err,
			)
		}
		if fop >= 0x8 {
			return codec.OpCode(fop), p
		}
		if fop != 0 {
			op = fop
		}
		msg = append(msg, p...)
		if fin {
			return codec.OpCode(op), msg
		}
	}
}

func call(t *testing.T, method, url, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil && resp.Header.Get("Content-Type") == "application/json" {
		t.Fatalf(
			"bad JSON %q: %v",
			raw, err,
		)
	}
	return resp.StatusCode, out
}

func TestHealthAndReadiness(t *testing.T) {
	srv, _, api := setup(t, Options{})
	if code, _ := call(t, "GET", api.URL+"/healthz", "", ""); code != 200 {
		t.Fatalf(
			"healthz %d",
			code,
		)
	}
	if code, _ := call(t, "GET", api.URL+"/readyz", "", ""); code != 200 {
		t.Fatalf(
			"readyz %d while serving",
			code,
		)
	}
	notServing := httptest.NewServer(New(poller.New(poller.Options{}, handler.Echo{}), Options{}))
	defer notServing.Close()
	if code, _ := call(t, "GET", notServing.URL+"/readyz", "", ""); code != 503 {
		t.Fatalf(
			"readyz %d before listening, want 503",
			code,
		)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	if code, _ := call(t, "GET", api.URL+"/readyz", "", ""); code != 503 {
		t.Fatalf(
			"readyz %d after shutdown, want 503",
			code,
		)
	}
}

func TestPushAPIAuthorization(t *testing.T) {
	_, _, off := setup(t, Options{})
	code, body := call(t, "POST", off.URL+"/api/v1/broadcast", "anything", "hi")
	if code != 403 || !strings.Contains(body["error"].(string), "admin.token") {
		t.Fatalf(
			"no token configured: %d %v",
			code, body,
		)
	}
	_, _, on := setup(t, Options{Token: token})
	for _, auth := range []string{"", "wrong"} {
		if code, _ := call(t, "POST", on.URL+"/api/v1/broadcast", auth, "hi"); code != 401 {
			t.Fatalf(
				"token %q: status %d, want 401",
				auth, code,
			)
		}
	}
	if code, _ := call(t, "GET", on.URL+"/api/v1/nope", token, ""); code != 404 {
		t.Fatalf(
			"unknown endpoint: %d",
			code,
		)
	}
}

func TestBroadcastSendKick(t *testing.T) {
	srv, addr, api := setup(t, Options{Token: token})
	clients := []*client{connect(t, addr), connect(t, addr), connect(t, addr)}
	for srv.Hub().Count() < 3 {
		time.Sleep(time.Millisecond)
	}

	code, body := call(t, "POST", api.URL+"/api/v1/broadcast", token, "news for all")
	if code != 200 || body["delivered"].(float64) != 3 {
		t.Fatalf(
			"broadcast: %d %v",
			code, body,
		)
	}
	for _, c := range clients {
		if op, p := c.read(t); op != codec.OpText || string(p) != "news for all" {
			t.Fatalf(
				"client got %v %q",
				op, p,
			)
		}
	}
	code, _ = call(t, "POST", api.URL+"/api/v1/broadcast?binary=1", token, "\x00\x01")
	if code != 200 {
		t.Fatal("binary broadcast refused")
	}
	if op, _ := clients[0].read(t); op != codec.OpBinary {
		t.Fatalf(
			"binary broadcast arrived as %v",
			op,
		)
	}
	if code, _ := call(t, "POST", api.URL+"/api/v1/broadcast", token, "bad \xff"); code != 400 {
		t.Fatalf(
			"invalid UTF-8 text: %d, want 400",
			code,
		)
	}
	if code, _ := call(t, "POST", api.URL+"/api/v1/broadcast", token, strings.Repeat("x", 4097)); code != 413 {
		t.Fatalf(
			"oversized message: %d, want 413",
			code,
		)
	}

	// Find the first client's session through the list, then send and kick.
	_, list := call(t, "GET", api.URL+"/api/v1/sessions", token, "")
	sessions := list["sessions"].([]any)
	if len(sessions) != 3 {
		t.Fatalf(
			"list: %v",
			list,
		)
	}
	var first string
	local := clients[0].conn.LocalAddr().String()
	for _, s := range sessions {
		if m := s.(map[string]any); m["remote"] == local {
			first = m["id"].(string)
		}
	}
	if first == "" {
		t.Fatalf(
			"no session with remote %s in %v",
			local, sessions,
		)
	}
	code, body = call(t, "POST", api.URL+"/api/v1/sessions/"+first+"/send", token, "just for you")
	if code != 200 {
		t.Fatalf(
			"send: %d %v",
			code, body,
		)
	}
	if _, p := clients[0].read(t); string(p) != "just for you" {
		t.Fatalf(
			"got %q",
			p,
		)
	}
	if code, _ := call(t, "POST", api.URL+"/api/v1/sessions/00000000000000ff/send", token, "x"); code != 404 {
		t.Fatalf(
			"unknown session: %d",
			code,
		)
	}
	if code, _ := call(t, "POST", api.URL+"/api/v1/sessions/nope/send", token, "x"); code != 400 {
		t.Fatalf(
			"malformed id: %d",
			code,
		)
	}
	if code, _ := call(t, "DELETE", api.URL+"/api/v1/sessions/"+first+"?code=1005", token, ""); code != 400 {
		t.Fatalf(
			"kick with code 1005: %d, want 400",
			code,
		)
	}
	if code, _ := call(t, "DELETE", api.URL+"/api/v1/sessions/"+first+"?code=4001&reason=bye", token, ""); code != 200 {
		t.Fatalf(
			"kick: %d",
			code,
		)
	}
	op, p := clients[0].read(t)
	if len(p) < 2 || op != codec.OpClose || int(p[0])<<8|int(p[1]) != 4001 || string(p[2:]) != "bye" {
		t.Fatalf(
			"kicked client got %v %q",
			op, p,
		)
	}
}

func TestSessionListPages(t *testing.T) {
	srv, addr, api := setup(t, Options{Token: token})
	for range 25 {
		connect(t, addr)
	}
	for srv.Hub().Count() < 25 {
		time.Sleep(time.Millisecond)
	}
	seen := map[string]bool{}
	cursor, pages, last := "", 0, ""
	for {
		code, body := call(t, "GET", api.URL+"/api/v1/sessions?limit=10&cursor="+cursor, token, "")
		if code != 200 {
			t.Fatalf(
				"page %d: %d %v",
				pages, code, body,
			)
		}
		pages++
		for _, s := range body["sessions"].([]any) {
			id := s.(map[string]any)["id"].(string)
			if seen[id] || id <= last {
				t.Fatalf(
					"page %d: %s repeated or out of order",
					pages, id,
				)
			}
			seen[id], last = true, id
		}
		if cursor = body["next_cursor"].(string); cursor == "" {
			break
		}
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf(
			"%d pages, %d sessions; want 3 and 25",
			pages, len(seen),
		)
	}
	if code, _ := call(t, "GET", api.URL+"/api/v1/sessions?limit=0", token, ""); code != 400 {
		t.Fatal("limit=0 accepted")
	}
	code, stats := call(t, "GET", api.URL+"/api/v1/stats", token, "")
	if code != 200 || stats["sessions"].(float64) != 25 {
		t.Fatalf(
			"stats: %d %v",
			code, stats,
		)
	}
}

func TestMetricsExposeTheFamilies(t *testing.T) {
	srv, addr, api := setup(t, Options{Token: token, Version: "test-1"})
	c := connect(t, addr)
	for srv.Hub().Count() < 1 {
		time.Sleep(time.Millisecond)
	}
	c.conn.Write(maskedFrame(0x1, []byte("hello")))
	c.read(t)
	bad, _ := net.Dial("tcp", addr)
	fmt.Fprintf(bad, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
	io.ReadAll(bad)
	bad.Close()

	resp, err := http.Get(api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	for _, want := range []string{
		"gateway_connections 1",
		"gateway_connections_total 1",
		`gateway_handshake_rejections_total{reason="not_found"} 1`,
		`gateway_handshake_rejections_total{reason="ip_limit"} 0`,
		`gateway_handshake_rejections_total{reason="handshake_rate"} 0`,
		"gateway_handshakes_queued 0",
		"gateway_connection_ips 1",
		`gateway_messages_received_total{opcode="text"} 1`,
		`gateway_messages_sent_total{opcode="text"} 1`,
		`gateway_bytes_received_total{opcode="text"} 5`,
		"gateway_write_queue_drops_total 0",
		"gateway_slow_consumer_closes_total 0",
		"gateway_worker_pool_queue_depth",
		"gateway_worker_pool_busy_workers",
		"gateway_flush_duration_seconds_bucket",
		"gateway_handshake_duration_seconds_count 1",
		`gateway_build_info{version="test-1"} 1`,
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf(
				"/metrics lacks %q",
				want,
			)
		}
	}
	c.conn.Write(maskedFrame(0x8, []byte{0x03, 0xe8}))
	c.read(t)
	for srv.Hub().Count() > 0 {
		time.Sleep(time.Millisecond)
	}
	resp, _ = http.Get(api.URL + "/metrics")
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`gateway_close_codes_received_total{code="1000"} 1`, `gateway_close_codes_sent_total{code="1000"} 1`, "gateway_connections 0"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf(
				"/metrics lacks %q after a close",
				want,
			)
		}
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	_, _, off := setup(t, Options{})
	if resp, _ := http.Get(off.URL + "/debug/pprof/"); resp.StatusCode != 404 {
		t.Fatalf(
			"pprof served although disabled: %d",
			resp.StatusCode,
		)
	}
	_, _, on := setup(t, Options{Pprof: true})
	if resp, _ := http.Get(on.URL + "/debug/pprof/"); resp.StatusCode != 200 {
		t.Fatalf(
			"pprof not served although enabled: %d",
			resp.StatusCode,
		)
	}
}

// TestWrongMethodIs405: every admin route answers a method it does not
// serve with 405 and an Allow header listing the ones it does, token or
// not; an unknown path stays 404.
func TestWrongMethodIs405(t *testing.T) {
	_, _, api := setup(t, Options{Token: token})
	cases := []struct{ method, path, allow string }{
		{"GET", "/api/v1/broadcast", "POST"},
		{"PUT", "/api/v1/broadcast", "POST"},
		{"GET", "/api/v1/sessions/00000000000000ff/send", "POST"},
		{"POST", "/api/v1/sessions/00000000000000ff", "GET, HEAD, DELETE"},
		{"DELETE", "/api/v1/sessions", "GET, HEAD"},
		{"POST", "/api/v1/stats", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/readyz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
	}
	for _, tc := range cases {
		for _, auth := range []string{token, ""} {
			req, _ := http.NewRequest(tc.method, api.URL+tc.path, nil)
			if auth != "" {
				req.Header.Set("Authorization", "Bearer "+auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
				t.Errorf(
					"%s %s (token %v): %d Allow %q, want 405 Allow %q",
					tc.method, tc.path, auth != "", resp.StatusCode, resp.Header.Get("Allow"), tc.allow,
				)
			}
		}
	}
	if code, _ := call(t, "GET", api.URL+"/api/v1/nope", token, ""); code != 404 {
		t.Fatalf(
			"unknown endpoint: %d, want 404",
			code,
		)
	}
}
