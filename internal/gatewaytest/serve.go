package gatewaytest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/poller"
	"github.com/xh-control/gateway/pkg/session"
)

// Serve runs a gateway server in this process on a free loopback port until
// the test ends, and returns it with its address.
func Serve(t testing.TB, opts poller.Options, h session.Handler) (*poller.Server, string) {
	t.Helper()
	srv := poller.New(opts, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	for !srv.Ready() {
		time.Sleep(time.Millisecond)
	}
	return srv, ln.Addr().String()
}
