// Package deploy holds the files that run the gateway in production (the
// systemd unit, the nginx and sysctl configuration, the installer) and the
// tests that check them against the real programs: systemd-analyze, nginx
// and the gateway binary.
package deploy
