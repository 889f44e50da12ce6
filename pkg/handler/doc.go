// Package handler holds the gateway's built-in applications. Handlers see
// only the session package: they receive messages from sessions and send to
// sessions, and know nothing of sockets.
package handler
