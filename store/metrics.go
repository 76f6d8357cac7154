package store

import "github.com/prometheus/client_golang/prometheus"

// metrics are the store's Prometheus collectors. They exist even without a
// registerer, so the code never checks for nil.
type metrics struct {
	segments     *prometheus.CounterVec
	deleted      *prometheus.CounterVec
	writeSeconds prometheus.Histogram
}

// Results of Forward, as the "result" label of replaygate_store_segments_total.
const (
	resultStored          = "stored"
	resultDuplicate       = "duplicate"
	resultDeleted         = "deleted"
	resultErased          = "erased"
	resultInvalid         = "invalid"
	resultSubjectMismatch = "subject_mismatch"
)

// Reasons of a deletion, as the "reason" label of replaygate_store_replays_deleted_total.
const (
	reasonAPI       = "api"
	reasonErasure   = "erasure"
	reasonRetention = "retention"
	reasonMaxBytes  = "max_bytes"
	reasonCorrupt   = "unreadable"
)

func newMetrics(s *Store, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		segments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_store_segments_total",
			Help: "Segments handed to the local store, by result (stored, duplicate, or why they were dropped).",
		}, []string{"result"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_store_replays_deleted_total",
			Help: "Replays deleted from the local store, by reason.",
		}, []string{"reason"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "replaygate_store_write_duration_seconds",
			Help:    "Time to store one segment durably (compress unless ingest did, append to the replay's segment log, flush).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if reg == nil {
		return m, nil
	}
	replays := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "replaygate_store_replays",
		Help: "Replays in the local store.",
	}, func() float64 { n, _ := s.usage(); return float64(n) })
	bytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "replaygate_store_bytes",
		Help: "Stored (compressed) size of all replays in the local store.",
	}, func() float64 { _, b := s.usage(); return float64(b) })
	for _, c := range []prometheus.Collector{m.segments, m.deleted, m.writeSeconds, replays, bytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
