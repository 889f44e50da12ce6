package iovec

import (
	"fmt"
	"testing"
)

func TestAdvance(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, `["ab" "cde" "f"]`},
		{1, `["b" "cde" "f"]`},
		{2, `["cde" "f"]`}, // exactly the first buffer
		{3, `["de" "f"]`},  // one past it
		{5, `["f"]`},       // two whole buffers
		{6, `[]`},          // all of it
	} {
		bufs := [][]byte{[]byte("ab"), []byte("cde"), []byte("f")}
		if got := fmt.Sprintf("%q", Advance(bufs, c.n)); got != c.want {
			t.Errorf("Advance(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}
