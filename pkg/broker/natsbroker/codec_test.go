package natsbroker

import (
	"reflect"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	cases := []envelope{
		{kind: kindPublication, data: []byte{}},
		{kind: kindPublication, offset: 1 << 60, epoch: "abcdef012345", time: 1700000000123, size: 10, expires: -5,
			info: &broker.ClientInfo{ClientID: "c1", UserID: "u1", ConnInfo: []byte(`{"a":1}`), ChanInfo: []byte{}},
			tags: map[string]string{"k": "v", "": ""}, data: []byte("payload\x00\xff")},
		{kind: kindJoin, info: &broker.ClientInfo{ClientID: "c2"}, data: []byte{}},
		{kind: kindMarker, offset: 7, epoch: "e", tags: map[string]string{}, data: []byte{}},
	}
	for i, in := range cases {
		var out envelope
		if err := out.decode(in.encode(nil)); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("case %d:\n in %+v\nout %+v", i, in, out)
		}
	}
}

func TestEnvelopeRejects(t *testing.T) {
	good := (&envelope{kind: kindPublication, epoch: "e", info: &broker.ClientInfo{ClientID: "c"}, tags: map[string]string{"a": "b"}}).encode(nil)
	for n := 0; n < len(good); n++ { // every truncation before the data
		var e envelope
		if err := e.decode(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
	for _, b := range [][]byte{{0}, {5}, {kindPublication, 0, 0, 0, 0, 0, 2}} {
		var e envelope
		if err := e.decode(b); err == nil {
			t.Fatalf("%x decoded", b)
		}
	}
}

// FuzzEnvelope: any bytes decode or fail without panic, and what decodes
// encodes to bytes that decode to the same envelope.
func FuzzEnvelope(f *testing.F) {
	f.Add((&envelope{kind: kindPublication, offset: 3, epoch: "x", data: []byte("d")}).encode(nil))
	f.Add((&envelope{kind: kindLeave, info: &broker.ClientInfo{ClientID: "c", ConnInfo: []byte{1}}, tags: map[string]string{"a": "b"}}).encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e envelope
		if e.decode(b) != nil {
			return
		}
		again := e.encode(nil)
		var e2 envelope
		if err := e2.decode(again); err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip changed the envelope")
		}
	})
}
