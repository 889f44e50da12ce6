//go:build race

package poller

// raceEnabled: the race detector makes the burst tests about ten times slower;
// they use smaller bursts under it.
const raceEnabled = true
