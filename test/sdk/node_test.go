package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// scenarios of test/sdk/node/scenario.mjs; each asserts exact results and
// reports its checks.
var scenarios = []string{
	"connect",        // HS256 token; subprotocol and deflate as asked; a forged token: 3500, no reconnect
	"pubsub",         // subscribe; server API publications in order, with the API's offsets; unsubscribe
	"presence",       // presence and presence_stats of two users; join and leave pushes
	"history",        // all, limit + reverse, since, limit 0, wrong epoch (112)
	"private",        // $ channel: getToken gives a subscription token; none: 103
	"refresh",        // 4-5 s connection token refreshed by the SDK: the connection stays
	"expire",         // not refreshed: closed with 3005, the SDK reconnects with a new token
	"subRefresh",     // 4-5 s subscription token refreshed by the SDK (sub_refresh): the subscription stays
	"subExpire",      // not refreshed: unsubscribe 2501, the SDK resubscribes with a new token
	"disconnect",     // server API disconnect: 4000 reconnects, 4500 and the default 3503 do not
	"recovery",       // TCP cut, 50 publications while away, recovered exactly
	"forcedRecovery", // API disconnect 4000 while reconnects are held back: 10 publications recovered
	"recoveryWindow", // 50 publications past history_size 10: wasRecovering, not recovered
}

// TestNodeSDK runs every scenario with npm centrifuge in Node, in both
// encodings, offering permessage-deflate (ws's default) and not. One Node
// process per encoding and deflate setting runs its scenarios at once, each
// through its own proxy and backend; a subtest per scenario checks its
// report.
func TestNodeSDK(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node", "apt-get install nodejs (Node 18 or later)")
	for _, pkg := range []string{"centrifuge", "ws"} {
		need(t, nodeModule(pkg), "the npm package "+pkg, "npm ci --prefix test/sdk/node")
	}
	for _, format := range []string{"json", "protobuf"} {
		for _, deflate := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/deflate=%v", format, deflate), func(t *testing.T) {
				t.Parallel()
				runScenarios(t, format, deflate)
			})
		}
	}
}

func runScenarios(t *testing.T, format string, deflate bool) {
	runs := map[string]any{}
	proxies := map[string]*cutProxy{}
	for _, sc := range scenarios {
		proxy := newCutProxy(t, gw.Addr)
		proxies[sc] = proxy
		runs[sc] = map[string]string{
			"ws":      "ws://" + proxy.addr() + "/connection/websocket",
			"backend": newBackend(t, proxy).URL,
		}
	}
	opts, _ := json.Marshal(map[string]any{
		"api":     "http://" + gw.AdminAddr + "/api",
		"apiKey":  apiKey,
		"format":  format,
		"deflate": deflate,
		"room":    fmt.Sprintf("%s-%v", format, deflate),
		"runs":    runs,
	})
	out := runNode(t, 60*time.Second, "scenario.mjs", string(opts))
	reports := map[string][]string{}
	for _, line := range splitLines(out) {
		var r struct {
			Scenario string `json:"scenario"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.Scenario == "" {
			t.Logf("node: %s", line)
			continue
		}
		reports[r.Scenario] = append(reports[r.Scenario], line)
	}
	for _, sc := range scenarios {
		t.Run(sc, func(t *testing.T) {
			checkReport(t, reports[sc])
			if strings.HasPrefix(sc, "recovery") {
				proxies[sc].mu.Lock()
				cuts := proxies[sc].cuts
				proxies[sc].mu.Unlock()
				if cuts != 2 { // the client's side and the gateway's
					t.Errorf("the proxy cut %d sockets, want 2", cuts)
				}
			}
		})
	}
}

// runNode runs a Node script in test/sdk/node and returns its stdout;
// stderr goes to the test log.
func runNode(t *testing.T, limit time.Duration, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("node", args...)
	cmd.Dir = nodeDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		err = <-done
		t.Errorf("node %s did not finish in %v", args[0], limit)
	}
	if stderr.Len() > 0 {
		t.Logf("node stderr:\n%s", stderr.Bytes())
	}
	if err != nil {
		t.Errorf("node %s: %v", args[0], err)
	}
	return stdout.Bytes()
}

// checkReport reads the checks a script printed: every one must be ok, and
// the last line must say done with their number.
func checkReport(t *testing.T, lines []string) {
	t.Helper()
	checks, done := 0, -1
	for _, line := range lines {
		var r struct {
			Check string `json:"check"`
			OK    bool   `json:"ok"`
			Done  *int   `json:"done"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			t.Logf("node: %s", line)
			continue
		}
		if r.Done != nil {
			done = *r.Done
			continue
		}
		t.Logf("%s", line)
		if !r.OK {
			t.Errorf("check %q failed", r.Check)
		}
		checks++
	}
	if done < 0 {
		t.Fatalf("the script did not finish (%d checks reported)", checks)
	}
	if done != checks || checks == 0 {
		t.Fatalf("the script says %d checks, %d reported", done, checks)
	}
}

func splitLines(out []byte) []string {
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
