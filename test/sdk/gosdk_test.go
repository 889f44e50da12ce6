package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

// apiCall posts to the gateway's server API and decodes the result into
// out, failing the test on an error reply.
func apiCall(t *testing.T, method string, params, out any) {
	t.Helper()
	body, _ := json.Marshal(params)
	req, _ := http.NewRequest(http.MethodPost, "http://"+gw.AdminAddr+"/api/"+method, bytes.NewReader(body))
	req.Header.Set("X-API-Key", apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var reply struct {
		Error  *struct{ Code int }
		Result json.RawMessage
	}
	if res.StatusCode != 200 || json.Unmarshal(data, &reply) != nil || reply.Error != nil {
		t.Fatalf("api %s: %d %s", method, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(reply.Result, out); err != nil {
			t.Fatalf("api %s result %s: %v", method, reply.Result, err)
		}
	}
}

// TestGoSDK runs centrifuge-go (v0.12) against the real binary, in both
// encodings: token connect, subscribe, server API and client publications
// received in order, history and presence. (pkg/channels tests the same SDK
// in process, with recovery.)
func TestGoSDK(t *testing.T) {
	for _, protobuf := range []bool{false, true} {
		t.Run(fmt.Sprintf("protobuf=%v", protobuf), func(t *testing.T) {
			t.Parallel()
			url := "ws://" + gw.Addr + "/connection/websocket"
			cfg := centrifuge.Config{Token: signHS256(t, jwt.MapClaims{"sub": "gopher", "exp": time.Now().Add(time.Hour).Unix()})}
			var c *centrifuge.Client
			if protobuf {
				c = centrifuge.NewProtobufClient(url, cfg)
			} else {
				c = centrifuge.NewJsonClient(url, cfg)
			}
			defer c.Close()
			connected := make(chan string, 1)
			c.OnConnected(func(e centrifuge.ConnectedEvent) { connected <- e.ClientID })
			if err := c.Connect(); err != nil {
				t.Fatal(err)
			}
			var clientID string
			select {
			case clientID = <-connected:
			case <-time.After(5 * time.Second):
				t.Fatal("not connected")
			}

			channel := fmt.Sprintf("chat:go-%v", protobuf)
			s, err := c.NewSubscription(channel)
			if err != nil {
				t.Fatal(err)
			}
			pubs := make(chan centrifuge.Publication, 16)
			subscribed := make(chan struct{}, 1)
			s.OnPublication(func(e centrifuge.PublicationEvent) { pubs <- e.Publication })
			s.OnSubscribed(func(centrifuge.SubscribedEvent) { subscribed <- struct{}{} })
			if err := s.Subscribe(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-subscribed:
			case <-time.After(5 * time.Second):
				t.Fatal("not subscribed")
			}

			for i := 1; i <= 3; i++ {
				var r struct{ Offset uint64 }
				apiCall(t, "publish", map[string]any{"channel": channel, "data": map[string]int{"n": i}}, &r)
				if r.Offset != uint64(i) {
					t.Fatalf("API publish %d: offset %d", i, r.Offset)
				}
			}
			if _, err := s.Publish(context.Background(), []byte(`{"n":4}`)); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 4; i++ {
				select {
				case p := <-pubs:
					if want := fmt.Sprintf(`{"n":%d}`, i); string(p.Data) != want || p.Offset != uint64(i) {
						t.Fatalf("publication %d: %s at offset %d, want %s at %d", i, p.Data, p.Offset, want, i)
					}
					if i == 4 && (p.Info == nil || p.Info.User != "gopher" || p.Info.Client != clientID) {
						t.Fatalf("client publication's info: %+v", p.Info)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("publication %d did not arrive", i)
				}
			}

			h, err := s.History(context.Background(), centrifuge.WithHistoryLimit(-1))
			if err != nil || len(h.Publications) != 4 || h.Offset != 4 {
				t.Fatalf("history: %+v, %v", h, err)
			}
			for i, p := range h.Publications {
				if want := fmt.Sprintf(`{"n":%d}`, i+1); string(p.Data) != want || p.Offset != uint64(i+1) {
					t.Fatalf("history %d: %s at %d", i, p.Data, p.Offset)
				}
			}
			pr, err := s.Presence(context.Background())
			if err != nil || len(pr.Clients) != 1 || pr.Clients[clientID].User != "gopher" {
				t.Fatalf("presence: %+v, %v", pr, err)
			}
			st, err := s.PresenceStats(context.Background())
			if err != nil || st.NumClients != 1 || st.NumUsers != 1 {
				t.Fatalf("presence stats: %+v, %v", st, err)
			}
		})
	}
}
