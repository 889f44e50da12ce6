package natsbroker

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/broker"
)

// Two engines on one server are two nodes: a publication reaches each
// subscribed node once, with its data, info, tags and time; a node that
// unsubscribed or never subscribed gets nothing; every channel-name class
// travels.
func TestPublishTwoNodes(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, ra := newEngine(t, url, "a")
	b, rb := newEngine(t, url, "b")
	c, rc := newEngine(t, url, "c")
	_ = c
	for _, ch := range channelClasses {
		if err := a.Subscribe(ch); err != nil {
			t.Fatal(err)
		}
		if err := b.Subscribe(ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Subscribe(channelClasses[0]); err != nil { // twice: still one delivery
		t.Fatal(err)
	}
	b.nc.Flush()
	a.nc.Flush()
	info := &broker.ClientInfo{ClientID: "c1", UserID: "u1", ConnInfo: []byte("ci"), ChanInfo: []byte("chi")}
	for i, ch := range channelClasses {
		_, err := c.Publish(ctx(t), ch, []byte(fmt.Sprint(i)), broker.PublishOptions{ClientInfo: info, Tags: map[string]string{"i": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*recorder{ra, rb} {
		ev := r.wait(t, len(channelClasses))
		seen := make(map[int]bool)
		for _, e := range ev { // channels on different shards may interleave
			var i int
			if _, err := fmt.Sscan(string(e.pub.Data), &i); err != nil || seen[i] || i >= len(channelClasses) {
				t.Fatalf("event %+v: data %q", e, e.pub.Data)
			}
			seen[i] = true
			if e.kind != "pub" || e.channel != channelClasses[i] ||
				e.pub.Tags["i"] != fmt.Sprint(i) || e.pub.Info.UserID != "u1" || !bytes.Equal(e.pub.Info.ChanInfo, []byte("chi")) ||
				e.pub.Offset != 0 || e.sp != (broker.StreamPosition{}) || e.pub.Time == 0 {
				t.Fatalf("event %d: %+v %+v", i, e, e.pub)
			}
		}
	}
	if got := rc.settle(100 * time.Millisecond); len(got) != 0 {
		t.Fatalf("unsubscribed node got %d events", len(got))
	}
	// After Unsubscribe on b only a receives.
	if err := b.Unsubscribe("news"); err != nil {
		t.Fatal(err)
	}
	b.nc.Flush()
	if _, err := c.Publish(ctx(t), "news", []byte("late"), broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, len(channelClasses)+1)
	if got := rb.settle(200 * time.Millisecond); len(got) != len(channelClasses) {
		t.Fatalf("b got %d events after Unsubscribe, want %d", len(got), len(channelClasses))
	}
	if err := b.Unsubscribe("never"); err != nil {
		t.Fatal(err)
	}
}

func TestJoinLeaveControl(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, ra := newEngine(t, url, "node-a")
	b, rb := newEngine(t, url, "node.b *") // node IDs are encoded like channels
	if err := b.Subscribe("room"); err != nil {
		t.Fatal(err)
	}
	b.nc.Flush()
	info := &broker.ClientInfo{ClientID: "c9", UserID: "u9"}
	if err := a.PublishJoin(ctx(t), "room", info); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishLeave(ctx(t), "room", info); err != nil {
		t.Fatal(err)
	}
	ev := rb.wait(t, 2)
	if ev[0].kind != "join" || ev[1].kind != "leave" || ev[0].info.ClientID != "c9" || ev[1].info.UserID != "u9" || ev[0].channel != "room" {
		t.Fatalf("%+v", ev)
	}
	// Broadcast reaches both nodes, the sender included.
	if err := a.PublishControl(ctx(t), []byte("all"), ""); err != nil {
		t.Fatal(err)
	}
	if e := ra.wait(t, 1)[0]; e.kind != "control" || string(e.data) != "all" {
		t.Fatalf("%+v", e)
	}
	if e := rb.wait(t, 3)[2]; e.kind != "control" || string(e.data) != "all" {
		t.Fatalf("%+v", e)
	}
	// Aimed at one node: only that node.
	if err := a.PublishControl(ctx(t), []byte("to-b"), "node.b *"); err != nil {
		t.Fatal(err)
	}
	if e := rb.wait(t, 4)[3]; string(e.data) != "to-b" {
		t.Fatalf("%+v", e)
	}
	if err := b.PublishControl(ctx(t), []byte("to-a"), "node-a"); err != nil {
		t.Fatal(err)
	}
	if e := ra.wait(t, 2)[1]; string(e.data) != "to-a" {
		t.Fatalf("%+v", e)
	}
	if n := len(ra.settle(100 * time.Millisecond)); n != 2 {
		t.Fatalf("a got %d events, want 2", n)
	}
	if n := len(rb.settle(0)); n != 4 {
		t.Fatalf("b got %d events, want 4", n)
	}
}

func TestNewNeedsName(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoName) {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Options{Name: "x", Prefix: "a.b"}); !errors.Is(err, ErrBadPrefix) {
		t.Fatalf("err = %v", err)
	}
}

func TestClosed(t *testing.T) {
	_, url := runServer(t, t.TempDir(), 0)
	a, _ := newEngine(t, url, "a")
	if err := a.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx(t), "x", nil, broker.PublishOptions{}); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if err := a.Subscribe("x"); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if err := a.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
}
