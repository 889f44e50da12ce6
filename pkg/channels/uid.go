package channels

import (
	"crypto/rand"
	"encoding/hex"
)

// newUID returns a random node UID for the server API's info.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
