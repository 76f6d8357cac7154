package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestMetrics sends one request of each kind through fronts and reads
// their counters back.
func TestMetrics(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/missing", http.NotFound)
	good := httptest.NewServer(mux)
	t.Cleanup(good.Close)
	broken, _ := rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly part of it")
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()

	front := func(target string, reg prometheus.Registerer) (*httptest.Server, error) {
		u, _ := url.Parse(target)
		f, err := New(DefaultConfig(), u, Options{Prefix: "/__replay", Endpoints: http.NotFoundHandler(), Registerer: reg}, zerolog.Nop())
		if err != nil {
			return nil, err
		}
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		return srv, nil
	}
	get := func(srv *httptest.Server, path string) {
		resp, err := http.Get(srv.URL + path)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	regs := map[string]*prometheus.Registry{"good": prometheus.NewRegistry(), "down": prometheus.NewRegistry(), "broken": prometheus.NewRegistry()}
	srv, err := front(good.URL, regs["good"])
	if err != nil {
		t.Fatal(err)
	}
	get(srv, "/ok")
	get(srv, "/missing")
	get(srv, "/__replay/x")
	if _, err := front(good.URL, regs["good"]); err == nil {
		t.Error("a second front registered the same metrics")
	}
	if srv, err = front(downURL, regs["down"]); err != nil {
		t.Fatal(err)
	}
	get(srv, "/")
	get(srv, "/again")
	if srv, err = front(broken.URL, regs["broken"]); err != nil {
		t.Fatal(err)
	}
	get(srv, "/")
	if srv, err = front(good.URL, nil); err != nil { // no registry: counts nothing
		t.Fatal(err)
	}
	get(srv, "/ok")

	for _, tc := range []struct {
		reg    string
		sample string
		want   float64
	}{
		{"good", `replaygate_proxy_requests_total{class="2xx",route="upstream"}`, 1},
		{"good", `replaygate_proxy_requests_total{class="4xx",route="upstream"}`, 1},
		{"good", `replaygate_proxy_requests_total{class="4xx",route="own"}`, 1},
		{"down", `replaygate_proxy_upstream_failures_total{reason="unavailable"}`, 2},
		{"down", `replaygate_proxy_requests_total{class="5xx",route="upstream"}`, 2},
		{"broken", `replaygate_proxy_upstream_failures_total{reason="body_broke_off"}`, 1},
		{"broken", `replaygate_proxy_requests_total{class="aborted",route="upstream"}`, 1},
	} {
		if got := counterValue(t, regs[tc.reg], tc.sample); got != tc.want {
			t.Errorf("%s: %s = %v, want %v", tc.reg, tc.sample, got, tc.want)
		}
	}
	for name, reg := range regs {
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("%s lint: %v %v", name, problems, err)
		}
	}
}

// counterValue reads one sample, given as name{labels}, from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, sample string) float64 {
	t.Helper()
	name, labels, _ := strings.Cut(strings.TrimSuffix(sample, "}"), "{")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, kv := range strings.Split(labels, ",") {
				k, v, _ := strings.Cut(kv, "=")
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && `"`+l.GetValue()+`"` == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
