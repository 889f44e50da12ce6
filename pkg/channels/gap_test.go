package channels

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xh-control/gateway/pkg/broker"
)

// TestGapInDeliveryMakesSubscribersRecover: when the engine loses
// publications on their way to this node (a NATS subscription that was gone
// for a while), the next publication's offset skips ahead of the last one
// the node delivered. Recoverable subscribers are not handed it silently:
// they get unsubscribe 2500 "insufficient state", resubscribe from their
// offset and recover exactly what they missed. A subscriber without
// recovery keeps receiving.
func TestGapInDeliveryMakesSubscribersRecover(t *testing.T) {
	env := startNode(t, nil)
	const ch = "hist:gap"
	rec := dialJSON(t, env.url, nil)
	rec.connect("")
	rec.send(`{"id":2,"subscribe":{"channel":"` + ch + `","recoverable":true}}`)
	epoch := parse(t, rec.next()).Subscribe.Epoch
	plain := dialJSON(t, env.url, nil)
	plain.connect("")
	plain.send(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`)
	plain.next()

	env.publish(t, ch, 1, 1)
	for _, c := range []*wsClient{rec, plain} {
		if p := c.next(); !strings.Contains(p, `"offset":1`) {
			t.Fatalf("publication 1: %s", p)
		}
	}
	// The node's engine subscription is lost while 2 is published, then
	// comes back (as after a NATS outage).
	env.node.broker.Unsubscribe(ch)
	env.publish(t, ch, 2, 2)
	if err := env.node.broker.Subscribe(ch); err != nil {
		t.Fatal(err)
	}
	env.publish(t, ch, 3, 3)

	if p := rec.next(); !strings.Contains(p, `"unsubscribe":{"code":2500,"reason":"insufficient state"}`) ||
		!strings.Contains(p, `"channel":"`+ch+`"`) {
		t.Fatalf("recoverable subscriber got %s, want unsubscribe 2500", p)
	}
	if p := plain.next(); !strings.Contains(p, `"offset":3`) {
		t.Fatalf("subscriber without recovery got %s, want publication 3", p)
	}
	rec.send(fmt.Sprintf(`{"id":3,"subscribe":{"channel":%q,"recoverable":true,"recover":true,"offset":1,"epoch":%q}}`, ch, epoch))
	r := parse(t, rec.next())
	var got []uint64
	for _, p := range r.Subscribe.Publications {
		got = append(got, p.Offset)
	}
	if !r.Subscribe.Recovered || fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("resubscribe: recovered %v, publications %v, want true [2 3]", r.Subscribe.Recovered, got)
	}
	if n := env.node.metrics.InsufficientState.Load(); n != 1 {
		t.Fatalf("insufficient_state_total %d, want 1", n)
	}
}

// TestNewEpochMakesSubscribersRecover: a publication from a recreated
// stream (another epoch, offsets from 1 again: the history expired or was
// evicted) makes recoverable subscribers resubscribe, as a gap does; a
// subscriber without recovery gets it, with the new epoch (the stream's
// first publication carries it).
func TestNewEpochMakesSubscribersRecover(t *testing.T) {
	env := startNode(t, nil)
	const ch = "hist:renewed"
	rec := dialJSON(t, env.url, nil)
	rec.connect("")
	rec.send(`{"id":2,"subscribe":{"channel":"` + ch + `","recoverable":true}}`)
	rec.next()
	plain := dialJSON(t, env.url, nil)
	plain.connect("")
	plain.send(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`)
	plain.next()
	env.publish(t, ch, 1, 1)
	env.publish(t, ch, 2, 2)
	for _, c := range []*wsClient{rec, plain} {
		c.next()
		c.next()
	}
	env.node.HandlePublication(ch, &broker.Publication{Data: []byte(`{"n":1}`), Offset: 1},
		broker.StreamPosition{Offset: 1, Epoch: "recreated"})
	if p := rec.next(); !strings.Contains(p, `"unsubscribe":{"code":2500,"reason":"insufficient state"}`) {
		t.Fatalf("recoverable subscriber got %s, want unsubscribe 2500", p)
	}
	if p := plain.next(); !strings.Contains(p, `"offset":1,"epoch":"recreated"`) {
		t.Fatalf("subscriber without recovery got %s, want publication 1 of epoch recreated", p)
	}
	if n := env.node.metrics.InsufficientState.Load(); n != 1 {
		t.Fatalf("insufficient_state_total %d, want 1", n)
	}
}
