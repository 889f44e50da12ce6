package channels

import (
	"encoding/json"
	"regexp"
	"testing"
)

var clientIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestConnectAnonymous(t *testing.T) {
	env := startNode(t, nil)
	c := dialJSON(t, env.url, nil)
	c.send(`{"id":1,"connect":{"name":"test"}}`)
	var r struct {
		ID      uint32         `json:"id"`
		Connect map[string]any `json:"connect"`
	}
	s := c.next()
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != 1 || !clientIDRe.MatchString(r.Connect["client"].(string)) || r.Connect["version"] != "test" ||
		r.Connect["ping"] != float64(25) || r.Connect["pong"] != true || len(r.Connect) != 4 {
		t.Fatalf("connect reply %s", s)
	}
}

func TestBatchedSubscribePublishReceive(t *testing.T) {
	env := startNode(t, nil)
	a := dialJSON(t, env.url, nil)
	a.send(`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":"news"}}`)
	a.next()
	expectJSON(t, a.next(), `{"id":2,"subscribe":{}}`)
	b := dialJSON(t, env.url, nil)
	bID := b.connect("")
	b.send(`{"id":2,"publish":{"channel":"news","data":{"text":"hi"}}}`)
	expectJSON(t, b.next(), `{"id":2,"publish":{}}`)
	expectJSON(t, a.next(), `{"push":{"channel":"news","pub":{"data":{"text":"hi"},"info":{"user":"","client":"`+bID+`"}}}}`)
}
