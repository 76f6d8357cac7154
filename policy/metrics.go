package policy

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	decisions     *prometheus.CounterVec
	postRefused   *prometheus.CounterVec
	verifyRefused *prometheus.CounterVec
	erasures      *prometheus.CounterVec
	dropped       *prometheus.CounterVec
}

func newMetrics() metrics {
	return metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_consent_decisions_total",
			Help: "Consent decisions recorded, by event (grant, deny, withdraw) and mode.",
		}, []string{"event", "mode"}),
		postRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_consent_refused_total",
			Help: "Consent POSTs refused, by reason.",
		}, []string{"reason"}),
		verifyRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_consent_verify_refused_total",
			Help: "Consent checks for uploads that failed, by reason.",
		}, []string{"reason"}),
		erasures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_consent_erasures_total",
			Help: "Erasures of withdrawn subjects, by result.",
		}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_consent_withdrawn_segments_dropped_total",
			Help: "Spooled segments of withdrawn subjects dropped before delivery, by forwarder.",
		}, []string{"forwarder"}),
	}
}

func (m metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.decisions, m.postRefused, m.verifyRefused, m.erasures, m.dropped} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
