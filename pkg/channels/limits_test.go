package channels

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/ratelimit"
)

// TestCommandRateError: with a burst of 10 and a rate of 1/s, a frame of
// 30 commands gets exactly 10 answers and 20 "too many requests".
func TestCommandRateError(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) {
		o.CommandRate = ratelimit.Limit{Rate: 1, Burst: 11} // the connect takes one
	})
	c := dialJSON(t, env.url, nil)
	c.connect("")
	var lines []string
	for i := 0; i < 30; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":%d,"publish":{"channel":"open","data":{}}}`, 2+i))
	}
	c.send(lines...)
	ok, limited := 0, 0
	for i := 0; i < 30; i++ {
		switch s := c.next(); {
		case s == fmt.Sprintf(`{"id":%d,"publish":{}}`, 2+i):
			ok++
		case s == fmt.Sprintf(`{"id":%d,"error":{"code":111,"message":"too many requests","temporary":true}}`, 2+i):
			limited++
		default:
			t.Fatalf("reply %d: %s", i, s)
		}
	}
	if ok != 10 || limited != 20 {
		t.Fatalf("%d answered, %d limited; want 10 and 20", ok, limited)
	}
}

func TestCommandRateDisconnect(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) {
		o.CommandRate = ratelimit.Limit{Rate: 1, Burst: 3}
		o.CommandRateDisconnect = true
	})
	c := dialJSON(t, env.url, nil)
	c.connect("")
	c.send(`{"id":2,"publish":{"channel":"open","data":{}}}`, `{"id":3,"publish":{"channel":"open","data":{}}}`)
	expectJSON(t, c.next(), `{"id":2,"publish":{}}`)
	expectJSON(t, c.next(), `{"id":3,"publish":{}}`)
	c.send(`{"id":4,"publish":{"channel":"open","data":{}}}`)
	c.expectClose(3013)
}

// TestFloodClientLimited: one client sends 10,000 commands a second for
// 2 s while 100 clients publish and receive; the flood is answered 111
// past its rate and the others keep their pace.
func TestFloodClientLimited(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) {
		o.CommandRate = ratelimit.Limit{Rate: 100, Burst: 50}
	})
	flood := dialJSON(t, env.url, nil)
	flood.connect("")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, limited int
	wg.Add(2)
	go func() { // reader
		defer wg.Done()
		for {
			s, err := flood.nextErr(3 * time.Second)
			if err != nil {
				return
			}
			if strings.Contains(s, `"code":111`) {
				limited++
			}
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for id := 2; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var lines []string
			for i := 0; i < 100; i++ { // 100 per 10 ms: 10,000/s
				lines = append(lines, fmt.Sprintf(`{"id":%d,"presence_stats":{"channel":"chat:x"}}`, id))
				id++
			}
			if flood.conn.WriteMessage(1, []byte(strings.Join(lines, "\n"))) != nil {
				return
			}
			sent += len(lines)
		}
	}()
	var lat []time.Duration
	var mu sync.Mutex
	var cwg sync.WaitGroup
	for i := 0; i < 100; i++ {
		cwg.Add(1)
		go func(i int) {
			defer cwg.Done()
			c := dialJSON(t, env.url, nil)
			c.connect("")
			ch := fmt.Sprintf("n%d", i)
			c.send(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`)
			c.next()
			for j := 0; j < 10; j++ {
				start := time.Now()
				c.send(fmt.Sprintf(`{"id":%d,"publish":{"channel":"%s","data":{}}}`, 3+j, ch))
				c.next()
				c.nextNonPing()
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}(i)
	}
	cwg.Wait()
	close(stop)
	flood.conn.Close()
	wg.Wait()
	p99 := percentile(lat, 0.99)
	t.Logf("flood: %d commands sent, %d answered 111; others' publish round trip p99 %v (%d samples)", sent, limited, p99, len(lat))
	if limited == 0 || limited < sent/2 {
		t.Fatalf("flood of %d commands: only %d limited", sent, limited)
	}
	if p99 > latencyBound() {
		t.Fatalf("p99 %v under a flood", p99)
	}
}

// TestUserConnectionLimit: limit 3 admits 3 connections of one user, closes
// the 4th with 3504, and admits one again after a close (released once).
func TestUserConnectionLimit(t *testing.T) {
	env := startNode(t, func(o *Options, _ *poller.Options) { o.UserConnectionLimit = 3 })
	tok := token(t, map[string]any{"sub": "u1"})
	var cs []*wsClient
	for i := 0; i < 3; i++ {
		c := dialJSON(t, env.url, nil)
		c.connect(tok)
		cs = append(cs, c)
	}
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"token":"` + tok + `"}}`)
	c.expectClose(3504)
	// Another user and anonymous connections are not counted against u1.
	dialJSON(t, env.url, nil).connect(token(t, map[string]any{"sub": "u2"}))
	dialJSON(t, env.url, nil).connect("")
	cs[0].conn.Close()
	deadline := time.Now().Add(3 * time.Second)
	for env.node.userConns.Count("u1") != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := env.node.userConns.Count("u1"); n != 2 {
		t.Fatalf("u1 holds %d after a close, want 2", n)
	}
	dialJSON(t, env.url, nil).connect(tok)
	c = dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"token":"` + tok + `"}}`)
	c.expectClose(3504)
	if n := env.node.userConns.Count("u1"); n != 3 {
		t.Fatalf("u1 holds %d, want 3", n)
	}
}

func TestSizeLimits(t *testing.T) {
	b := newTestBackend(t)
	env := startProxyNode(t, b, time.Second, func(o *Options, _ *poller.Options) {
		o.AllowAnonymousConnectWithoutToken = true
		o.MaxPublishSize, o.MaxRPCSize, o.MaxConnectDataSize = 20, 30, 40
	})
	at := func(n int) string { return `"` + strings.Repeat("x", n-2) + `"` } // a JSON string of n bytes
	c := dialJSON(t, env.url, nil)
	c.connectAs(`{"user":"s","p":` + at(40-len(`{"user":"s","p":}`)) + `}`) // exactly 40
	c.send(`{"id":2,"publish":{"channel":"open","data":`+at(20)+`}}`, `{"id":3,"publish":{"channel":"open","data":`+at(21)+`}}`)
	expectJSON(t, c.next(), `{"id":2,"publish":{}}`)
	expectJSON(t, c.next(), `{"id":3,"error":{"code":107,"message":"bad request"}}`)
	c.send(`{"id":4,"rpc":{"method":"a.x","data":`+at(31)+`}}`, `{"id":5,"rpc":{"method":"a.x","data":`+at(30)+`}}`)
	expectJSON(t, c.next(), `{"id":4,"error":{"code":107,"message":"bad request"}}`)
	if s := c.next(); !strings.HasPrefix(s, `{"id":5,"rpc":`) {
		t.Fatalf("rpc at the limit: %s", s)
	}
	c = dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"data":{"user":"s","p":` + at(41-len(`{"user":"s","p":}`)) + `}}}`)
	c.expectClose(3501)
}
