package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	uploads      *prometheus.CounterVec
	accepted     prometheus.Counter
	refused      map[string]prometheus.Counter
	bytes        *prometheus.CounterVec
	wireBytes    prometheus.Counter
	decodedBytes prometheus.Counter
	spooledBytes prometheus.Counter
	scrubHits    *prometheus.CounterVec
	duration     *prometheus.HistogramVec

	acceptedSeconds, refusedSeconds prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_ingest_uploads_total",
			Help: "Uploads by outcome (accepted, refused) and refusal reason.",
		}, []string{"outcome", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_ingest_bytes_total",
			Help: "Upload bytes by stage: wire (as sent), decoded, and spooled (the scrubbed events as compressed for the spool, accepted uploads only).",
		}, []string{"stage"}),
		scrubHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_scrub_hits_total",
			Help: "Values scrubbed from accepted uploads, by detector.",
		}, []string{"detector"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "replaygate_ingest_duration_seconds",
			Help:    "Time to handle an upload, including the durable spool append.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"outcome"}),
		refused: make(map[string]prometheus.Counter, len(refusalReasons)),
	}
	m.accepted = m.uploads.WithLabelValues("accepted", "")
	for _, r := range refusalReasons {
		m.refused[r] = m.uploads.WithLabelValues("refused", r)
	}
	m.acceptedSeconds = m.duration.WithLabelValues("accepted")
	m.refusedSeconds = m.duration.WithLabelValues("refused")
	m.wireBytes = m.bytes.WithLabelValues("wire")
	m.decodedBytes = m.bytes.WithLabelValues("decoded")
	m.spooledBytes = m.bytes.WithLabelValues("spooled")
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.uploads, m.bytes, m.scrubHits, m.duration} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// refusal returns the refused-uploads counter of reason.
func (m *metrics) refusal(reason string) prometheus.Counter {
	if c, ok := m.refused[reason]; ok {
		return c
	}
	return m.uploads.WithLabelValues("refused", reason)
}
