package cluster

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestDeployClusterConfigs: the three node files of deploy/cluster load,
// select the NATS broker, and differ in node_id and listeners, so that the
// example starts three distinct nodes.
func TestDeployClusterConfigs(t *testing.T) {
	seen := map[string]bool{}
	for i := 1; i <= 3; i++ {
		out, err := exec.Command(gateway(t), "-config", fmt.Sprintf("../../deploy/cluster/node%d.yaml", i), "-print-config").CombinedOutput()
		if err != nil {
			t.Fatalf("node%d.yaml: %v\n%s", i, err, out)
		}
		cfg := string(out)
		for _, want := range []string{"broker: nats", fmt.Sprintf("node_id: %d", i), fmt.Sprintf("listen: 127.0.0.1:808%d", i), fmt.Sprintf("listen: 127.0.0.1:909%d", i)} {
			if !strings.Contains(cfg, want) {
				t.Errorf("node%d.yaml: printed configuration lacks %q", i, want)
			}
		}
		for _, line := range strings.Split(cfg, "\n") {
			if strings.HasPrefix(line, "listen:") || strings.HasPrefix(line, "node_id:") {
				if seen[line] {
					t.Errorf("node%d.yaml repeats %q", i, line)
				}
				seen[line] = true
			}
		}
	}
}
