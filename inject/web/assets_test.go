package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/rs/zerolog"
)

func newTestAssets(t testing.TB, cfg Config) *Assets {
	t.Helper()
	a, err := New(cfg, "/__replay", "2026-01", zerolog.Nop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func get(t testing.TB, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func decode(t *testing.T, res *http.Response) []byte {
	t.Helper()
	var r io.Reader = res.Body
	switch res.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(res.Body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

func TestServeEncodings(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	identity := decode(t, get(t, a, "GET", "/__replay/gate.js", nil))
	tests := []struct {
		accept, want string
	}{
		{"", ""},
		{"gzip", "gzip"},
		{"gzip, deflate, br", "br"},
		{"br;q=0, gzip", "gzip"},
		{"br;q=0.5, gzip;q=0.9", "gzip"},
		{"identity", ""},
		{"*", "br"},
		{"*;q=0", ""},
		{"gzip;q=0, br;q=0", ""},
		{"deflate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			res := get(t, a, "GET", "/__replay/gate.js", map[string]string{"Accept-Encoding": tt.accept})
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding = %q, want %q", got, tt.want)
			}
			if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary = %q", got)
			}
			if body := decode(t, res); !bytes.Equal(body, identity) {
				t.Errorf("decoded body differs from identity body")
			}
		})
	}
}

func TestServeHeaders(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	hashed := regexp.MustCompile(`^/__replay/gate\.[0-9a-f]{16}\.js$`)
	if !hashed.MatchString(a.GatePath()) {
		t.Fatalf("GatePath() = %q", a.GatePath())
	}
	tests := []struct {
		path, cache string
	}{
		{"/__replay/gate.js", shortCache},
		{"/__replay/recorder.js", shortCache},
		{a.GatePath(), immutableCache},
		{a.RecorderPath(), immutableCache},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, a, "GET", tt.path, map[string]string{"Accept-Encoding": "br"})
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			want := map[string]string{
				"Content-Type":           "text/javascript; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
				"Cache-Control":          tt.cache,
				"Content-Encoding":       "br",
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			again := get(t, a, "GET", tt.path, map[string]string{"Accept-Encoding": "br", "If-None-Match": etag})
			if again.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", again.StatusCode)
			}
			other := get(t, a, "GET", tt.path, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag})
			if other.StatusCode != 200 {
				t.Errorf("If-None-Match with another encoding: status %d, want 200", other.StatusCode)
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/__replay/other.js", 404},
		{"GET", "/__replay/gate.0000000000000000.js", 404},
		{"GET", "/__replay/", 404},
		{"GET", "/gate.js", 404},
		{"GET", "/__replay/consent", 404},
		{"POST", "/__replay/gate.js", 405},
		{"DELETE", "/__replay/recorder.js", 405},
	}
	for _, tt := range tests {
		res := get(t, a, tt.method, tt.path, nil)
		if res.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, res.StatusCode, tt.status)
			continue
		}
		var body struct{ Error string }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Error == "" {
			t.Errorf("%s %s: body is not {\"error\":…}: %v", tt.method, tt.path, err)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
	}
}

func TestServeHead(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	res := get(t, a, "HEAD", "/__replay/recorder.js", map[string]string{"Accept-Encoding": "gzip"})
	if res.StatusCode != 200 || res.Header.Get("Content-Length") != itoa(a.RecorderSizes().Gzip) {
		t.Fatalf("HEAD: status %d, Content-Length %q, want %d", res.StatusCode, res.Header.Get("Content-Length"), a.RecorderSizes().Gzip)
	}
	if b, _ := io.ReadAll(res.Body); len(b) != 0 {
		t.Errorf("HEAD returned %d body bytes", len(b))
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// settingsFrom extracts the JSON settings New embedded into a bundle.
func settingsFrom(t *testing.T, body []byte, into any) {
	t.Helper()
	m := regexp.MustCompile(`JSON\.parse\(("(?:[^"\\]|\\.)*")\)`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no JSON.parse(\"…\") settings literal in bundle")
	}
	var s string
	if err := json.Unmarshal(m[1], &s); err != nil {
		t.Fatalf("settings literal: %v", err)
	}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		t.Fatalf("settings JSON: %v", err)
	}
}

func TestEmbeddedSettings(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recording.UnmaskSelectors = []string{".public"}
	cfg.Recording.QueryAllowList = []string{"page"}
	cfg.Recording.SampleRate = 0.25
	cfg.Banner.PrivacyChoices = true
	cfg.Banner.Texts = map[string]BannerText{"de": {Accept: "Einverstanden"}}
	a := newTestAssets(t, cfg)

	gate := decode(t, get(t, a, "GET", "/__replay/gate.js", nil))
	if bytes.Contains(gate, []byte("@@REPLAYGATE")) {
		t.Fatal("gate.js still has the placeholder")
	}
	var g gateSettings
	settingsFrom(t, gate, &g)
	if g.Prefix != "/__replay" || g.PolicyVersion != "2026-01" || g.Recorder != a.RecorderPath() || !g.PrivacyChoices {
		t.Errorf("gate settings = %+v", g)
	}
	if g.Texts["de"].Accept != "Einverstanden" || g.Texts["de"].Reject != "Ablehnen" || len(g.Texts) != 4 {
		t.Errorf("gate texts not merged: %+v", g.Texts["de"])
	}

	rec := decode(t, get(t, a, "GET", a.RecorderPath(), nil))
	var r recorderSettings
	settingsFrom(t, rec, &r)
	if !strings.HasSuffix(r.UnmaskSelector, ",.public") || !strings.HasPrefix(r.UnmaskSelector, ".replay-unmask,") {
		t.Errorf("unmask selector = %q", r.UnmaskSelector)
	}
	if !strings.Contains(r.BlockSelector, "img,picture,svg,video,audio,canvas,embed,object,iframe") {
		t.Errorf("block selector lacks media: %q", r.BlockSelector)
	}
	if r.SampleRate != 0.25 || r.IdleTimeoutMs != 15*60*1000 || r.MaxDurationMs != 60*60*1000 || len(r.QueryAllow) != 1 {
		t.Errorf("recorder settings = %+v", r)
	}
	for _, js := range [][]byte{gate, rec} {
		if bytes.Contains(js, []byte("eval(")) || bytes.Contains(js, []byte("new Function(")) {
			t.Error("bundle uses eval or new Function")
		}
	}
}

func TestSameBytesForEveryone(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	b := newTestAssets(t, DefaultConfig())
	if a.GatePath() != b.GatePath() || a.RecorderPath() != b.RecorderPath() {
		t.Fatal("identical settings must give identical content hashes")
	}
	cfg := DefaultConfig()
	cfg.Recording.SampleRate = 0.5
	c := newTestAssets(t, cfg)
	if c.RecorderPath() == a.RecorderPath() || c.GatePath() == a.GatePath() {
		t.Fatal("changed recorder settings must change both hashes (the gate embeds the recorder path)")
	}
}

func TestNewRejects(t *testing.T) {
	bad := DefaultConfig()
	bad.Recording.SampleRate = 2
	tests := []struct {
		name, prefix, version string
		cfg                   Config
		want                  string
	}{
		{"config", "/__replay", "v1", bad, "recording.sample_rate"},
		{"prefix slash", "/__replay/", "v1", DefaultConfig(), "prefix:"},
		{"prefix relative", "__replay", "v1", DefaultConfig(), "prefix:"},
		{"prefix quote", `/x"y`, "v1", DefaultConfig(), "prefix:"},
		{"version empty", "/__replay", "", DefaultConfig(), "policy_version:"},
		{"version semicolon", "/__replay", "a;b", DefaultConfig(), "policy_version:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.prefix, tt.version, zerolog.Nop())
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func FuzzPickEncoding(f *testing.F) {
	f.Add("gzip, deflate, br")
	f.Add("br;q=0.5, gzip;q=0.9, *;q=0")
	f.Add(";;q=,=;")
	f.Fuzz(func(t *testing.T, header string) {
		got := pickEncoding([]string{header})
		if got != "" && got != "br" && got != "gzip" {
			t.Fatalf("pickEncoding(%q) = %q", header, got)
		}
		if got != "" && !strings.Contains(strings.ToLower(header), got) && !strings.Contains(header, "*") {
			t.Fatalf("pickEncoding(%q) = %q, not offered", header, got)
		}
	})
}

func BenchmarkServeRecorderBrotli(b *testing.B) {
	a := newTestAssets(b, DefaultConfig())
	req := httptest.NewRequest("GET", "/__replay/recorder.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	b.SetBytes(int64(a.RecorderSizes().Brotli))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
