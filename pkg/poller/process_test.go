package poller

import "testing"

func TestDefaultPollers(t *testing.T) {
	for _, c := range []struct{ procs, want int }{
		{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 2}, {8, 2}, {16, 4}, {17, 5}, {64, 16},
	} {
		if got := DefaultPollers(c.procs); got != c.want {
			t.Errorf("DefaultPollers(%d) = %d, want %d", c.procs, got, c.want)
		}
	}
}
