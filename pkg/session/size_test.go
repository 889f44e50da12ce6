package session

import (
	"testing"
	"unsafe"
)

// TestSessionSize keeps Session in the 256-byte size class: every
// connection holds one for its life. Past 256 it costs 32 bytes more per
// connection (the 288-byte class).
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 256 {
		t.Fatalf("Session is %d bytes, want <= 256", n)
	}
}
