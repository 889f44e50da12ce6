package serverapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
	"github.com/xh-control/gateway/pkg/serverapi"
)

// nopNode answers every publication with the same position, so that the
// benchmarks measure the handler alone.
type nopNode struct{ serverapi.Node }

func (nopNode) Publish(context.Context, string, []byte, serverapi.PublishOptions) (broker.StreamPosition, error) {
	return broker.StreamPosition{Offset: 42, Epoch: "abcd"}, nil
}

func benchPost(b *testing.B, path, body string) {
	h := serverapi.NewHandler(nopNode{}, serverapi.Options{Key: key})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("X-API-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// BenchmarkPublish: one publish call through the handler (no network).
func BenchmarkPublish(b *testing.B) {
	benchPost(b, "/api/publish", `{"channel":"chat:room","data":{"text":"hello, world","n":12345}}`)
}

// BenchmarkBatch100: a batch of 100 publish commands.
func BenchmarkBatch100(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"commands":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"publish":{"channel":"chat:r%d","data":{"n":%d}}}`, i, i)
	}
	sb.WriteString(`]}`)
	benchPost(b, "/api/batch", sb.String())
}
