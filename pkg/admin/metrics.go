package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xh-control/gateway/internal/metric"
	"github.com/xh-control/gateway/pkg/codec"
	"github.com/xh-control/gateway/pkg/poller"
)

// collector exports the gateway's own counters, which the hot paths keep as
// plain atomics, as Prometheus metrics when /metrics is scraped: the hot
// paths pay no label lookups, and the metrics cost nothing between scrapes.
type collector struct {
	srv     *poller.Server
	version string
	descs   map[string]*prometheus.Desc
}

const namespace = "gateway"

var metricHelp = []struct {
	name, help string
	labels     []string
}{
	{"connections", "Open WebSocket sessions.", nil},
	{"connections_total", "WebSocket sessions opened since start.", nil},
	{"connections_closed_total", "WebSocket sessions closed since start.", nil},
	{"tcp_accepted_total", "TCP connections accepted.", nil},
	{"tcp_refused_total", "TCP connections refused while draining for shutdown.", nil},
	{"handshakes_in_progress", "Connections that have not finished their handshake.", nil},
	{"handshake_rejections_total", "Handshakes answered with an HTTP error, by reason (ip_limit: 429 per-IP limit; handshake_rate: 503 pacer queue full).", []string{"reason"}},
	{"handshakes_queued", "Handshakes waiting for their slot of limits.handshake_rate.", nil},
	{"connection_ips", "Client IPs holding at least one connection (counted for limits.max_connections_per_ip).", nil},
	{"pages_served_total", "Plain HTTP pages (the demo page) served on the WebSocket port.", nil},
	{"messages_received_total", "Messages (control frames: frames) received, by opcode.", []string{"opcode"}},
	{"messages_sent_total", "Messages (control frames: frames) sent, by opcode.", []string{"opcode"}},
	{"bytes_received_total", "Payload bytes received, by opcode (compressed messages: inflated size).", []string{"opcode"}},
	{"bytes_sent_total", "Payload bytes sent, by opcode (before compression).", []string{"opcode"}},
	{"close_codes_sent_total", "Close frames sent, by code.", []string{"code"}},
	{"close_codes_received_total", "Close frames received, by code.", []string{"code"}},
	{"write_queue_drops_total", "Messages dropped by the drop slow-consumer policy.", nil},
	{"slow_consumer_closes_total", "Sessions closed with 1008 by the close slow-consumer policy.", nil},
	{"write_timeouts_total", "Sessions closed because the client did not read within the write timeout.", nil},
	{"idle_timeouts_total", "Sessions closed because the client was silent past the idle timeout.", nil},
	{"write_waits_total", "Writes that found the socket's send buffer full and had to wait.", nil},
	{"pings_sent_total", "Heartbeat pings sent to idle sessions.", nil},
	{"handler_panics_total", "Handler panics recovered (each closed its session with 1011).", nil},
	{"read_pauses_total", "Times a connection stopped being read because its own replies outran its socket (back-pressure).", nil},
	{"memory_reclaims_total", "Times memory was returned to the OS after a spike of backlogged or closed sessions drained.", nil},
	{"worker_pool_busy_workers", "Workers running handler tasks.", nil},
	{"worker_pool_queue_depth", "Handler tasks waiting for a free worker.", nil},
	{"flush_duration_seconds", "Time to write a batch of queued frames, including waits for a full socket (fast writes sampled).", nil},
	{"handshake_duration_seconds", "Time from TCP accept to the 101 response.", nil},
	{"build_info", "Always 1; the version label identifies the build.", []string{"version"}},
}

func newCollector(srv *poller.Server, version string) *collector {
	c := &collector{srv: srv, version: version, descs: map[string]*prometheus.Desc{}}
	for _, m := range metricHelp {
		c.descs[m.name] = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", m.name), m.help, m.labels, nil)
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	hub := c.srv.Hub()
	hs, ps := hub.Stats(), c.srv.Stats()
	counter := func(name string, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, labels...)
	}
	gauge("connections", float64(hub.Count()))
	counter("connections_total", hs.Opened.Load())
	counter("connections_closed_total", hs.Closed.Load())
	counter("tcp_accepted_total", ps.Accepted.Load())
	counter("tcp_refused_total", ps.Refused.Load())
	gauge("handshakes_in_progress", float64(c.srv.HandshakesInProgress()))
	gauge("handshakes_queued", float64(c.srv.HandshakesQueued()))
	gauge("connection_ips", float64(c.srv.ConnectionIPs()))
	ps.EachRejection(func(reason string, n uint64) { counter("handshake_rejections_total", n, reason) })
	counter("pages_served_total", ps.PagesSent.Load())
	for _, op := range []codec.OpCode{codec.OpText, codec.OpBinary, codec.OpClose, codec.OpPing, codec.OpPong} {
		counter("messages_received_total", hs.MessagesIn[op].Load(), op.String())
		counter("messages_sent_total", hs.MessagesOut[op].Load(), op.String())
		counter("bytes_received_total", hs.BytesIn[op].Load(), op.String())
		counter("bytes_sent_total", hs.BytesOut[op].Load(), op.String())
	}
	hs.ClosesSent.Each(func(code string, n uint64) { counter("close_codes_sent_total", n, code) })
	hs.ClosesReceived.Each(func(code string, n uint64) { counter("close_codes_received_total", n, code) })
	counter("write_queue_drops_total", hs.Dropped.Load())
	counter("slow_consumer_closes_total", hs.SlowConsumerCloses.Load())
	counter("write_timeouts_total", hs.WriteTimeouts.Load())
	counter("idle_timeouts_total", hs.IdleTimeouts.Load())
	counter("write_waits_total", hs.WriteWaits.Load())
	counter("pings_sent_total", hs.PingsSent.Load())
	counter("handler_panics_total", ps.Panics.Load())
	counter("read_pauses_total", ps.ReadPauses.Load())
	counter("memory_reclaims_total", hs.Reclaims.Load())
	busy, queued := c.srv.PoolStats()
	gauge("worker_pool_busy_workers", float64(busy))
	gauge("worker_pool_queue_depth", float64(queued))
	ch <- histogram(c.descs["flush_duration_seconds"], hs.FlushLatency)
	ch <- histogram(c.descs["handshake_duration_seconds"], ps.HandshakeLatency)
	gauge("build_info", 1, c.version)
}

func histogram(d *prometheus.Desc, h *metric.Histogram) prometheus.Metric {
	bounds, cumulative, count, sum := h.Snapshot()
	buckets := make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		buckets[b] = cumulative[i]
	}
	return prometheus.MustNewConstHistogram(d, count, sum, buckets)
}
