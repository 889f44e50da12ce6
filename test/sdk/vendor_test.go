package sdk

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/xh-control/gateway/web"
)

// The page embeds the SDK these tests run: web/update-sdk.sh copies it from
// test/sdk/node, and this fails when the pin there moved without a rerun.
func TestEmbeddedSDKIsTheTestedOne(t *testing.T) {
	need(t, nodeModule("centrifuge"), "the npm package centrifuge", "npm ci --prefix test/sdk/node")
	pkg := filepath.Join(nodeDir, "node_modules", "centrifuge")
	var meta struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Version != web.SDKVersion() {
		t.Fatalf("test/sdk/node has centrifuge %s, the page embeds %s: run web/update-sdk.sh", meta.Version, web.SDKVersion())
	}
	for file, embedded := range map[string][]byte{"dist/centrifuge.js": web.CentrifugeJS(), "LICENSE": web.CentrifugeLicense()} {
		want, err := os.ReadFile(filepath.Join(pkg, file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(embedded, want) {
			t.Errorf("the embedded %s differs from npm centrifuge %s's: run web/update-sdk.sh", file, meta.Version)
		}
	}
}
