package channels

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xh-control/gateway/internal/metric"
	"github.com/xh-control/gateway/pkg/proxy"
)

// Metrics are the node's counters: plain atomics on the hot paths, turned
// into Prometheus metrics (namespace gateway, subsystem channels) when
// scraped. Metrics implements prometheus.Collector.
type Metrics struct {
	ConnectionsOpen  atomic.Int64 // sessions on the endpoint, connected or not
	Channels         atomic.Int64 // channels with local subscribers
	Subscriptions    atomic.Int64
	PublicationsIn   metric.Counter // accepted from clients and the server API
	PublicationsOut  metric.Counter // deliveries queued to subscribers
	Recoveries       metric.Counter
	RecoveryFailures metric.Counter
	Panics           metric.Counter
	// InsufficientState counts subscribers sent to recover a gap in a
	// channel's stream that this node missed (unsubscribe 2500 or 3010).
	InsufficientState metric.Counter

	commands      sync.Map // labelPair -> *metric.Counter
	tokenFailures sync.Map
	disconnects   sync.Map

	descs   map[string]*prometheus.Desc
	proxies []*proxy.Proxy // set by NewNode
}

type labelPair struct{ a, b string }

func newMetrics() *Metrics {
	m := &Metrics{descs: map[string]*prometheus.Desc{}}
	for _, d := range metricHelp {
		m.descs[d.name] = prometheus.NewDesc(prometheus.BuildFQName("gateway", "channels", d.name), d.help, d.labels, nil)
	}
	return m
}

var metricHelp = []struct {
	name, help string
	labels     []string
}{
	{"connections", "Sessions on the channel protocol endpoint.", nil},
	{"channels", "Channels with subscribers on this node.", nil},
	{"subscriptions", "Subscriptions on this node.", nil},
	{"publications_in_total", "Publications accepted from clients and the server API.", nil},
	{"publications_out_total", "Publications queued to subscribers.", nil},
	{"insufficient_state_total", "Subscribers told to recover publications this node missed (unsubscribe 2500, or close 3010 for server-side subscriptions).", nil},
	{"recoveries_total", "Subscriptions recovered from history, by result.", []string{"result"}},
	{"commands_total", "Client commands, by method and result (ok, an error code, or what closed the connection).", []string{"method", "result"}},
	{"token_failures_total", "Rejected tokens, by command and reason.", []string{"command", "reason"}},
	{"disconnects_total", "Connections closed by the protocol, by code.", []string{"code"}},
	{"panics_total", "Panics recovered in the command path (each closed its connection with 3004).", nil},
	{"proxy_calls_total", "Backend calls, by proxy.", []string{"proxy"}},
	{"proxy_errors_total", "Backend calls without an answer (down, non-200, timeout), by proxy.", []string{"proxy"}},
	{"proxy_refused_total", "Backend calls refused at max_concurrency (error 111), by proxy.", []string{"proxy"}},
	{"proxy_duration_seconds", "Backend call latency, by proxy.", []string{"proxy"}},
}

func count(m *sync.Map, k labelPair) {
	if c, ok := m.Load(k); ok {
		c.(*metric.Counter).Inc()
		return
	}
	c, _ := m.LoadOrStore(k, new(metric.Counter))
	c.(*metric.Counter).Inc()
}

func (m *Metrics) command(method, result string) { count(&m.commands, labelPair{method, result}) }
func (m *Metrics) tokenFailure(cmd, reason string) {
	count(&m.tokenFailures, labelPair{cmd, reason})
}
func (m *Metrics) disconnect(code uint32) {
	count(&m.disconnects, labelPair{strconv.FormatUint(uint64(code), 10), ""})
}

// codeLabel is the result label of an error reply.
func codeLabel(code uint32) string { return strconv.FormatUint(uint64(code), 10) }

// CommandCount returns how many commands of method ended with result.
func (m *Metrics) CommandCount(method, result string) uint64 {
	if c, ok := m.commands.Load(labelPair{method, result}); ok {
		return c.(*metric.Counter).Load()
	}
	return 0
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(name string, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v int64) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.GaugeValue, float64(v))
	}
	gauge("connections", m.ConnectionsOpen.Load())
	gauge("channels", m.Channels.Load())
	gauge("subscriptions", m.Subscriptions.Load())
	counter("publications_in_total", m.PublicationsIn.Load())
	counter("publications_out_total", m.PublicationsOut.Load())
	counter("insufficient_state_total", m.InsufficientState.Load())
	counter("recoveries_total", m.Recoveries.Load(), "recovered")
	counter("recoveries_total", m.RecoveryFailures.Load(), "failed")
	counter("panics_total", m.Panics.Load())
	m.commands.Range(func(k, v any) bool {
		counter("commands_total", v.(*metric.Counter).Load(), k.(labelPair).a, k.(labelPair).b)
		return true
	})
	m.tokenFailures.Range(func(k, v any) bool {
		counter("token_failures_total", v.(*metric.Counter).Load(), k.(labelPair).a, k.(labelPair).b)
		return true
	})
	m.disconnects.Range(func(k, v any) bool {
		counter("disconnects_total", v.(*metric.Counter).Load(), k.(labelPair).a)
		return true
	})
	for _, p := range m.proxies {
		pm := p.Metrics()
		counter("proxy_calls_total", pm.Calls.Load(), p.Name())
		counter("proxy_errors_total", pm.Errors.Load(), p.Name())
		counter("proxy_refused_total", pm.Refused.Load(), p.Name())
		bounds, cumulative, count, sum := pm.Latency.Snapshot()
		buckets := make(map[float64]uint64, len(bounds))
		for i, b := range bounds {
			buckets[b] = cumulative[i]
		}
		ch <- prometheus.MustNewConstHistogram(m.descs["proxy_duration_seconds"], count, sum, buckets, p.Name())
	}
}
