package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xh-control/gateway/pkg/serverapi"
)

type subscribeResult struct {
	ID        int `json:"id"`
	Subscribe struct {
		Recoverable   bool   `json:"recoverable"`
		Positioned    bool   `json:"positioned"`
		Epoch         string `json:"epoch"`
		Offset        uint64 `json:"offset"`
		Recovered     bool   `json:"recovered"`
		WasRecovering bool   `json:"was_recovering"`
		Publications  []struct {
			Offset uint64          `json:"offset"`
			Data   json.RawMessage `json:"data"`
		} `json:"publications"`
	} `json:"subscribe"`
	Push *struct {
		Pub *struct {
			Offset uint64          `json:"offset"`
			Data   json.RawMessage `json:"data"`
		} `json:"pub"`
	} `json:"push"`
}

func parse(t *testing.T, s string) subscribeResult {
	t.Helper()
	var r subscribeResult
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return r
}

func (env *testEnv) publish(t *testing.T, ch string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := env.node.Publish(context.Background(), ch, []byte(strconv.Itoa(i)), serverapi.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecoveryExact checks the recovery rules of reference section 6 on
// the wire: the missed publications with the request offset, or the top
// position without publications.
func TestRecoveryExact(t *testing.T) {
	env := startNode(t, nil)
	env.publish(t, "hist:r", 1, 2)
	c := dialJSON(t, env.url, nil)
	c.connect("")
	c.send(`{"id":2,"subscribe":{"channel":"hist:r","recoverable":true}}`)
	r := parse(t, c.next())
	if !r.Subscribe.Recoverable || !r.Subscribe.Positioned || r.Subscribe.Offset != 2 || r.Subscribe.Epoch == "" || r.Subscribe.WasRecovering {
		t.Fatalf("first subscribe %+v", r)
	}
	epoch := r.Subscribe.Epoch
	for _, tc := range []struct {
		offset    uint64
		epoch     string
		recovered bool
		pubs      []uint64
		resOffset uint64
	}{
		{offset: 2, epoch: epoch, recovered: true, resOffset: 2},                    // nothing missed
		{offset: 1, epoch: epoch, recovered: true, pubs: []uint64{2}, resOffset: 1}, // one missed
		{offset: 1, epoch: "", recovered: true, pubs: []uint64{2}, resOffset: 1},    // no epoch: not checked
		{offset: 1, epoch: "other", recovered: false, resOffset: 2},                 // another stream
		{offset: 0, epoch: epoch, recovered: false, resOffset: 2},                   // history size 3 keeps 1..2 only: ok? see below
	} {
		c.send(`{"id":3,"unsubscribe":{"channel":"hist:r"}}`)
		c.next()
		c.send(fmt.Sprintf(`{"id":4,"subscribe":{"channel":"hist:r","recoverable":true,"recover":true,"offset":%d,"epoch":%q}}`, tc.offset, tc.epoch))
		r := parse(t, c.next())
		var pubs []uint64
		for _, p := range r.Subscribe.Publications {
			pubs = append(pubs, p.Offset)
		}
		if tc.offset == 0 {
			// Both publications are kept (size 3): recovering from 0 returns them.
			tc.recovered, tc.pubs, tc.resOffset = true, []uint64{1, 2}, 0
		}
		if r.Subscribe.Recovered != tc.recovered || !r.Subscribe.WasRecovering || fmt.Sprint(pubs) != fmt.Sprint(tc.pubs) ||
			r.Subscribe.Offset != tc.resOffset || r.Subscribe.Epoch != epoch {
			t.Fatalf("recover from %d/%q: got %+v", tc.offset, tc.epoch, r.Subscribe)
		}
	}
	// Past the window: 3 kept of 7, recovering from 2 misses 3.
	env.publish(t, "hist:r", 3, 7)
	for range 5 {
		c.next() // the live publications 3..7
	}
	c.send(`{"id":5,"unsubscribe":{"channel":"hist:r"}}`)
	c.next()
	c.send(fmt.Sprintf(`{"id":6,"subscribe":{"channel":"hist:r","recoverable":true,"recover":true,"offset":2,"epoch":%q}}`, epoch))
	r = parse(t, c.next())
	if r.Subscribe.Recovered || len(r.Subscribe.Publications) != 0 || r.Subscribe.Offset != 7 {
		t.Fatalf("past the window: %+v", r.Subscribe)
	}
	c.send(fmt.Sprintf(`{"id":7,"unsubscribe":{"channel":"hist:r"}}`))
	c.next()
	c.send(fmt.Sprintf(`{"id":8,"subscribe":{"channel":"hist:r","recoverable":true,"recover":true,"offset":4,"epoch":%q}}`, epoch))
	r = parse(t, c.next())
	var pubs []uint64
	for _, p := range r.Subscribe.Publications {
		pubs = append(pubs, p.Offset)
	}
	if !r.Subscribe.Recovered || fmt.Sprint(pubs) != "[5 6 7]" || r.Subscribe.Offset != 4 {
		t.Fatalf("inside the window: %+v", r.Subscribe)
	}
}

// TestSubscribeDuringPublications: publications that arrive while a
// subscribe with recovery is answered are neither lost nor duplicated.
func TestSubscribeDuringPublications(t *testing.T) {
	env := startNode(t, nil)
	const total = 5000
	env.publish(t, "chat:busy", 1, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 11; i <= total; i++ {
			env.node.Publish(context.Background(), "chat:busy", []byte(strconv.Itoa(i)), serverapi.PublishOptions{})
			if i%5 == 0 {
				time.Sleep(50 * time.Microsecond) // let subscribes interleave
			}
		}
	}()
	for round := 0; round < 20; round++ {
		c := dialJSON(t, env.url, nil)
		c.connect("")
		c.send(`{"id":2,"subscribe":{"channel":"chat:busy","recover":true,"offset":5}}`)
		var next uint64
		for {
			s := c.next()
			r := parse(t, s)
			if r.ID == 2 {
				next = r.Subscribe.Offset + 1
				if r.Subscribe.Recovered {
					for _, p := range r.Subscribe.Publications {
						if p.Offset != next {
							t.Fatalf("recovered offset %d, want %d", p.Offset, next)
						}
						next++
					}
				}
				if next > total {
					break
				}
				continue
			}
			if r.Push == nil || r.Push.Pub == nil {
				continue // join/leave
			}
			if r.Push.Pub.Offset != next {
				t.Fatalf("round %d: publication %d, want %d", round, r.Push.Pub.Offset, next)
			}
			next++
			if next > total {
				break
			}
		}
	}
	<-done
}
