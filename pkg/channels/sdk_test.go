package channels

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

// killableDialer remembers the SDK's TCP connections so that a test can
// cut them, as a network failure would.
type killableDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	blocked atomic.Bool // refuse to dial, as while the network is down
}

func (d *killableDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.blocked.Load() {
		return nil, errors.New("network down")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// sdkClient is a centrifuge-go client with its events on channels.
type sdkClient struct {
	*centrifuge.Client
	dialer    *killableDialer
	connected chan string
}

func newSDKClient(t *testing.T, env *testEnv, protobuf bool, cfg centrifuge.Config) *sdkClient {
	t.Helper()
	d := &killableDialer{}
	cfg.NetDialContext = d.dial
	cfg.MinReconnectDelay, cfg.MaxReconnectDelay = 50*time.Millisecond, 200*time.Millisecond
	var c *centrifuge.Client
	if protobuf {
		c = centrifuge.NewProtobufClient(env.url, cfg)
	} else {
		c = centrifuge.NewJsonClient(env.url, cfg)
	}
	sc := &sdkClient{Client: c, dialer: d, connected: make(chan string, 16)}
	c.OnConnected(func(e centrifuge.ConnectedEvent) { sc.connected <- e.ClientID })
	t.Cleanup(c.Close)
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sc.connected:
	case <-time.After(5 * time.Second):
		t.Fatal("SDK client did not connect")
	}
	return sc
}

// sdkSub is a subscription with its events on channels.
type sdkSub struct {
	*centrifuge.Subscription
	pubs       chan centrifuge.Publication
	subscribed chan centrifuge.SubscribedEvent
}

func subscribeSDK(t *testing.T, c *sdkClient, ch string, cfg centrifuge.SubscriptionConfig) *sdkSub {
	t.Helper()
	s, err := c.NewSubscription(ch, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ss := &sdkSub{Subscription: s, pubs: make(chan centrifuge.Publication, 1000), subscribed: make(chan centrifuge.SubscribedEvent, 16)}
	s.OnPublication(func(e centrifuge.PublicationEvent) { ss.pubs <- e.Publication })
	s.OnSubscribed(func(e centrifuge.SubscribedEvent) { ss.subscribed <- e })
	if err := s.Subscribe(); err != nil {
		t.Fatal(err)
	}
	ss.waitSubscribed(t)
	return ss
}

func (s *sdkSub) waitSubscribed(t *testing.T) centrifuge.SubscribedEvent {
	t.Helper()
	select {
	case e := <-s.subscribed:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("not subscribed")
	}
	panic("unreachable")
}

func (s *sdkSub) expectPubs(t *testing.T, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case p := <-s.pubs:
			if string(p.Data) != w {
				t.Fatalf("publication %d: got %s, want %s", i, p.Data, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("publication %d (%s) did not arrive", i, w)
		}
	}
	select {
	case p := <-s.pubs:
		t.Fatalf("unexpected publication %s", p.Data)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSDK(t *testing.T) {
	for _, protobuf := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", protobuf), func(t *testing.T) {
			env := startNode(t, nil)
			anon := newSDKClient(t, env, protobuf, centrifuge.Config{})
			tok := token(t, jwt.MapClaims{"sub": "42", "exp": time.Now().Add(time.Hour).Unix(), "info": map[string]any{"name": "A"}})
			user := newSDKClient(t, env, protobuf, centrifuge.Config{Token: tok})

			sa := subscribeSDK(t, anon, "chat:room", centrifuge.SubscriptionConfig{})
			su := subscribeSDK(t, user, "chat:room", centrifuge.SubscriptionConfig{})
			for i := 1; i <= 3; i++ {
				if _, err := su.Publish(context.Background(), []byte(`{"n":`+strconv.Itoa(i)+`}`)); err != nil {
					t.Fatal(err)
				}
			}
			sa.expectPubs(t, `{"n":1}`, `{"n":2}`, `{"n":3}`)
			su.expectPubs(t, `{"n":1}`, `{"n":2}`, `{"n":3}`)

			h, err := sa.History(context.Background(), centrifuge.WithHistoryLimit(-1))
			if err != nil || len(h.Publications) != 3 || h.Offset != 3 || h.Epoch == "" {
				t.Fatalf("history %+v %v", h, err)
			}
			for i, p := range h.Publications {
				if p.Offset != uint64(i+1) || p.Info == nil || p.Info.User != "42" || string(p.Info.ConnInfo) != `{"name":"A"}` {
					t.Fatalf("history publication %d: %+v", i, p)
				}
			}
			pr, err := sa.Presence(context.Background())
			if err != nil || len(pr.Clients) != 2 {
				t.Fatalf("presence %+v %v", pr, err)
			}
			st, err := sa.PresenceStats(context.Background())
			if err != nil || st.NumClients != 2 || st.NumUsers != 2 {
				t.Fatalf("presence stats %+v %v", st, err)
			}
		})
	}
}

func TestSDKRecovery(t *testing.T) {
	env := startNode(t, nil)
	pub := newSDKClient(t, env, false, centrifuge.Config{})
	c := newSDKClient(t, env, false, centrifuge.Config{})
	s := subscribeSDK(t, c, "chat:recover", centrifuge.SubscriptionConfig{Recoverable: true})
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := pub.Publish(context.Background(), "chat:recover", []byte(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(1, 2)
	s.expectPubs(t, "1", "2")

	// Cut the socket; publish 50 while the client is away.
	c.Client.OnDisconnected(func(centrifuge.DisconnectedEvent) {})
	waitGone := make(chan struct{}, 1)
	c.OnConnecting(func(centrifuge.ConnectingEvent) {
		select {
		case waitGone <- struct{}{}:
		default:
		}
	})
	c.dialer.blocked.Store(true)
	c.dialer.kill()
	<-waitGone
	publish(3, 52)
	c.dialer.blocked.Store(false)
	e := s.waitSubscribed(t)
	if !e.WasRecovering || !e.Recovered {
		t.Fatalf("resubscribed %+v, want recovered", e)
	}
	var want []string
	for i := 3; i <= 52; i++ {
		want = append(want, strconv.Itoa(i))
	}
	s.expectPubs(t, want...)

	// Past the history window (100): recovery fails.
	c.dialer.blocked.Store(true)
	c.dialer.kill()
	<-waitGone
	publish(53, 200)
	c.dialer.blocked.Store(false)
	e = s.waitSubscribed(t)
	if !e.WasRecovering || e.Recovered {
		t.Fatalf("resubscribed %+v, want not recovered", e)
	}
	publish(201, 201)
	s.expectPubs(t, "201")
}
