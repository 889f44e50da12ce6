package channels

// allowCommand takes one token of the connection's command rate
// (Config.CommandRate). The session's reader serializes calls.
func (c *client) allowCommand() bool {
	l := c.node.cfg.CommandRate
	if l.Rate <= 0 {
		return true
	}
	if c.bucket.Allow(c.node.now(), l) {
		return true
	}
	c.node.metrics.command("any", "too_many_requests")
	return false
}
