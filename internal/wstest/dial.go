package wstest

import (
	"net"
	"sync"
	"testing"
)

// DialAll opens n connections with dial (called with 0..n-1) from eight
// goroutines, which have all exited when it returns, and closes them when
// the test ends. The first dial error fails the test.
func DialAll(t testing.TB, n int, dial func(i int) (net.Conn, error)) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	const dialers = 8
	var wg sync.WaitGroup
	errs := make(chan error, dialers)
	for w := range dialers {
		wg.Go(func() {
			for i := w; i < n; i += dialers {
				c, err := dial(i)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return conns
}
