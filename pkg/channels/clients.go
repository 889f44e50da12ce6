package channels

import (
	"hash/maphash"
	"sync"

	"github.com/xh-control/gateway/pkg/session"
)

const clientShards = 64 // a power of two; session IDs are sequential

// clientTable holds the node's clients by session ID and by user.
type clientTable struct {
	shards [clientShards]clientShard
	seed   maphash.Seed
	users  [clientShards]userShard
}

type clientShard struct {
	mu      sync.RWMutex
	clients map[session.ID]*client
	_       [40]byte
}

type userShard struct {
	mu    sync.RWMutex
	users map[string]map[*client]struct{}
	_     [40]byte
}

func (t *clientTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].clients = make(map[session.ID]*client)
		t.users[i].users = make(map[string]map[*client]struct{})
	}
}

func (t *clientTable) shard(id session.ID) *clientShard {
	return &t.shards[uint64(id)&(clientShards-1)]
}

func (t *clientTable) add(c *client) {
	sh := t.shard(c.sess.ID())
	sh.mu.Lock()
	sh.clients[c.sess.ID()] = c
	sh.mu.Unlock()
}

func (t *clientTable) remove(c *client) {
	sh := t.shard(c.sess.ID())
	sh.mu.Lock()
	delete(sh.clients, c.sess.ID())
	sh.mu.Unlock()
}

func (t *clientTable) get(id session.ID) *client {
	sh := t.shard(id)
	sh.mu.RLock()
	c := sh.clients[id]
	sh.mu.RUnlock()
	return c
}

// each calls f for every client, outside the table's locks.
func (t *clientTable) each(f func(c *client)) {
	var all []*client
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, c := range sh.clients {
			all = append(all, c)
		}
		sh.mu.RUnlock()
	}
	for _, c := range all {
		f(c)
	}
}

// count returns the number of clients (connected or not).
func (t *clientTable) count() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		n += len(sh.clients)
		sh.mu.RUnlock()
	}
	return n
}

// due appends to dst the clients with a timer due at now.
func (t *clientTable) due(now int64, dst []*client) []*client {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, c := range sh.clients {
			if d := c.due.Load(); d != 0 && d <= now {
				dst = append(dst, c)
			}
		}
		sh.mu.RUnlock()
	}
	return dst
}

func (t *clientTable) userShard(user string) *userShard {
	return &t.users[maphash.String(t.seed, user)&(clientShards-1)]
}

// addUser indexes c under its user; anonymous clients are not indexed.
func (t *clientTable) addUser(user string, c *client) {
	if user == "" {
		return
	}
	sh := t.userShard(user)
	sh.mu.Lock()
	m := sh.users[user]
	if m == nil {
		m = make(map[*client]struct{}, 1)
		sh.users[user] = m
	}
	m[c] = struct{}{}
	sh.mu.Unlock()
}

func (t *clientTable) removeUser(user string, c *client) {
	if user == "" {
		return
	}
	sh := t.userShard(user)
	sh.mu.Lock()
	if m := sh.users[user]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(sh.users, user)
		}
	}
	sh.mu.Unlock()
}

// byUser returns the user's clients on this node.
func (t *clientTable) byUser(user string) []*client {
	sh := t.userShard(user)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	out := make([]*client, 0, len(sh.users[user]))
	for c := range sh.users[user] {
		out = append(out, c)
	}
	return out
}

// numUsers returns the number of distinct users connected here.
func (t *clientTable) numUsers() int {
	n := 0
	for i := range t.users {
		sh := &t.users[i]
		sh.mu.RLock()
		n += len(sh.users)
		sh.mu.RUnlock()
	}
	return n
}
