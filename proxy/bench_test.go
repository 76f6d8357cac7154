package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/inject"
)

// BenchmarkFrontPage measures one page load through the whole front (the
// engine, the transport to a loopback upstream, the injector, the
// compression) on a kept-alive client connection: the per-request cost
// that decides small-page throughput. Compare with the passthrough run.
func BenchmarkFrontPage(b *testing.B) {
	page := "<!doctype html><html><head><title>t</title></head><body>" +
		strings.Repeat("<div class=\"card\"><a href=\"/p/1\">Product</a><span>€ 12.90</span></div>\n", 260) + "</body></html>"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		io.WriteString(w, page)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	for _, tc := range []struct {
		name   string
		inject bool
		bare   bool
	}{{"inject", true, false}, {"passthrough", false, false}, {"bare-reverseproxy", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			var h http.Handler
			if tc.bare {
				// The reference: the standard library's reverse proxy.
				h = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }, Transport: NewTransport(DefaultConfig())}
			}
			var opts Options
			opts.Prefix = "/__replay"
			if tc.inject {
				cfg := inject.DefaultConfig()
				cfg.Prefix = "/__replay"
				rw, err := inject.New(cfg, inject.DefaultMarkup("/__replay"), zerolog.Nop(), nil)
				if err != nil {
					b.Fatal(err)
				}
				opts.Rewriter = rw
			}
			cfg := DefaultConfig()
			f, err := New(cfg, u, opts, zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if h == nil {
				h = f
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			client := srv.Client()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Encoding", "gzip")
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
