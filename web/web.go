// Package web holds the demo page the gateway serves at / on its WebSocket
// port: connect, send text, and watch a timestamped log of what goes out and
// comes back, with the round-trip time and the close code.
package web

import (
	"bytes"
	_ "embed"
)

//go:embed index.html
var index []byte

// Index returns the page, pointed at the WebSocket endpoint wsPath.
func Index(wsPath string) []byte {
	return bytes.ReplaceAll(index, []byte("{{WS_PATH}}"), []byte(wsPath))
}
