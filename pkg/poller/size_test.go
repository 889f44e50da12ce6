package poller

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps conn in the 256-byte size class: every connection
// holds one for its life (README, idle memory). A field that pushes it
// past 256 costs 32 bytes per connection (the 288-byte class).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 256 {
		t.Fatalf("conn is %d bytes, want <= 256", n)
	}
}
