package channels

import "time"

// latencyBound is the p99 the load tests allow: 500 ms, four times that
// under the race detector.
func latencyBound() time.Duration {
	if raceEnabled {
		return 2 * time.Second
	}
	return 500 * time.Millisecond
}
