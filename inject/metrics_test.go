package inject

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestMetrics drives one response of each kind through a Rewriter and
// reads its counters back.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	rw, err := New(cfg, DefaultMarkup(cfg.Prefix), zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	big := bigPage(rand.New(rand.NewPCG(40, 41)), 400<<10)
	respond := func(ctype, enc string, length int64, body []byte, hdr ...string) bool {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "http://shop.test/p", nil)
		h := http.Header{"Content-Type": {ctype}}
		if enc != "" {
			h.Set("Content-Encoding", enc)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Set(hdr[i], hdr[i+1])
		}
		resp := &http.Response{StatusCode: 200, Request: req, ContentLength: length, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		ok := rw.Rewrite(resp)
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	respond("text/html", "", int64(len(page)), []byte(page)) // whole
	respond("text/html", "", -1, []byte(page))               // stream
	noPoint := []byte("<!-- a comment that never ends")
	respond("text/html", "", int64(len(noPoint)), noPoint) // whole, no insertion point
	respond("text/css", "", 3, []byte("a{}"))              // skipped: content type
	respond("text/html", "", int64(len(page)), []byte(page), "Content-Security-Policy", "script-src 'none'")
	gz := stdGzip(t, big, 6)
	respond("text/html", "gzip", int64(len(gz)), gz) // stream, spliced

	for name, tc := range map[string]struct {
		c    prometheus.Collector
		want float64
	}{
		"whole":         {rw.codecs.m.whole, 2},
		"stream":        {rw.codecs.m.stream, 2},
		"content type":  {rw.codecs.m.skipped["content type"], 1},
		"csp":           {rw.codecs.m.skipped["csp forbids scripts"], 1},
		"no insertion":  {rw.codecs.m.gaveUp, 1},
		"spliced pages": {rw.codecs.m.spliced, 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	if n := testutil.ToFloat64(rw.codecs.m.splicedBytes); n < float64(len(gz))/2 || n > float64(len(gz)) {
		t.Errorf("spliced bytes %v of a %d-byte body", n, len(gz))
	}
	out, err := testutil.CollectAndLint(reg)
	if err != nil || len(out) > 0 {
		t.Errorf("lint: %v %v", out, err)
	}
	var names []string
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "replaygate_inject_responses_total") {
		t.Errorf("registered: %s", got)
	}
}
