package inject

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/rs/zerolog"
)

const page = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><p>hello</p></body></html>`

func newTestRewriter(t *testing.T, mod func(*Config)) *Rewriter {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	rw, err := New(cfg, DefaultMarkup(cfg.Prefix), zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rw
}

// upstream serves body with the given headers and status.
func upstream(t *testing.T, status int, hdr http.Header, body []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, method, url string, reqHdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range reqHdr {
		req.Header[k] = v
	}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRewriteEligibility(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	with := func(kv ...string) http.Header {
		h := html.Clone()
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name   string
		method string
		path   string
		status int
		hdr    http.Header
		body   []byte
		mod    func(*Config)
		want   bool
	}{
		{name: "html 200", hdr: html, want: true},
		{name: "xhtml", hdr: with("Content-Type", "application/xhtml+xml"), want: true},
		{name: "upper-case type", hdr: with("Content-Type", "TEXT/HTML"), want: true},
		{name: "HEAD", method: http.MethodHead, hdr: html},
		{name: "POST", method: http.MethodPost, hdr: html},
		{name: "404 by default", status: 404, hdr: html},
		{name: "404 when configured", status: 404, hdr: html, mod: func(c *Config) { c.Statuses = []int{200, 404} }, want: true},
		{name: "204", status: 204, hdr: html},
		{name: "304", status: 304, hdr: html},
		{name: "206", status: 206, hdr: with("Content-Range", "bytes 0-3/10")},
		{name: "json", hdr: with("Content-Type", "application/json")},
		{name: "no content type", hdr: http.Header{"Content-Type": {""}}},
		{name: "utf-16", hdr: with("Content-Type", "text/html; charset=UTF-16LE")},
		{name: "no-transform", hdr: with("Cache-Control", "public, no-transform")},
		{name: "attachment", hdr: with("Content-Disposition", `attachment; filename="a.html"`)},
		{name: "inline disposition", hdr: with("Content-Disposition", "inline"), want: true},
		{name: "excluded path", path: "/admin/x", hdr: html, mod: func(c *Config) { c.ExcludePaths = []string{"/admin/"} }},
		{name: "own prefix", path: "/__replay/viewer", hdr: html},
		{name: "zstd", hdr: with("Content-Encoding", "zstd")},
		{name: "stacked encodings", hdr: with("Content-Encoding", "gzip, br")},
		{name: "empty body", hdr: html, body: []byte{}},
		{name: "disabled", hdr: html, mod: func(c *Config) { c.Enabled = false }},
		{name: "script-src none", hdr: with("Content-Security-Policy", "script-src 'none'")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, method, body := tc.status, tc.method, tc.body
			if status == 0 {
				status = 200
			}
			if method == "" {
				method = http.MethodGet
			}
			if body == nil {
				body = []byte(page)
			}
			if status == 204 || status == 304 {
				body = nil
			}
			srv := upstream(t, status, tc.hdr, body)
			rw := newTestRewriter(t, tc.mod)
			resp := fetch(t, method, srv.URL+tc.path, nil)
			before := resp.Header.Clone()
			if got := rw.Rewrite(resp); got != tc.want {
				t.Fatalf("Rewrite = %v, want %v", got, tc.want)
			}
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want {
				if !bytes.Contains(out, []byte(`/__replay/gate.js`)) {
					t.Fatalf("markup missing: %q", out)
				}
				return
			}
			if method == http.MethodHead || status == 204 || status == 304 {
				return
			}
			if !bytes.Equal(out, body) {
				t.Fatalf("body changed: %q", out)
			}
			for k := range before {
				if strings.Join(before[k], "\n") != strings.Join(resp.Header[k], "\n") {
					t.Fatalf("header %s changed", k)
				}
			}
		})
	}
}

func TestRewriteEncodings(t *testing.T) {
	doc := []byte(page + strings.Repeat("<p>more text</p>\n", 2000))
	want := strings.Replace(string(doc), "<head>", `<head><script src="/__replay/gate.js" async=""></script>`, 1)
	for _, tc := range []struct {
		name string
		ce   string
		e    encoding
		raw  bool
	}{
		{"identity", "", encIdentity, false},
		{"gzip", "gzip", encGzip, false},
		{"x-gzip", "x-gzip", encGzip, false},
		{"deflate zlib", "deflate", encDeflate, false},
		{"deflate raw", "deflate", encDeflate, true},
		{"br", "br", encBrotli, false},
	} {
		for _, lowMem := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/low_memory=%v", tc.name, lowMem), func(t *testing.T) {
				body := encodeBytes(t, tc.e, tc.raw, doc)
				hdr := http.Header{
					"Content-Type":   {"text/html"},
					"Content-Length": {strconv.Itoa(len(body))},
					"Etag":           {`"v1"`},
					"Vary":           {"Accept-Encoding, Cookie"},
					"Accept-Ranges":  {"bytes"},
				}
				if tc.ce != "" {
					hdr.Set("Content-Encoding", tc.ce)
				}
				srv := upstream(t, 200, hdr, body)
				rw := newTestRewriter(t, func(c *Config) { c.LowMemory = lowMem })
				resp := fetch(t, http.MethodGet, srv.URL+"/", nil)
				if !rw.Rewrite(resp) {
					t.Fatal("not rewritten")
				}
				out, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(decodeBytes(t, tc.e, out)); got != want {
					t.Fatalf("decoded output differs (len %d vs %d)", len(got), len(want))
				}
				if tc.raw && isZlibHeader(out[0], out[1]) {
					t.Fatal("raw deflate became zlib")
				}
				h := resp.Header
				// Dropped for a stream, recomputed for a page rewritten whole.
				if cl := h.Get("Content-Length"); (cl != "" || resp.ContentLength != -1) &&
					(cl != strconv.Itoa(len(out)) || resp.ContentLength != int64(len(out))) {
					t.Errorf("Content-Length %q (field %d) for %d bytes", cl, resp.ContentLength, len(out))
				}
				if h.Get("Etag") != `W/"v1"` {
					t.Errorf("ETag = %q, want weak", h.Get("Etag"))
				}
				if h.Get("Vary") != "Accept-Encoding, Cookie" {
					t.Errorf("Vary = %q", h.Get("Vary"))
				}
				if h.Get("Content-Encoding") != tc.ce {
					t.Errorf("Content-Encoding = %q, want %q", h.Get("Content-Encoding"), tc.ce)
				}
				if h.Get("Accept-Ranges") != "" {
					t.Errorf("Accept-Ranges kept")
				}
			})
		}
	}
}

func TestRewriteWeakETagStaysWeak(t *testing.T) {
	srv := upstream(t, 200, http.Header{"Content-Type": {"text/html"}, "Etag": {`W/"x"`}}, []byte(page))
	resp := fetch(t, http.MethodGet, srv.URL, nil)
	if !newTestRewriter(t, nil).Rewrite(resp) || resp.Header.Get("Etag") != `W/"x"` {
		t.Fatalf("ETag = %q", resp.Header.Get("Etag"))
	}
}

// TestRewriteGiveUpByteExact: compressed responses without an insertion
// point, or broken ones, reach the client exactly as sent.
func TestRewriteGiveUpByteExact(t *testing.T) {
	good := encodeBytes(t, encGzip, false, []byte(page))
	corrupt := append([]byte(nil), good[:12]...)
	corrupt = append(corrupt, bytes.Repeat([]byte{0xff}, 40)...)
	big := append([]byte("<!doctype html>"), bytes.Repeat([]byte("<!-- padding -->"), 20000)...)
	big = append(big, "<head>"...)
	cases := []struct {
		name string
		ce   string
		body []byte
	}{
		{"gzip no insertion point", "gzip", encodeBytes(t, encGzip, false, []byte("<!doctype html>"))},
		{"br no insertion point", "br", encodeBytes(t, encBrotli, false, []byte("<!doctype html>\n"))},
		{"gzip corrupt", "gzip", corrupt},
		{"gzip bad header", "gzip", []byte("not gzip at all <head>")},
		{"deflate garbage", "deflate", []byte{0xff, 0xff, 0xff, 0xff}},
		{"br garbage", "br", bytes.Repeat([]byte{0xff}, 100)},
		{"gzip head too far", "gzip", encodeBytes(t, encGzip, false, big)},
		{"br head too far", "br", encodeBytes(t, encBrotli, false, big)},
		{"identity head too far", "", big},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"Content-Type": {"text/html"}}
			if tc.ce != "" {
				hdr.Set("Content-Encoding", tc.ce)
			}
			srv := upstream(t, 200, hdr, tc.body)
			resp := fetch(t, http.MethodGet, srv.URL, nil)
			if !newTestRewriter(t, nil).Rewrite(resp) {
				t.Fatal("eligible response not taken")
			}
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.body) {
				t.Fatalf("output differs from input (%d vs %d bytes)", len(out), len(tc.body))
			}
		})
	}
}

func TestRewriteCSPNonceMatchesTag(t *testing.T) {
	srv := upstream(t, 200, http.Header{
		"Content-Type":                        {"text/html"},
		"Content-Security-Policy":             {"script-src 'nonce-site' 'strict-dynamic'; connect-src https://api.example", "default-src 'self'"},
		"Content-Security-Policy-Report-Only": {"script-src 'self'"},
	}, []byte(page))
	resp := fetch(t, http.MethodGet, srv.URL, nil)
	if !newTestRewriter(t, nil).Rewrite(resp) {
		t.Fatal("not rewritten")
	}
	out, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`nonce="([A-Za-z0-9_-]{22})"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no nonce on tag: %q", out)
	}
	n := "'nonce-" + string(m[1]) + "'"
	csp := resp.Header.Values("Content-Security-Policy")
	if want := "script-src 'nonce-site' 'strict-dynamic' " + n + "; connect-src https://api.example 'self'"; csp[0] != want {
		t.Errorf("csp[0] = %q\nwant %q", csp[0], want)
	}
	if want := "default-src 'self'; script-src 'self' " + n; csp[1] != want {
		t.Errorf("csp[1] = %q\nwant %q", csp[1], want)
	}
	if ro := resp.Header.Get("Content-Security-Policy-Report-Only"); ro != "script-src 'self' "+n {
		t.Errorf("report-only = %q", ro)
	}
	// A second response gets a different nonce.
	resp2 := fetch(t, http.MethodGet, srv.URL, nil)
	newTestRewriter(t, nil).Rewrite(resp2)
	out2, _ := io.ReadAll(resp2.Body)
	if bytes.Contains(out2, m[1]) {
		t.Fatal("nonce reused across responses")
	}
}

func TestRewriteNoNonceWithoutCSP(t *testing.T) {
	srv := upstream(t, 200, http.Header{"Content-Type": {"text/html"}}, []byte(page))
	resp := fetch(t, http.MethodGet, srv.URL, nil)
	newTestRewriter(t, nil).Rewrite(resp)
	out, _ := io.ReadAll(resp.Body)
	if bytes.Contains(out, []byte("nonce")) {
		t.Fatalf("nonce attribute without CSP: %q", out)
	}
}

// TestRewriteStreams: the rewritten head reaches the reader while the
// upstream still holds the rest of the page back.
func TestRewriteStreams(t *testing.T) {
	for _, ce := range []string{"", "gzip", "deflate", "br"} {
		t.Run("ce="+ce, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			releaseOnce := func() { once.Do(func() { close(release) }) }
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				if ce != "" {
					w.Header().Set("Content-Encoding", ce)
				}
				var e encoding
				switch ce {
				case "gzip":
					e = encGzip
				case "deflate":
					e = encDeflate
				case "br":
					e = encBrotli
				}
				c := testCodecs(t)
				var enc encoder
				var dst io.Writer = w
				if e != encIdentity {
					enc = c.getEncoder(e, false, false, w)
					dst = enc
				}
				flush := func() {
					if enc != nil {
						_ = enc.Flush()
					}
					w.(http.Flusher).Flush()
				}
				_, _ = io.WriteString(dst, `<!doctype html><html><head><title>x</title>`)
				flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(dst, `</head><body>late</body></html>`)
				if enc != nil {
					_ = enc.Close()
				}
			}))
			defer srv.Close()
			defer releaseOnce() // runs before srv.Close, so a failing test cannot hang
			resp := fetch(t, http.MethodGet, srv.URL, nil)
			e, _ := parseEncoding(resp.Header.Values("Content-Encoding"))
			if !newTestRewriter(t, nil).Rewrite(resp) {
				t.Fatal("not rewritten")
			}
			var dec io.Reader = resp.Body
			var err error
			switch e {
			case encGzip:
				dec, err = gzip.NewReader(resp.Body)
			case encDeflate, encBrotli:
				d, derr := testCodecs(t).getDecoder(e, resp.Body)
				dec, err = d.r, derr
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 1)
			go func() {
				var acc []byte
				buf := make([]byte, 256)
				for !bytes.Contains(acc, []byte("<title>")) {
					n, err := dec.Read(buf)
					acc = append(acc, buf[:n]...)
					if err != nil {
						break
					}
				}
				got <- acc
			}()
			select {
			case acc := <-got:
				if !bytes.Contains(acc, []byte(`<head><script src="/__replay/gate.js"`)) {
					t.Fatalf("first part lacks markup: %q", acc)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("head was not streamed before the upstream finished")
			}
			releaseOnce()
			rest, err := io.ReadAll(dec)
			if err != nil || !bytes.Contains(rest, []byte("late")) {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}

func TestPrepareRequestAndNegotiation(t *testing.T) {
	var seenAE string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenAE = r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	}))
	defer srv.Close()
	cases := []struct {
		name     string
		accept   string
		ae       string
		upstream string // Accept-Encoding the upstream must see
		ce       string // Content-Encoding the client must get
		mod      func(*Config)
	}{
		{name: "navigation gzip", accept: "text/html,*/*;q=0.8", ae: "gzip, deflate, br", upstream: "identity", ce: "gzip"},
		{name: "navigation br only", accept: "text/html", ae: "br", upstream: "identity", ce: "br"},
		{name: "navigation deflate only", accept: "text/html", ae: "deflate;q=0.5, gzip;q=0", upstream: "identity", ce: "deflate"},
		{name: "identity refused", accept: "text/html", ae: "gzip, identity;q=0", upstream: "gzip, identity;q=0"},
		{name: "star refused", accept: "text/html", ae: "br, *;q=0", upstream: "br, *;q=0"},
		{name: "asset request untouched", accept: "text/css,*/*;q=0.1", ae: "gzip", upstream: "gzip"},
		{name: "html q=0 untouched", accept: "text/html;q=0, */*", ae: "gzip", upstream: "gzip"},
		{name: "no accept-encoding", accept: "text/html", ae: "", upstream: ""},
		{name: "option off", accept: "text/html", ae: "gzip", upstream: "gzip", mod: func(c *Config) { c.UpstreamIdentity = false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rw := newTestRewriter(t, tc.mod)
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/", nil)
			req.Header.Set("Accept", tc.accept)
			if tc.ae != "" {
				req.Header.Set("Accept-Encoding", tc.ae)
			}
			rw.PrepareRequest(req)
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if seenAE != tc.upstream {
				t.Fatalf("upstream saw Accept-Encoding %q, want %q", seenAE, tc.upstream)
			}
			if !rw.Rewrite(resp) {
				t.Fatal("not rewritten")
			}
			if got := resp.Header.Get("Content-Encoding"); got != tc.ce {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.ce)
			}
			if tc.ce != "" && resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("Vary = %q", resp.Header.Get("Vary"))
			}
			out, _ := io.ReadAll(resp.Body)
			e, _ := parseEncoding([]string{tc.ce})
			if !bytes.Contains(decodeBytes(t, e, out), []byte("gate.js")) {
				t.Fatal("markup missing")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Statuses = nil }, "statuses:"},
		{func(c *Config) { c.Statuses = []int{304} }, "statuses: 304"},
		{func(c *Config) { c.Statuses = []int{99} }, "statuses: 99 must be between"},
		{func(c *Config) { c.ExcludePaths = []string{"admin"} }, "exclude_paths:"},
		{func(c *Config) { c.GzipLevel = 12 }, "gzip_level: 12 must be between 1 and 9"},
		{func(c *Config) { c.DeflateLevel = 0 }, "deflate_level:"},
		{func(c *Config) { c.BrotliLevel = 12 }, "brotli_level:"},
		{func(c *Config) { c.MaxHeadBytes = 10 }, "max_head_bytes:"},
		{func(c *Config) { c.PublicOrigin = "https://x.example/path" }, "public_origin:"},
		{func(c *Config) { c.PublicOrigin = "ftp://x.example" }, "public_origin:"},
		{func(c *Config) { c.Prefix = "__replay" }, "prefix:"},
		{func(c *Config) { c.Prefix = "/__replay/" }, "prefix:"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want prefix %q", err, tc.want)
		}
	}
	c := DefaultConfig()
	c.PublicOrigin = "https://www.example.com"
	if err := c.Validate(); err != nil {
		t.Errorf("valid origin refused: %v", err)
	}
	if _, err := New(DefaultConfig(), nil, zerolog.Nop(), nil); err == nil {
		t.Error("New accepted a nil markup")
	}
}

func TestDefaultMarkup(t *testing.T) {
	m := DefaultMarkup(`/__r"x`)
	if got := string(m("")); got != `<script src="/__r&#34;x/gate.js" async=""></script>` {
		t.Errorf("no nonce: %s", got)
	}
	if got := string(DefaultMarkup("/__replay")("abc")); got != `<script src="/__replay/gate.js" async="" nonce="abc"></script>` {
		t.Errorf("nonce: %s", got)
	}
}

func TestPrepareRequestLeavesOthersAlone(t *testing.T) {
	rw := newTestRewriter(t, func(c *Config) { c.ExcludePaths = []string{"/raw/"} })
	for _, tc := range []struct{ method, path string }{
		{http.MethodHead, "/"},
		{http.MethodPost, "/"},
		{http.MethodGet, "/raw/page"},
		{http.MethodGet, "/__replay/gate.js"},
	} {
		req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Encoding", "gzip")
		ctx := req.Context()
		rw.PrepareRequest(req)
		if req.Header.Get("Accept-Encoding") != "gzip" || req.Context() != ctx {
			t.Errorf("%s %s: request changed", tc.method, tc.path)
		}
	}
}

// TestRewriteDecodeErrorAfterInsertion: corruption after the head cannot
// be undone (headers and the head are out); the body must end with an
// error, not with a silently truncated page. A spliced gzip page passes a
// corrupt end on undecoded, as a pass-through would: the client's CRC
// check must then fail.
func TestRewriteDecodeErrorAfterInsertion(t *testing.T) {
	doc := []byte(page + strings.Repeat("<p>filler text for a few blocks</p>", 4000))
	body := encodeBytes(t, encGzip, false, doc)
	body = append(body[:len(body)-8], 0, 0, 0, 0, 0, 0, 0, 0) // wrong CRC and size
	for _, splice := range []bool{false, true} {
		srv := upstream(t, 200, http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}}, body)
		resp := fetch(t, http.MethodGet, srv.URL, nil)
		if !newTestRewriter(t, func(c *Config) { c.SpliceGzip = splice }).Rewrite(resp) {
			t.Fatal("not rewritten")
		}
		out, err := io.ReadAll(resp.Body)
		if !bytes.Contains(decodePrefix(out), []byte("gate.js")) {
			t.Fatalf("splice %v: the part before the error lacks the markup", splice)
		}
		if splice {
			if err != nil {
				t.Fatalf("spliced: %v", err)
			}
			if _, err := io.ReadAll(mustGzip(t, out)); err == nil {
				t.Fatal("spliced: corrupt trailer decodes without error")
			}
			continue
		}
		if err == nil {
			t.Fatal("corrupt body read without error")
		}
	}
}

func mustGzip(t *testing.T, b []byte) io.Reader {
	t.Helper()
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func decodePrefix(b []byte) []byte {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, _ := io.ReadAll(r)
	return out
}

func TestStreamClose(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader(page)}
	s := newStream(testCodecs(t), src, encIdentity, encIdentity, false, []byte(mark), 1<<16)
	if err := s.Close(); err != nil || !src.closed {
		t.Fatalf("Close: %v, upstream closed %v", err, src.closed)
	}
	if _, err := s.Read(make([]byte, 10)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestSmallPagesAreRewrittenWhole: a page whose declared identity length
// is at most smallBody is read whole, re-encoded by a pooled private
// compressor and sent with a Content-Length (BENCH_NOTES.md); large or
// unknown-length pages stream through the low-memory encoder. The output
// is a valid gzip stream of the page with the markup either way.
func TestSmallPagesAreRewrittenWhole(t *testing.T) {
	rw := newTestRewriter(t, nil)
	page := []byte("<!doctype html><html><head><title>t</title></head><body>" + strings.Repeat("<p>hello</p>", 100) + "</body></html>")
	tests := []struct {
		name      string
		length    int64
		wantWhole bool
	}{
		{"small declared", int64(len(page)), true},
		{"large declared", smallBody + 1, false},
		{"unknown length", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://shop.test/", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Encoding", "gzip")
			rw.PrepareRequest(req)
			resp := &http.Response{
				StatusCode: 200, Request: req, ContentLength: tt.length,
				Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
				Body:   io.NopCloser(bytes.NewReader(page)),
			}
			if !rw.Rewrite(resp) {
				t.Fatal("not rewritten")
			}
			_, whole := resp.Body.(*wholeBody)
			if whole != tt.wantWhole {
				t.Fatalf("whole = %v, want %v", whole, tt.wantWhole)
			}
			wire, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if cl := resp.Header.Get("Content-Length"); whole && (cl != strconv.Itoa(len(wire)) || resp.ContentLength != int64(len(wire))) {
				t.Fatalf("Content-Length %q (field %d) for %d bytes", cl, resp.ContentLength, len(wire))
			} else if !whole && (cl != "" || resp.ContentLength != -1) {
				t.Fatalf("streamed response declares Content-Length %q (field %d)", cl, resp.ContentLength)
			}
			zr, err := gzip.NewReader(bytes.NewReader(wire))
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(zr)
			if err != nil || !bytes.Contains(out, []byte("gate.js")) || !bytes.HasSuffix(out, []byte("</body></html>")) {
				t.Fatalf("output %d bytes, err %v", len(out), err)
			}
			if err := resp.Body.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWholeBodyUpstreamFailures: when the upstream body of a small page
// breaks off or runs past its declared length, the rewritten body fails
// too, so the proxy aborts the response instead of sending a truncated
// page that looks complete.
func TestWholeBodyUpstreamFailures(t *testing.T) {
	rw := newTestRewriter(t, nil)
	page := "<!doctype html><html><head><title>t</title></head><body>" + strings.Repeat("<p>hello</p>", 50)
	tests := []struct {
		name     string
		body     io.Reader
		declared int64
	}{
		{"cut short", io.MultiReader(strings.NewReader(page[:100]), iotest.ErrReader(io.ErrUnexpectedEOF)), int64(len(page))},
		{"longer than declared", strings.NewReader(page), int64(len(page) - 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://shop.test/", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Encoding", "gzip")
			rw.PrepareRequest(req)
			resp := &http.Response{
				StatusCode: 200, Request: req, ContentLength: tt.declared,
				Header: http.Header{"Content-Type": {"text/html"}},
				Body:   io.NopCloser(tt.body),
			}
			if !rw.Rewrite(resp) {
				t.Fatal("not rewritten")
			}
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Fatal("reading the rewritten body succeeded")
			}
			if resp.Header.Get("Content-Length") != "" {
				t.Fatal("a failed body declares a length")
			}
		})
	}
}

// TestTagLeavesFirst: once the insertion point is found in a compressed
// stream, the first output the client gets decodes to exactly the page's
// start and our tag, before the rest of that upstream read is encoded, so
// the first byte (and the browser's fetch of the gate) waits for as little
// compression work as possible.
func TestTagLeavesFirst(t *testing.T) {
	rw := newTestRewriter(t, nil)
	start := "<!doctype html><html><head>"
	page := start + "<title>t</title></head><body>" + strings.Repeat("<p>some text</p>", 2000) + "</body></html>"
	req := httptest.NewRequest("GET", "http://shop.test/", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", "gzip")
	rw.PrepareRequest(req)
	resp := &http.Response{
		StatusCode: 200, Request: req, ContentLength: -1, // streamed, not rewritten whole
		Header: http.Header{"Content-Type": {"text/html"}},
		Body:   io.NopCloser(strings.NewReader(page)),
	}
	if !rw.Rewrite(resp) {
		t.Fatal("not rewritten")
	}
	buf := make([]byte, 256<<10)
	n, err := resp.Body.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf[:n]))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr) // ends with ErrUnexpectedEOF: the stream goes on
	want := start + string(DefaultMarkup("/__replay")(""))
	if string(got) != want {
		t.Fatalf("first output decodes to %q, want %q", got, want)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	zr, err = gzip.NewReader(io.MultiReader(bytes.NewReader(buf[:n]), bytes.NewReader(rest)))
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(zr)
	if err != nil || string(all) != want+page[len(start):] {
		t.Fatalf("whole output wrong (%d bytes, %v)", len(all), err)
	}
}
