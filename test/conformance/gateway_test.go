package conformance

import (
	"fmt"
	"os"
	"testing"

	"github.com/xh-control/gateway/internal/gatewaytest"
)

// gateways are the binaries under test: one on the built-in defaults, one
// with compression enabled. Both listen on loopback.
var plainAddr, deflateAddr string

func TestMain(m *testing.M) {
	os.Exit(runWithGateways(m))
}

func runWithGateways(m *testing.M) int {
	bin, cleanup, err := gatewaytest.BuildTemp()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	plain, err := gatewaytest.Start(bin, nil, "-admin.listen", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer plain.Stop()
	deflate, err := gatewaytest.Start(bin, nil, "-admin.listen", "", "-compression.enabled", "-compression.min-size", "1")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer deflate.Stop()
	plainAddr, deflateAddr = plain.Addr, deflate.Addr
	return m.Run()
}

// testCase is one conformance case: an Autobahn-style ID, what it sends and
// what it expects, in run.
type testCase struct {
	id   string
	desc string
	run  func(p *peer)
}

// runCases runs each case on a fresh connection to addr.
func runCases(t *testing.T, addr string, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.id+" "+tc.desc, func(t *testing.T) {
			p := dial(t, addr)
			defer p.conn.Close()
			tc.run(p)
		})
	}
}
