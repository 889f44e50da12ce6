//go:build race

package poller

// stormRace: the race detector slows handshakes tenfold; the storm test
// then checks admission but not the rate.
const stormRace = true
