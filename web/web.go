// Package web holds the pages the gateway serves on its WebSocket port: a
// chat demo at / on the channel protocol, built on the official Centrifugo
// JS SDK (npm centrifuge, embedded from vendor/ by update-sdk.sh with its
// licence), and the raw WebSocket echo demo: connect, send text, and watch a
// timestamped log of what goes out and comes back, with the round-trip time
// and the close code.
package web

import (
	"bytes"
	_ "embed"
	"strings"
)

var (
	//go:embed index.html
	chat []byte
	//go:embed echo.html
	echo []byte
	//go:embed vendor/centrifuge.js
	centrifugeJS []byte
	//go:embed vendor/centrifuge.LICENSE
	centrifugeLicense []byte
	//go:embed vendor/centrifuge.version
	centrifugeVersion string
)

// Chat returns the chat page, pointed at the channel protocol endpoint
// channelsPath (rooms are channels chat:<room>); it loads the SDK from
// /vendor/centrifuge.js.
func Chat(channelsPath string) []byte {
	page := bytes.ReplaceAll(chat, []byte("{{CHANNELS_PATH}}"), []byte(channelsPath))
	return bytes.ReplaceAll(page, []byte("{{SDK_VERSION}}"), []byte(SDKVersion()))
}

// Echo returns the raw WebSocket demo page, pointed at the endpoint wsPath.
func Echo(wsPath string) []byte {
	return bytes.ReplaceAll(echo, []byte("{{WS_PATH}}"), []byte(wsPath))
}

// CentrifugeJS is the SDK's browser bundle (dist/centrifuge.js of npm
// centrifuge, unmodified), which sets globalThis.Centrifuge.
func CentrifugeJS() []byte { return centrifugeJS }

// CentrifugeLicense is the SDK's licence (MIT), served beside it.
func CentrifugeLicense() []byte { return centrifugeLicense }

// SDKVersion is the embedded SDK's npm version, such as "5.8.0".
func SDKVersion() string { return strings.TrimSpace(centrifugeVersion) }
