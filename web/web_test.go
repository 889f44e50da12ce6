package web

import (
	"bytes"
	"regexp"
	"testing"
)

func TestEchoPointsAtThePath(t *testing.T) {
	page := Echo("/socket")
	if !bytes.Contains(page, []byte(`const WS_PATH = "/socket";`)) || bytes.Contains(page, []byte("{{")) {
		t.Fatal("the WebSocket path was not filled in")
	}
	for _, id := range []string{`id="connect"`, `id="disconnect"`, `id="message"`, `id="send"`, `id="log"`, `id="rtt"`} {
		if !bytes.Contains(page, []byte(id)) {
			t.Errorf("page lacks %s", id)
		}
	}
}

func TestChatPointsAtThePathAndSDK(t *testing.T) {
	page := Chat("/conn/ws")
	if !bytes.Contains(page, []byte(`const CHANNELS_PATH = "/conn/ws";`)) || bytes.Contains(page, []byte("{{")) {
		t.Fatal("the channels path or the SDK version was not filled in")
	}
	if !bytes.Contains(page, []byte(`<script src="/vendor/centrifuge.js"></script>`)) {
		t.Fatal("the page does not load the embedded SDK")
	}
	if !bytes.Contains(page, []byte(`<span id="sdk-version">`+SDKVersion()+`</span>`)) {
		t.Fatal("the page does not name the SDK version")
	}
	for _, id := range []string{`id="name"`, `id="room"`, `id="join"`, `id="leave"`, `id="messages"`, `id="text"`, `id="send"`, `id="presence"`, `id="status"`} {
		if !bytes.Contains(page, []byte(id)) {
			t.Errorf("page lacks %s", id)
		}
	}
}

// The embedded SDK is npm centrifuge's browser bundle, with its MIT licence:
// update-sdk.sh copies them unmodified.
func TestEmbeddedSDK(t *testing.T) {
	if !regexp.MustCompile(`^5\.\d+\.\d+$`).MatchString(SDKVersion()) {
		t.Fatalf("SDK version %q is not a 5.x release", SDKVersion())
	}
	if !bytes.Contains(CentrifugeJS(), []byte("globalThis.Centrifuge=")) || len(CentrifugeJS()) < 50_000 {
		t.Fatalf("vendor/centrifuge.js (%d bytes) is not the SDK's browser bundle", len(CentrifugeJS()))
	}
	if !bytes.HasPrefix(CentrifugeLicense(), []byte("The MIT License")) || !bytes.Contains(CentrifugeLicense(), []byte("Centrifugal Labs")) {
		t.Fatal("vendor/centrifuge.LICENSE is not the SDK's licence")
	}
}
