// Command baseline is what a user would pick instead of the gateway: the
// reference design (../shared/reference, a gorilla/websocket echo server),
// rebuilt as faithfully as possible so that bench/run.sh can compare like
// with like. Per connection it runs the HTTP handler's read loop and a
// writer goroutine fed by a 256-slot channel; a full channel drops the
// message, as the reference's select/default does. Two additions, for the
// scenarios: binary messages are echoed as binary, and -mode broadcast sends
// every message to every registered connection (the reference's suggested
// extension).
//
// One deliberate change: sendMsg holds the read lock while it offers the
// message to the channel. The reference releases it first, so a concurrent
// close could make the send panic on a closed channel; under load tests
// that crashes the baseline instead of measuring it.
//
// It stays out of the gateway's import graph: nothing imports this package.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	CheckOrigin:     func(r *http.Request) bool { return true },
}

type message struct {
	typ  int
	data []byte
}

type ConnModel struct {
	Conn      *websocket.Conn
	Send      chan message
	ConnAddr  string
	closeOnce sync.Once
}

var (
	stateMu    sync.RWMutex
	connByAddr = map[string]*ConnModel{}
	broadcast  bool
)

func startWriter(m *ConnModel) {
	go func() {
		for msg := range m.Send {
			_ = m.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := m.Conn.WriteMessage(msg.typ, msg.data); err != nil {
				closeEvent(m.Conn)
				_ = m.Conn.Close()
				return
			}
		}
	}()
}

func sendMsg(conn *websocket.Conn, msg message) {
	if conn == nil {
		return
	}
	key := fmt.Sprintf("%p", conn)
	stateMu.RLock()
	defer stateMu.RUnlock()
	m := connByAddr[key]
	if m == nil || m.Send == nil {
		return
	}
	select {
	case m.Send <- msg:
	default:
	}
}

func sendAll(msg message) {
	stateMu.RLock()
	defer stateMu.RUnlock()
	for _, m := range connByAddr {
		if m.Send == nil {
			continue
		}
		select {
		case m.Send <- msg:
		default:
		}
	}
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer func() {
		closeEvent(conn)
		_ = conn.Close()
	}()
	conn.SetCloseHandler(func(code int, text string) error {
		closeEvent(conn)
		return nil
	})
	key := fmt.Sprintf("%p", conn)
	m := &ConnModel{
		Conn:     conn,
		Send:     make(chan message, 256),
		ConnAddr: key,
	}
	startWriter(m)
	stateMu.Lock()
	connByAddr[key] = m
	stateMu.Unlock()
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		if mt == websocket.TextMessage || mt == websocket.BinaryMessage {
			if broadcast {
				sendAll(message{mt, data})
			} else {
				sendMsg(conn, message{mt, data})
			}
		}
	}
}

func closeEvent(conn *websocket.Conn) {
	key := fmt.Sprintf("%p", conn)
	stateMu.Lock()
	defer stateMu.Unlock()
	if m, ok := connByAddr[key]; ok {
		delete(connByAddr, key)
		m.closeOnce.Do(func() {
			if m.Send != nil {
				close(m.Send)
				m.Send = nil
			}
		})
	}
}

func main() {
	listen := flag.String("listen", ":8080", "address for WebSocket clients")
	mode := flag.String("mode", "echo", "echo, or broadcast (every message to every connection)")
	metrics := flag.String("metrics", "", "address serving go_goroutines in Prometheus text format, for the load tool")
	flag.Parse()
	broadcast = *mode == "broadcast"
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
		})
		go func() { log.Fatal(http.ListenAndServe(*metrics, mux)) }()
	}
	http.HandleFunc("/ws", echoHandler)
	log.Printf("baseline (%s) listening on %s", *mode, *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
