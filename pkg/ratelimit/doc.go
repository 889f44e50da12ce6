// Package ratelimit holds the gateway's admission and flood controls: a
// token bucket small enough to live in every connection's state (no timer,
// no lock of its own), a per-key connection counter for per-IP and per-user
// limits, and the handshake admission pacer that turns a reconnect storm
// into a steady rate. None of them runs a goroutine: callers pass the time.
package ratelimit
