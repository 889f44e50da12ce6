// Command backend is an example application backend for the gateway's
// proxies (the same JSON as Centrifugo's HTTP proxy, so it works behind
// either). It decides who a client is from a cookie or an Authorization
// header, who may subscribe to what, rejects publications that contain a
// forbidden word and rewrites the rest, and answers one RPC method.
//
//	go run ./examples/backend -listen 127.0.0.1:9000
//
// and in the gateway's configuration:
//
//	channels:
//	  proxy:
//	    connect:   {endpoint: "http://127.0.0.1:9000/connect",   http_headers: [Cookie, Authorization]}
//	    subscribe: {endpoint: "http://127.0.0.1:9000/subscribe"}
//	    publish:   {endpoint: "http://127.0.0.1:9000/publish"}
//	    rpc:       {endpoint: "http://127.0.0.1:9000/rpc"}
//	  channel:   # namespaces that ask the backend
//	    namespaces: [{name: chat, subscribe_proxy_enabled: true, publish_proxy_enabled: true}]
//
// (README "Backends" has the full loop.)
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"
)

// users maps a session cookie or bearer token to a user ID and the
// channels (namespaces) the user may join.
var users = map[string]user{
	"alice-secret": {ID: "alice", Name: "Alice", Rooms: []string{"chat:", "news"}},
	"bob-secret":   {ID: "bob", Name: "Bob", Rooms: []string{"chat:"}},
}

type user struct {
	ID    string
	Name  string
	Rooms []string // channel prefixes the user may subscribe to
}

// forbiddenWord is refused in publications.
const forbiddenWord = "spam"

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to serve the proxy endpoints on")
	flag.Parse()
	log.Printf("example backend listening on %s", *listen)
	srv := &http.Server{Addr: *listen, Handler: newMux(), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", connect)
	mux.HandleFunc("POST /subscribe", subscribe)
	mux.HandleFunc("POST /publish", publish)
	mux.HandleFunc("POST /rpc", rpc)
	return mux
}

// credentials finds the user from the forwarded Cookie ("session=...") or
// Authorization ("Bearer ...") header.
func credentials(r *http.Request) (user, bool) {
	if c, err := r.Cookie("session"); err == nil {
		u, ok := users[c.Value]
		return u, ok
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		u, ok := users[t]
		return u, ok
	}
	return user{}, false
}

func connect(w http.ResponseWriter, r *http.Request) {
	u, ok := credentials(r)
	if !ok {
		reply(w, map[string]any{"disconnect": map[string]any{"code": 4501, "reason": "unauthorized"}})
		return
	}
	info, _ := json.Marshal(map[string]string{"name": u.Name})
	reply(w, map[string]any{"result": map[string]any{
		"user":      u.ID,
		"expire_at": time.Now().Add(time.Hour).Unix(),
		"info":      json.RawMessage(info),
	}})
}

type channelRequest struct {
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	Method  string          `json:"method"`
}

func decode(w http.ResponseWriter, r *http.Request) (channelRequest, bool) {
	var req channelRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return req, false
	}
	return req, true
}

func subscribe(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	for _, u := range users {
		if u.ID != req.User {
			continue
		}
		for _, prefix := range u.Rooms {
			if strings.HasPrefix(req.Channel, prefix) {
				reply(w, map[string]any{"result": map[string]any{}})
				return
			}
		}
	}
	reply(w, map[string]any{"error": map[string]any{"code": 403, "message": "permission denied"}})
}

func publish(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	var msg map[string]any
	if err := json.Unmarshal(req.Data, &msg); err != nil {
		reply(w, map[string]any{"error": map[string]any{"code": 400, "message": "data must be a JSON object"}})
		return
	}
	text, _ := msg["text"].(string)
	if strings.Contains(strings.ToLower(text), forbiddenWord) {
		reply(w, map[string]any{"error": map[string]any{"code": 1000, "message": "message refused"}})
		return
	}
	msg["by"] = req.User // the backend stamps the author: clients cannot forge it
	data, _ := json.Marshal(msg)
	reply(w, map[string]any{"result": map[string]any{"data": json.RawMessage(data)}})
}

func rpc(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	switch req.Method {
	case "time":
		reply(w, map[string]any{"result": map[string]any{"data": map[string]any{"unix": time.Now().Unix()}}})
	default:
		reply(w, map[string]any{"error": map[string]any{"code": 104, "message": "method not found"}})
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
