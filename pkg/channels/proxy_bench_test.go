package channels

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/proxy"
)

// benchBackend answers connect and publish after delay.
func benchBackend(b *testing.B, delay time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if delay > 0 {
			time.Sleep(delay)
		}
		if strings.HasSuffix(r.URL.Path, "/connect") {
			io.WriteString(w, `{"result":{"user":"u"}}`)
			return
		}
		io.WriteString(w, `{"result":{}}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds p50/p99 latency and process CPU per operation (client,
// gateway and backend share the process: compare with the baseline).
func report(b *testing.B, lat []time.Duration, cpu time.Duration) {
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkConnect: one connect per op (dial, connect, reply, close) with
// a token (baseline) or through the connect proxy to a backend answering
// in 0 or 1 ms.
func BenchmarkConnect(b *testing.B) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		proxy bool
	}{{"token", 0, false}, {"proxy-0ms", 0, true}, {"proxy-1ms", time.Millisecond, true}} {
		b.Run(tc.name, func(b *testing.B) {
			be := benchBackend(b, tc.delay)
			env := startNode(b, func(o *Options, _ *poller.Options) {
				if tc.proxy {
					p, _ := proxy.New("connect", proxy.Config{Endpoint: be.URL + "/connect"}, nil)
					o.Proxies.Connect = p
				}
			})
			tok := ""
			if !tc.proxy {
				tok = token(b, jwt.MapClaims{"sub": "u"})
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu := cpuNow()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				c := dialJSON(b, env.url, nil)
				c.connect(tok)
				lat = append(lat, time.Since(start))
				c.conn.Close()
			}
			report(b, lat, cpuNow()-cpu)
		})
	}
}

// BenchmarkPublish: one publish round trip per op, without and through
// the publish proxy (backend answers at once).
func BenchmarkPublish(b *testing.B) {
	for _, viaProxy := range []bool{false, true} {
		b.Run(fmt.Sprintf("proxy=%v", viaProxy), func(b *testing.B) {
			be := benchBackend(b, 0)
			env := startNode(b, func(o *Options, _ *poller.Options) {
				o.Channels = proxyNamespaces(b)
				p, _ := proxy.New("publish", proxy.Config{Endpoint: be.URL + "/publish"}, nil)
				o.Proxies.Publish = p
			})
			ch := "open"
			if viaProxy {
				ch = "px:bench"
			}
			c := dialJSON(b, env.url, nil)
			c.connect("")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu := cpuNow()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				c.send(`{"id":2,"publish":{"channel":"` + ch + `","data":{"n":1}}}`)
				if s := c.nextNonPing(); s != `{"id":2,"publish":{}}` {
					b.Fatal(s)
				}
				lat = append(lat, time.Since(start))
			}
			report(b, lat, cpuNow()-cpu)
		})
	}
}
