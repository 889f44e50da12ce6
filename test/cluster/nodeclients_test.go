package cluster

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeClients starts count clients of the npm centrifuge SDK in one Node
// process (node/clients.mjs) and returns them in the same shape as the Go
// SDK's clients. It skips (fails with CI) without node or without
// `npm ci --prefix test/cluster/node`.
func nodeClients(t *testing.T, front, channel string, count int) []*client {
	t.Helper()
	bin := need(t, "node", "apt-get install nodejs npm")
	if _, err := os.Stat("node/node_modules/centrifuge"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("test/cluster/node/node_modules is missing and CI is set: npm ci --prefix test/cluster/node")
		}
		t.Skip("npm centrifuge is missing; to run this test: npm ci --prefix test/cluster/node")
	}
	cmd := exec.Command(bin, "node/clients.mjs", "ws://"+front+"/connection/websocket", channel, strconv.Itoa(count))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	clients := make([]*client, count)
	for i := range clients {
		clients[i] = &client{node: -1}
	}
	subscribed := make(chan int, count)
	go readEvents(stdout, clients, subscribed)
	for range count {
		select {
		case <-subscribed:
		case <-time.After(15 * time.Second):
			t.Fatal("npm centrifuge clients did not subscribe through nginx")
		}
	}
	return clients
}

func readEvents(r io.Reader, clients []*client, subscribed chan<- int) {
	sc := bufio.NewScanner(r)
	seen := map[int]bool{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(clients) {
			continue
		}
		c := clients[i]
		c.mu.Lock()
		switch {
		case f[0] == "connected" && len(f) == 3:
			if n, err := strconv.ParseUint(f[2][:min(4, len(f[2]))], 16, 16); err == nil {
				c.node = int(n)
			}
		case f[0] == "disconnected":
			c.node = -1
		case f[0] == "pub" && len(f) == 3:
			if o, err := strconv.ParseUint(f[2], 10, 64); err == nil {
				c.offsets = append(c.offsets, o)
			}
		case f[0] == "subscribed" && !seen[i]:
			seen[i] = true
			subscribed <- i
		}
		c.mu.Unlock()
	}
}
