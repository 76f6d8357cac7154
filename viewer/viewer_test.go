package viewer

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rs/zerolog"
)

const testReplayID = "0123456789abcdef0123456789abcdef"

func newTestHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := New(zerolog.Nop())
	if err != nil {
		t.Fatalf("viewer.New: %v", err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// assetURLs returns the /viewer/assets/ URLs a page references.
func assetURLs(t *testing.T, html string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?:src|href)="(` + regexp.QuoteMeta(AssetPrefix) + `[^"]+)"`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("page references no assets:\n%s", html)
	}
	return out
}

func TestPages(t *testing.T) {
	h := newTestHandler(t)
	tests := []struct {
		path      string
		title     string
		scriptRe  string
		inlineCSS bool
	}{
		{"/", "<title>Recordings · replaygate</title>", `/viewer/assets/list-[A-Z0-9]+\.js`, false},
		{"/consents", "<title>Consent log · replaygate</title>", `/viewer/assets/consents-[A-Z0-9]+\.js`, false},
		{"/replays/" + testReplayID, "<title>Replay · replaygate</title>", `/viewer/assets/player-[A-Z0-9]+\.js`, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := get(t, h, "GET", tt.path, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tt.path, w.Code, w.Body)
			}
			body := w.Body.String()
			if !strings.Contains(body, tt.title) {
				t.Errorf("body lacks %q", tt.title)
			}
			if !regexp.MustCompile(`<script type="module" src="` + tt.scriptRe + `"></script>`).MatchString(body) {
				t.Errorf("body lacks a module script matching %s", tt.scriptRe)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
				t.Errorf("page has inline script or style: the CSP would block it")
			}
			hdr := w.Header()
			want := map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-cache",
			}
			for k, v := range want {
				if got := hdr.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := parseCSP(hdr.Get("Content-Security-Policy"))
			for dir, sources := range map[string]string{
				"default-src":     "'none'",
				"script-src":      "'self'",
				"connect-src":     "'self'",
				"object-src":      "'none'",
				"base-uri":        "'none'",
				"form-action":     "'none'",
				"frame-ancestors": "'none'",
				"img-src":         "'self' data: blob:",
				"frame-src":       "'self'",
			} {
				if csp[dir] != sources {
					t.Errorf("CSP %s = %q, want %q", dir, csp[dir], sources)
				}
			}
			wantStyle := "'self'"
			if tt.inlineCSS {
				wantStyle = "'self' 'unsafe-inline'"
			}
			if csp["style-src"] != wantStyle {
				t.Errorf("CSP style-src = %q, want %q", csp["style-src"], wantStyle)
			}
			if strings.Contains(csp["script-src"], "unsafe") {
				t.Errorf("script-src must stay strict: %q", csp["script-src"])
			}
			if hdr.Get("ETag") == "" {
				t.Fatal("no ETag")
			}
			w2 := get(t, h, "GET", tt.path, map[string]string{"If-None-Match": hdr.Get("ETag")})
			if w2.Code != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", w2.Code)
			}
			if w3 := get(t, h, "HEAD", tt.path, nil); w3.Code != http.StatusOK || w3.Body.Len() != 0 {
				t.Errorf("HEAD: %d with %d body bytes", w3.Code, w3.Body.Len())
			}
		})
	}
}

// parseCSP splits a policy into directive → sources.
func parseCSP(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, sources, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			out[name] = strings.TrimSpace(sources)
		}
	}
	return out
}

func TestNotFound(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{
		"/replays/not-an-id",
		"/replays/0123456789ABCDEF0123456789ABCDEF",
		"/replays/" + testReplayID + "/events",
		"/viewer/assets/nope.js",
		"/viewer/assets/",
		"/index.html",
		"/manifest.json",
		"/viewer/assets/../manifest.json",
		"/favicon.ico",
	} {
		w := get(t, h, "GET", p, nil)
		if w.Code != http.StatusNotFound && w.Code/100 != 3 { // the mux redirects unclean paths
			t.Errorf("GET %s: %d, want 404", p, w.Code)
			continue
		}
		if w.Code == http.StatusNotFound {
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("GET %s: Content-Type %q", p, ct)
			}
			if !strings.HasPrefix(w.Body.String(), `{"error":"`) {
				t.Errorf("GET %s: body %q", p, w.Body)
			}
		}
	}
	if w := get(t, h, "POST", "/", nil); w.Code == http.StatusOK {
		t.Errorf("POST / answered 200")
	}
}

func TestAssets(t *testing.T) {
	h := newTestHandler(t)
	seen := map[string]bool{}
	for _, page := range []string{"/", "/consents", "/replays/" + testReplayID} {
		for _, u := range assetURLs(t, get(t, h, "GET", page, nil).Body.String()) {
			seen[u] = true
		}
	}
	if len(seen) < 5 {
		t.Fatalf("expected list/consents/player scripts and two stylesheets, got %v", seen)
	}
	for u := range seen {
		t.Run(u, func(t *testing.T) {
			plain := get(t, h, "GET", u, nil)
			if plain.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", u, plain.Code)
			}
			wantType := "text/javascript; charset=utf-8"
			if strings.HasSuffix(u, ".css") {
				wantType = "text/css; charset=utf-8"
			}
			hdr := plain.Header()
			if hdr.Get("Content-Type") != wantType {
				t.Errorf("Content-Type %q, want %q", hdr.Get("Content-Type"), wantType)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			if hdr.Get("Cache-Control") != assetCacheControl {
				t.Errorf("Cache-Control %q", hdr.Get("Cache-Control"))
			}
			if hdr.Get("Content-Encoding") != "" {
				t.Errorf("encoded without Accept-Encoding: %q", hdr.Get("Content-Encoding"))
			}
			gz := get(t, h, "GET", u, map[string]string{"Accept-Encoding": "br, gzip"})
			if gz.Header().Get("Content-Encoding") != "gzip" {
				if plain.Body.Len() >= 1024 {
					t.Fatalf("%d-byte asset not served gzip", plain.Body.Len())
				}
				return
			}
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain.Body.Bytes()) {
				t.Error("gzip variant differs from the plain asset")
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0.5", true},
		{"*", true},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"gzip;q=0, *", false},
		{"deflate, br", false},
		{"x-gzip", true},
		{"identity", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=0.1, br", ";;,,=", "gzip;q=0.", "x-gzip;q=00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		lower := strings.ToLower(header)
		if acceptsGzip(header) && !strings.Contains(lower, "gzip") && !strings.Contains(header, "*") {
			t.Errorf("acceptsGzip(%q) = true without gzip or *", header)
		}
		// A trailing explicit refusal always wins.
		if acceptsGzip(header + ", gzip;q=0") {
			t.Errorf("gzip accepted after an explicit refusal: %q", header)
		}
	})
}

func TestNewWithoutBundle(t *testing.T) {
	tests := []struct {
		name   string
		bundle fstest.MapFS
		want   string
	}{
		{"empty", fstest.MapFS{".keep": {}}, "web bundle is missing"},
		{"bad manifest", fstest.MapFS{"manifest.json": {Data: []byte("{")}}, "manifest.json"},
		{"incomplete manifest", fstest.MapFS{"manifest.json": {Data: []byte(`{"sourceHash":"x"}`)}}, "incomplete"},
		{"missing asset", fstest.MapFS{
			"manifest.json":  {Data: []byte(`{"sourceHash":"x","pages":["index.html"],"entries":{"list":"list-AAAA.js"}}`)},
			"assets/x-1.css": {Data: []byte("a{}")},
		}, "list-AAAA.js missing"},
		{"missing page", fstest.MapFS{
			"manifest.json":       {Data: []byte(`{"sourceHash":"x","pages":["index.html"],"entries":{"list":"list-AAAA.js"}}`)},
			"assets/list-AAAA.js": {Data: []byte("1")},
		}, "page index.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(zerolog.Nop(), WithBundle(tt.bundle))
			if err == nil {
				t.Fatal("New succeeded without a usable bundle")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "make web") {
				t.Errorf("error %q should mention %q and how to build", err, tt.want)
			}
		})
	}
}

func TestRoutesMatchHandler(t *testing.T) {
	h := newTestHandler(t)
	mux := http.NewServeMux()
	for _, p := range Routes() {
		mux.Handle(p, h)
	}
	for _, p := range []string{"/", "/consents", "/replays/" + testReplayID} {
		if w := get(t, mux, "GET", p, nil); w.Code != http.StatusOK {
			t.Errorf("through Routes(): GET %s = %d", p, w.Code)
		}
	}
	page := get(t, mux, "GET", "/", nil).Body.String()
	for _, u := range assetURLs(t, page) {
		if w := get(t, mux, "GET", u, nil); w.Code != http.StatusOK {
			t.Errorf("through Routes(): GET %s = %d", u, w.Code)
		}
	}
}

// BenchmarkServePlayerBundle measures serving the largest asset (the player
// bundle with rrweb) gzip-encoded, as browsers fetch it.
func BenchmarkServePlayerBundle(b *testing.B) {
	h, err := New(zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	var u string
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/replays/"+testReplayID, nil))
	if m := regexp.MustCompile(`/viewer/assets/player-[A-Z0-9]+\.js`).FindString(w.Body.String()); m != "" {
		u = m
	} else {
		b.Fatal("no player script in the page")
	}
	r := httptest.NewRequest("GET", u, nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b.SetBytes(int64(w.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
