package session

import (
	"testing"
	"time"
)

func TestTickFor(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, time.Second},
		{[]time.Duration{0, -time.Second}, time.Second},
		{[]time.Duration{10 * time.Second}, time.Second},        // limit
		{[]time.Duration{10*time.Second + 10}, time.Second},     // over it: capped
		{[]time.Duration{10*time.Second - 10}, time.Second - 1}, // under it
		{[]time.Duration{30 * time.Second, 2 * time.Second, 0}, 200 * time.Millisecond},
		{[]time.Duration{100 * time.Millisecond}, 10 * time.Millisecond}, // floor exactly
		{[]time.Duration{100*time.Millisecond - 10}, 10 * time.Millisecond},
		{[]time.Duration{100*time.Millisecond + 10}, 10*time.Millisecond + 1},
	} {
		if got := TickFor(c.in...); got != c.want {
			t.Errorf("TickFor(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
