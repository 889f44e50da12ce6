package sdk

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signHS256 signs claims with the gateway's HMAC secret.
func signHS256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(tokenSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// backend is what an application's backend is to the SDK: it hands out
// connection and subscription tokens. For the tests it also controls the
// TCP proxy between the SDK and the gateway:
//
//	GET  /token?user=U&ttl=S             connection JWT (sub U, exp now+S)
//	GET  /subtoken?user=U&channel=C&ttl=S subscription JWT
//	POST /cut                            cut every proxied connection and refuse new ones
//	POST /hold                           refuse new connections, keep the others
//	POST /restore                        let connections through again
//
// extra, when given, adds handlers.
func newBackend(t *testing.T, proxy *cutProxy, extra ...func(*http.ServeMux)) *httptest.Server {
	ttl := func(r *http.Request) time.Duration {
		s, err := strconv.Atoi(r.URL.Query().Get("ttl"))
		if err != nil || s <= 0 {
			s = 3600
		}
		return time.Duration(s) * time.Second
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, signHS256(t, jwt.MapClaims{
			"sub": r.URL.Query().Get("user"),
			"exp": time.Now().Add(ttl(r)).Unix(),
		}))
	})
	mux.HandleFunc("GET /subtoken", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, signHS256(t, jwt.MapClaims{
			"sub":     r.URL.Query().Get("user"),
			"channel": r.URL.Query().Get("channel"),
			"exp":     time.Now().Add(ttl(r)).Unix(),
		}))
	})
	mux.HandleFunc("POST /cut", func(w http.ResponseWriter, r *http.Request) { proxy.cut() })
	mux.HandleFunc("POST /hold", func(w http.ResponseWriter, r *http.Request) { proxy.hold() })
	mux.HandleFunc("POST /restore", func(w http.ResponseWriter, r *http.Request) { proxy.restore() })
	for _, add := range extra {
		add(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// cutProxy forwards TCP connections to the gateway. cut closes every
// forwarded connection at the socket, both sides, as a network failure
// would, and closes new ones at once until restore.
type cutProxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	cuts  int // connections closed by cut
}

func newCutProxy(t *testing.T, upstream string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close()
		return
	}
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN: the connection is lost, not closed
		}
		c.Close()
		p.cuts++
	}
}

func (p *cutProxy) hold() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
