//go:build race

package channels

// raceEnabled: the race detector makes everything about ten times slower;
// latency bounds of the load tests are scaled by latencyScale under it.
const raceEnabled = true
