package session

import (
	"testing"
	"time"
)

func TestIDTextRoundTrip(t *testing.T) {
	g := NewIDGenerator(0xBEEF, time.Now())
	seen := map[ID]bool{}
	for range 1000 {
		id := g.Next()
		if seen[id] {
			t.Fatalf(
				"duplicate ID %s",
				id,
			)
		}
		seen[id] = true
		s := id.String()
		if len(s) != 16 || s[:4] != "beef" || id.Node() != 0xBEEF {
			t.Fatalf(
				"ID %q does not carry node beef",
				s,
			)
		}
		back, err := ParseID(s)
		if err != nil || back != id {
			t.Fatalf(
				"ParseID(%q) = %v, %v",
				s, back, err,
			)
		}
	}
	for _, bad := range []string{"", "123", "zzzzzzzzzzzzzzzz", "00000000000000000"} {
		if _, err := ParseID(bad); err != ErrBadID {
			t.Fatalf(
				"ParseID(%q) accepted",
				bad,
			)
		}
	}
}

func TestIDsIncreaseAcrossRestarts(t *testing.T) {
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	first := NewIDGenerator(1, start)
	var last ID
	for range 10000 { // 10,000 sessions in the first second of life
		last = first.Next()
	}
	restarted := NewIDGenerator(1, start.Add(time.Second))
	if next := restarted.Next(); next <= last {
		t.Fatalf(
			"restarted node reuses IDs: %s <= %s",
			next, last,
		)
	}
}
