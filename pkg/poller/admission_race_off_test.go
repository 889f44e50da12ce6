//go:build !race

package poller

const stormRace = false
