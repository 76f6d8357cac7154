package proxy

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts the front's traffic. A nil *metrics counts nothing.
type metrics struct {
	requests *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_proxy_requests_total",
			Help: "Requests answered, by route (upstream, own endpoints, refused) and status class; aborted responses count as \"aborted\".",
		}, []string{"route", "class"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_proxy_upstream_failures_total",
			Help: "Upstream requests that failed: unavailable (502), timeout (504), canceled by the visitor, or a body that broke off mid-response.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "replaygate_proxy_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.failures, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) request(route string, status int, aborted bool, took time.Duration) {
	if m == nil {
		return
	}
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	class := "aborted"
	if !aborted {
		class = statusClass(status)
	}
	m.requests.WithLabelValues(route, class).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

func (m *metrics) failure(reason string) {
	if m != nil {
		m.failures.WithLabelValues(reason).Inc()
	}
}

func statusClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	case status < http.StatusNetworkAuthenticationRequired+1:
		return "5xx"
	}
	return "other"
}
