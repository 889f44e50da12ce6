package gatewaytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NATSServer returns the nats-server binary for tests that run a real one:
// $NATS_SERVER, else ~/.cache/gateway-tools/nats-server (where .ci/run
// builds the version go.mod pins), else nats-server on the PATH. Without
// one it skips t, or fails it when CI is set, saying how to build one.
func NATSServer(t testing.TB) string {
	t.Helper()
	home, _ := os.UserHomeDir()
	for _, p := range []string{os.Getenv("NATS_SERVER"), filepath.Join(home, ".cache/gateway-tools/nats-server")} {
		if st, err := os.Stat(p); p != "" && err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	const build = "go build -o ~/.cache/gateway-tools/nats-server github.com/nats-io/nats-server/v2 (in this module)"
	if os.Getenv("CI") != "" {
		t.Fatalf("nats-server is missing and CI is set: %s", build)
	}
	t.Skipf("nats-server is missing; to run this test: %s", build)
	return ""
}
