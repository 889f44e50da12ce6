package serverapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts API calls by method and result and times them
// (gateway_api_calls_total{method,result}, result "ok" or the error code;
// gateway_api_call_duration_seconds{method}). Pass its Observe as
// Options.Observe and register it where /metrics is served.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "gateway", Subsystem: "api", Name: "calls_total",
			Help: "Server API calls (each command of a batch or legacy request counts), by method and result (ok or the error code)."},
			[]string{"method", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "gateway", Subsystem: "api", Name: "call_duration_seconds",
			Help: "Time to run a server API method (a batch's commands are timed together).", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8)},
			[]string{"method"}),
	}
}

// Observe records one call; it is an Options.Observe.
func (m *Metrics) Observe(method string, code uint32, elapsed time.Duration) {
	result := "ok"
	if code != 0 {
		result = strconv.FormatUint(uint64(code), 10)
	}
	m.calls.WithLabelValues(method, result).Inc()
	m.duration.WithLabelValues(method).Observe(elapsed.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.calls.Describe(ch)
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.calls.Collect(ch)
	m.duration.Collect(ch)
}
