package inject

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what the rewriter did. A nil *metrics counts nothing.
type metrics struct {
	responses    *prometheus.CounterVec
	gaveUp       prometheus.Counter
	spliced      prometheus.Counter
	splicedBytes prometheus.Counter
	ahead        prometheus.Counter

	whole, stream prometheus.Counter
	skipped       map[string]prometheus.Counter
}

// skipReasons are the values of the reason label: why a response was
// passed through untouched (ineligible, and the CSP refusal).
var skipReasons = []string{
	"disabled", "no request", "method", "status", "empty body", "partial content", "content type",
	"charset", "no-transform", "content disposition", "excluded path", "content encoding", "csp forbids scripts",
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replaygate_inject_responses_total",
			Help: "Upstream responses seen by the injector: rewritten whole (small pages), rewritten as a stream, or skipped, by reason.",
		}, []string{"outcome", "reason"}),
		gaveUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "replaygate_inject_no_insertion_point_total",
			Help: "Rewritten responses in which no insertion point was found (within inject.max_head_bytes): passed on unchanged, without the gate.",
		}),
		spliced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "replaygate_inject_spliced_total",
			Help: "Gzip pages re-encoded only up to 32 KiB past the tag, the rest passed on as the upstream compressed it.",
		}),
		splicedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "replaygate_inject_spliced_bytes_total",
			Help: "Compressed upstream bytes passed on undecoded after such a cut.",
		}),
		ahead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "replaygate_inject_starts_sent_ahead_total",
			Help: "Spliced gzip pages whose start and tag were sent before decoding, their first bytes being those of the page's previous response.",
		}),
		skipped: make(map[string]prometheus.Counter, len(skipReasons)),
	}
	m.whole = m.responses.WithLabelValues("whole", "")
	m.stream = m.responses.WithLabelValues("stream", "")
	for _, r := range skipReasons {
		m.skipped[r] = m.responses.WithLabelValues("skipped", strings.ReplaceAll(r, " ", "_"))
	}
	for _, c := range []prometheus.Collector{m.responses, m.gaveUp, m.spliced, m.splicedBytes, m.ahead} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) skip(reason string) {
	if m == nil {
		return
	}
	if c, ok := m.skipped[reason]; ok {
		c.Inc()
	}
}

func (m *metrics) rewritten(whole bool) {
	switch {
	case m == nil:
	case whole:
		m.whole.Inc()
	default:
		m.stream.Inc()
	}
}

func (m *metrics) noInsertionPoint() {
	if m != nil {
		m.gaveUp.Inc()
	}
}

func (m *metrics) cut() {
	if m != nil {
		m.spliced.Inc()
	}
}

func (m *metrics) passed(n int) {
	if m != nil && n > 0 {
		m.splicedBytes.Add(float64(n))
	}
}

func (m *metrics) sentAhead() {
	if m != nil {
		m.ahead.Inc()
	}
}
