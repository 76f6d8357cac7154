package spool

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the spool's Prometheus series. They are always allocated so
// the hot path needs no nil checks; they are registered only when a
// Registerer is given.
type metrics struct {
	appends        *prometheus.CounterVec
	appendSeconds  prometheus.Histogram
	batchSegments  prometheus.Histogram
	forwardSeconds *prometheus.HistogramVec
	forwardErrors  *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	corrupt        prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_spool_appends_total",
			Help: "Segments offered to the spool, by result (ok, full, error).",
		}, []string{"result"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "replaygate_spool_append_seconds",
			Help:    "Time from Append to the fsync covering the segment.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		batchSegments: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "replaygate_spool_commit_batch_segments",
			Help:    "Segments written per fsync (group commit batch size).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		forwardSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "replaygate_forward_seconds",
			Help:    "Duration of one delivery attempt, by forwarder.",
			Buckets: prometheus.DefBuckets,
		}, []string{"forwarder"}),
		forwardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_forward_errors_total",
			Help: "Failed delivery attempts by forwarder and kind (retryable: retried later; permanent: segment skipped).",
		}, []string{"forwarder", "kind"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_forward_delivered_total",
			Help: "Segments delivered, by forwarder.",
		}, []string{"forwarder"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "replaygate_spool_corrupt_records_total",
			Help: "Records skipped because their checksum or framing failed when read back.",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer, s *Spool) error {
	for _, c := range []prometheus.Collector{
		m.appends, m.appendSeconds, m.batchSegments, m.forwardSeconds,
		m.forwardErrors, m.delivered, m.corrupt, depthCollector{s},
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

var (
	depthSegmentsDesc = prometheus.NewDesc("replaygate_spool_depth_segments",
		"Segments spooled but not yet delivered to every forwarder.", nil, nil)
	depthBytesDesc = prometheus.NewDesc("replaygate_spool_depth_bytes",
		"Bytes spooled but not yet delivered to every forwarder.", nil, nil)
	pendingDesc = prometheus.NewDesc("replaygate_forward_pending_segments",
		"Segments spooled but not yet delivered, by forwarder.", []string{"forwarder"}, nil)
)

// depthCollector reads the depth gauges from the spool at scrape time.
type depthCollector struct{ s *Spool }

func (d depthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthSegmentsDesc
	ch <- depthBytesDesc
	ch <- pendingDesc
}

func (d depthCollector) Collect(ch chan<- prometheus.Metric) {
	segs, bytes := d.s.Depth()
	ch <- prometheus.MustNewConstMetric(depthSegmentsDesc, prometheus.GaugeValue, float64(segs))
	ch <- prometheus.MustNewConstMetric(depthBytesDesc, prometheus.GaugeValue, float64(bytes))
	for name, n := range d.s.Pending() {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n), name)
	}
}
