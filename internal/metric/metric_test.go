package metric

import "testing"

func TestHistogramBucketsAreCumulative(t *testing.T) {
	h := NewHistogram([]float64{1, 2, 5})
	for _, v := range []float64{0.5, 1, 1.5, 3, 100} {
		h.Observe(v)
	}
	bounds, cum, count, sum := h.Snapshot()
	want := []uint64{2, 3, 4}
	for i := range bounds {
		if cum[i] != want[i] {
			t.Fatalf(
				"bucket le=%v: got %d, want %d",
				bounds[i], cum[i], want[i],
			)
		}
	}
	if count != 5 || sum != 106 {
		t.Fatalf(
			"count=%d sum=%v, want 5 and 106",
			count, sum,
		)
	}
}

func TestStripedCounterSumsAllStripes(t *testing.T) {
	var c StripedCounter
	for hint := range uint64(100) {
		c.Add(hint, 2)
	}
	if got := c.Load(); got != 200 {
		t.Fatalf(
			"got %d, want 200",
			got,
		)
	}
}
