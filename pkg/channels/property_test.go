package channels

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/xh-control/gateway/pkg/poller"
)

// propClient is one raw client of the property test with its model: for
// each subscribed channel, the offset of the next publication it must
// receive.
type propClient struct {
	name string
	conn *websocket.Conn
	in   []string
	id   uint32
	next map[string]uint64
	seen int
	mark map[string]bool // publications of our own received
}

type propPush struct {
	ID   uint32 `json:"id"`
	Push *struct {
		Channel string `json:"channel"`
		Pub     *struct {
			Offset uint64          `json:"offset"`
			Data   json.RawMessage `json:"data"`
		} `json:"pub"`
	} `json:"push"`
	Subscribe *struct {
		Offset uint64 `json:"offset"`
	} `json:"subscribe"`
	Error *struct {
		Code uint32 `json:"code"`
	} `json:"error"`
}

func (c *propClient) read() (string, error) {
	for len(c.in) == 0 {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			return "", err
		}
		c.in = append(c.in, strings.Split(string(p), "\n")...)
	}
	s := c.in[0]
	c.in = c.in[1:]
	return s, nil
}

// until reads messages, checking every publication against the model,
// until stop returns true for one.
func (c *propClient) until(stop func(m *propPush, raw string) bool) error {
	for {
		s, err := c.read()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if s == "{}" {
			continue
		}
		var m propPush
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return fmt.Errorf("%s: %s: %w", c.name, s, err)
		}
		if m.Push != nil && m.Push.Pub != nil {
			want, ok := c.next[m.Push.Channel]
			if !ok {
				return fmt.Errorf("%s: publication %d in %s while not subscribed", c.name, m.Push.Pub.Offset, m.Push.Channel)
			}
			if m.Push.Pub.Offset != want {
				return fmt.Errorf("%s: publication %d in %s, want %d", c.name, m.Push.Pub.Offset, m.Push.Channel, want)
			}
			c.next[m.Push.Channel] = want + 1
			c.seen++
			c.mark[string(m.Push.Pub.Data)] = true
		}
		if stop(&m, s) {
			return nil
		}
	}
}

// waitMark reads until our own publication with data marker arrived (it
// may come before the publish reply).
func (c *propClient) waitMark(marker string) error {
	if c.mark[marker] {
		return nil
	}
	return c.until(func(*propPush, string) bool { return c.mark[marker] })
}

func (c *propClient) command(format string, args ...any) (*propPush, error) {
	c.id++
	id := c.id
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,`+format+`}`, append([]any{id}, args...)...))); err != nil {
		return nil, err
	}
	var reply *propPush
	err := c.until(func(m *propPush, _ string) bool {
		if m.ID == id {
			reply = m
			return true
		}
		return false
	})
	return reply, err
}

func (c *propClient) dial(url string) error {
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return err
	}
	c.conn, c.in, c.id, c.next, c.mark = conn, nil, 0, map[string]uint64{}, map[string]bool{}
	_, err = c.command(`"connect":{}`)
	return err
}

// TestPropertyDelivery drives 1,000 clients through a random interleaving
// of subscribe, unsubscribe, publish and disconnect over 10 channels. Each
// client must receive exactly the publications of its channels while
// subscribed, in order: publication offsets contiguous from the subscribe
// result's position, none while unsubscribed, and, before each
// unsubscribe, everything up to a publication it made itself.
func TestPropertyDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 clients")
	}
	env := startNode(t, func(o *Options, _ *poller.Options) { o.PingInterval = -1 }) // idle clients do not answer pings
	const (
		clients  = 1000
		drivers  = 8
		channels = 10
		ops      = 3
	)
	var wg sync.WaitGroup
	errs := make(chan error, drivers)
	var mu sync.Mutex
	total := 0
	for d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(d), 7))
			cs := make([]*propClient, clients/drivers)
			for i := range cs {
				cs[i] = &propClient{name: fmt.Sprintf("client %d/%d", d, i)}
				if err := cs[i].dial(env.url); err != nil {
					errs <- err
					return
				}
			}
			defer func() {
				for _, c := range cs {
					c.conn.Close()
				}
			}()
			seq := 0
			for range ops * len(cs) {
				c := cs[rng.IntN(len(cs))]
				ch := fmt.Sprintf("hist:p%d", rng.IntN(channels))
				_, subscribed := c.next[ch]
				var err error
				op := rng.IntN(10)
				switch {
				case op < 4 && !subscribed:
					var r *propPush
					r, err = c.command(`"subscribe":{"channel":%q,"positioned":true}`, ch)
					if err == nil && r.Subscribe == nil {
						err = fmt.Errorf("%s: subscribe %s failed", c.name, ch)
					} else if err == nil {
						c.next[ch] = r.Subscribe.Offset + 1
					}
				case op < 7:
					seq++
					marker := fmt.Sprintf(`"m%d-%d"`, d, seq)
					_, err = c.command(`"publish":{"channel":%q,"data":%s}`, ch, marker)
					if err == nil && subscribed {
						err = c.waitMark(marker)
					}
				case op < 9 && subscribed:
					seq++
					marker := fmt.Sprintf(`"u%d-%d"`, d, seq)
					if _, err = c.command(`"publish":{"channel":%q,"data":%s}`, ch, marker); err == nil {
						err = c.waitMark(marker)
					}
					if err == nil {
						_, err = c.command(`"unsubscribe":{"channel":%q}`, ch)
						delete(c.next, ch)
					}
				case op == 9:
					c.conn.Close()
					mu.Lock()
					total += c.seen
					mu.Unlock()
					err = c.dial(env.url)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			mu.Lock()
			for _, c := range cs {
				total += c.seen
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d publications checked", total)
	if total == 0 {
		t.Fatal("no publication was delivered")
	}
}
