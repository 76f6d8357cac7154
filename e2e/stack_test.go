package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/app"
	"github.com/replaygate/replaygate/config"
	"github.com/replaygate/replaygate/internal/diskscan"
)

const (
	prefix        = "/__replay"
	policyVersion = "2026-01"
)

// Segment is one upload as the browser sent it, seen by the tap before
// replaygate answered.
type Segment struct {
	Replay string
	Seq    int
	Gzip   bool
	Wire   int    // bytes on the wire (compressed when Gzip)
	Body   []byte // decoded JSON array
	Events []json.RawMessage
	Err    error // the body could not be decoded as ingest would
	Status int   // replaygate's answer: 202 when accepted
}

// Decision is one consent decision the browser posted.
type Decision struct {
	Decision string
	Status   int
}

// Stack is the test site behind a real replaygate (app.New) with a
// recording tap in front: browser → tap → replaygate → site.
type Stack struct {
	// URL is the tap's address: the origin the browser opens.
	URL string
	// App is the running replaygate.
	App *app.App

	admin   string // admin listener base URL
	dataDir string

	mu        sync.Mutex
	segments  []Segment
	decisions []Decision
	hits      map[string]int // requests by class
	csp       map[string]string
}

// Segments returns every upload the browser sent, in arrival order,
// whatever replaygate answered.
func (s *Stack) Segments() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.segments)
}

// Accepted returns the uploads replaygate acknowledged with 202.
func (s *Stack) Accepted() []Segment {
	var out []Segment
	for _, sg := range s.Segments() {
		if sg.Status == http.StatusAccepted {
			out = append(out, sg)
		}
	}
	return out
}

// Hits returns how often a class of request arrived: "recorder", "ingest",
// "consent-get".
func (s *Stack) Hits(class string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[class]
}

// Consents returns the decisions the browser posted, in order.
func (s *Stack) Consents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.decisions))
	for i, d := range s.decisions {
		out[i] = d.Decision
	}
	return out
}

// Decisions returns the posted decisions with replaygate's answers.
func (s *Stack) Decisions() []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.decisions)
}

// CSP returns the Content-Security-Policy the browser received for path.
func (s *Stack) CSP(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.csp[path]
}

func (s *Stack) hit(class string) {
	s.mu.Lock()
	s.hits[class]++
	s.mu.Unlock()
}

var replayIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// startStack starts the test site, a replaygate in front of it (tuned by
// tune over the defaults below) and the tap, all on 127.0.0.1, and stops
// them when the test ends.
func startStack(t testing.TB, tune ...func(*config.Config)) *Stack {
	t.Helper()
	site := httptest.NewServer(siteHandler())
	t.Cleanup(site.Close)

	cfg := config.Default()
	cfg.Upstream = site.URL
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Consent.PolicyVersion = policyVersion
	cfg.Web.Recording.BatchInterval = time.Second
	cfg.Web.Banner.NoticeURL = "/privacy"
	for _, f := range tune {
		f(&cfg)
	}
	logs := &lockedBuffer{}
	a, err := app.New(cfg, zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Logger())
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replaygate Run: %v", err)
		}
		if t.Failed() {
			t.Logf("replaygate log:\n%s", logs.String())
		}
	})

	s := &Stack{App: a, admin: "http://" + a.AdminAddr(), dataDir: cfg.DataDir, hits: map[string]int{}, csp: map[string]string{}}
	handler, transport := s.tap(&url.URL{Scheme: "http", Host: a.PublicAddr()})
	tap := httptest.NewServer(handler)
	t.Cleanup(func() {
		tap.Close()
		transport.CloseIdleConnections()
	})
	// A host name, not an IP literal: the edge scrubber masks IP addresses
	// wherever they appear, URLs in the recording included.
	s.URL = strings.Replace(tap.URL, "127.0.0.1", "localhost", 1)
	return s
}

// lockedBuffer collects replaygate's log for a failing test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tap relays everything to replaygate's public listener unchanged — the
// Host header included, since consent and ingest compare Origin with Host —
// and keeps a copy of what the browser sent to the consent and ingest
// endpoints, before replaygate's edge scrubber sees it.
func (s *Stack) tap(target *url.URL) (http.Handler, *http.Transport) {
	transport := &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, prefix+"/recorder"):
			s.hit("recorder")
		case p == prefix+"/consent" && r.Method == http.MethodGet:
			s.hit("consent-get")
		case p == prefix+"/consent" && r.Method == http.MethodPost:
			body := copyBody(r)
			var d struct{ Decision string }
			_ = json.Unmarshal(body, &d)
			sw := &statusWriter{ResponseWriter: w}
			rp.ServeHTTP(sw, r)
			s.mu.Lock()
			s.decisions = append(s.decisions, Decision{Decision: d.Decision, Status: sw.code()})
			s.mu.Unlock()
			return
		case p == prefix+"/ingest" && r.Method == http.MethodPost:
			s.hit("ingest")
			wire := copyBody(r)
			sg := decodeUpload(r, wire)
			sw := &statusWriter{ResponseWriter: w}
			rp.ServeHTTP(sw, r)
			sg.Status = sw.code()
			s.mu.Lock()
			s.segments = append(s.segments, sg)
			s.mu.Unlock()
			return
		}
		rp.ServeHTTP(w, r)
		if strings.HasSuffix(p, ".html") {
			// The header map keeps what was sent.
			s.mu.Lock()
			s.csp[p] = w.Header().Get("Content-Security-Policy")
			s.mu.Unlock()
		}
	}), transport
}

// copyBody reads r's body and puts an identical one back for forwarding.
func copyBody(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return b
}

// decodeUpload reads an upload as ingest would: gzip when announced or when
// the body starts with the gzip magic (sendBeacon cannot set headers).
func decodeUpload(r *http.Request, wire []byte) Segment {
	q := r.URL.Query()
	seq, err := strconv.Atoi(q.Get("seq"))
	if err != nil {
		seq = -1
	}
	sg := Segment{Replay: q.Get("replay"), Seq: seq, Wire: len(wire), Body: wire}
	if r.Header.Get("Content-Encoding") == "gzip" || bytes.HasPrefix(wire, []byte{0x1f, 0x8b}) {
		sg.Gzip = true
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err == nil {
			sg.Body, err = io.ReadAll(zr)
		}
		if err != nil {
			sg.Err = fmt.Errorf("gunzip: %w", err)
			return sg
		}
	}
	if err := json.Unmarshal(sg.Body, &sg.Events); err != nil {
		sg.Err = fmt.Errorf("not a JSON array of events: %w", err)
	}
	return sg
}

// statusWriter remembers the status replaygate answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// siteHandler is the website replaygate stands in front of: the pages of
// testdata/ as a site would serve them, each with its own per-response
// nonce for its inline scripts, and a strict nonce-based CSP on csp-*
// pages, which the injector must extend for the gate. Paths under /raw/
// serve the same files; the benchmark excludes them from injection.
// bench.html?variant=plain loads the plain-rrweb baseline instead.
func siteHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/bench/plain-rrweb.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("..", "inject", "web", "test-dist", "plain-rrweb.js"))
	})
	mux.HandleFunc("/api/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("/big-static.html", serveBigStatic)
	mux.HandleFunc("/privacy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Privacy</title><p>Privacy notice</p>"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		name = strings.TrimPrefix(name, "raw/")
		if name == "" {
			name = "index.html"
		}
		if strings.Contains(name, "/") || strings.Contains(name, "..") {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasSuffix(name, ".html"):
			b = renderPage(w, name, r.URL.Query().Get("variant"), b)
		case strings.HasSuffix(name, ".css"):
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
		}
		_, _ = w.Write(b)
	})
	return mux
}

// renderPage fills the {{nonce}} placeholders with a fresh nonce and, for
// csp-* pages, sends a strict nonce-based Content-Security-Policy, as a site
// with such a policy does. {{baseline}} becomes the plain-rrweb script for
// variant "plain" (benchmark only) and nothing otherwise.
func renderPage(w http.ResponseWriter, name, variant string, page []byte) []byte {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	nonce := base64.StdEncoding.EncodeToString(raw[:])
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(name, "csp-") {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-"+nonce+"' 'strict-dynamic'; "+
			"style-src 'self' 'nonce-"+nonce+"'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	}
	baseline := ""
	if variant == "plain" {
		baseline = `<script src="/bench/plain-rrweb.js" nonce="` + nonce + `"></script>`
	}
	page = bytes.ReplaceAll(page, []byte("{{baseline}}"), []byte(baseline))
	return bytes.ReplaceAll(page, []byte("{{nonce}}"), []byte(nonce))
}

// StoredReplay is one entry of the admin API's replay list.
type StoredReplay struct {
	ID       string   `json:"id"`
	Subject  string   `json:"subject"`
	Segments int      `json:"segments"`
	Events   int      `json:"events"`
	URLs     []string `json:"urls"`
	Browser  string   `json:"browser"`
	OS       string   `json:"os"`
}

// adminGet calls the admin API with the admin token.
func (s *Stack) adminGet(t testing.TB, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.App.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("admin API %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("admin API %s: %v", path, err)
	}
	return resp.StatusCode, b
}

// Replays lists what the store holds.
func (s *Stack) Replays(t testing.TB) []StoredReplay {
	t.Helper()
	code, body := s.adminGet(t, "/api/replays")
	var list struct {
		Replays []StoredReplay `json:"replays"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("GET /api/replays: %d %.200s", code, body)
	}
	return list.Replays
}

// Replay returns the stored replay id, or false when the store has none.
func (s *Stack) Replay(t testing.TB, id string) (StoredReplay, bool) {
	t.Helper()
	code, body := s.adminGet(t, "/api/replays/"+id)
	var r StoredReplay
	switch {
	case code == http.StatusNotFound:
		return r, false
	case code != http.StatusOK || json.Unmarshal(body, &r) != nil:
		t.Fatalf("GET /api/replays/%s: %d %.200s", id, code, body)
	}
	return r, true
}

// StoredEvents returns the stored replay's merged event array.
func (s *Stack) StoredEvents(t testing.TB, id string) []byte {
	t.Helper()
	code, body := s.adminGet(t, "/api/replays/"+id+"/events")
	if code != http.StatusOK || !json.Valid(body) {
		t.Fatalf("GET /api/replays/%s/events: %d %.200s", id, code, body)
	}
	return body
}

// settle ends the recording on the current page (navigating away flushes
// what is left with keepalive), waits until no upload has arrived for a
// while, and then until the store holds every accepted segment of the
// latest replay: delivery from the spool is asynchronous. It returns that
// stored replay.
func settle(t testing.TB, ctx context.Context, s *Stack) StoredReplay {
	t.Helper()
	do(t, ctx, chromedp.Navigate("about:blank"))
	quiet(t, s, 1500*time.Millisecond)
	acc := s.Accepted()
	if len(acc) == 0 {
		t.Fatal("no upload was accepted")
	}
	id := acc[len(acc)-1].Replay
	seqs := map[int]bool{}
	for _, sg := range acc {
		if sg.Replay == id {
			seqs[sg.Seq] = true
		}
	}
	var r StoredReplay
	waitFor(t, 10*time.Second, fmt.Sprintf("%d stored segments of replay %s", len(seqs), id), func() bool {
		var ok bool
		r, ok = s.Replay(t, id)
		return ok && r.Segments == len(seqs)
	})
	return r
}

// quiet waits until no upload has reached the tap for d.
func quiet(t testing.TB, s *Stack, d time.Duration) {
	t.Helper()
	n, since := len(s.Segments()), time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for time.Since(since) < d {
		if time.Now().After(deadline) {
			t.Fatal("uploads never stopped")
		}
		time.Sleep(50 * time.Millisecond)
		if m := len(s.Segments()); m != n {
			n, since = m, time.Now()
		}
	}
}

// OnDisk returns the contents of every file in replaygate's data dir (the
// spool, the store, the consent log), with every gzip member embedded in
// them decoded (the spool's and the store's records hold the segments as
// gzip members inside larger files).
func (s *Stack) OnDisk(t testing.TB) string {
	t.Helper()
	all, err := diskscan.Dir(s.dataDir)
	if err != nil {
		t.Fatalf("read data dir: %v", err)
	}
	return string(all)
}

// ProofRecords returns the consent proof records of subject from the admin API.
func (s *Stack) ProofRecords(t testing.TB, subject string) []ProofRecord {
	t.Helper()
	code, body := s.adminGet(t, "/api/consents?subject="+url.QueryEscape(subject))
	var list struct {
		Consents []ProofRecord `json:"consents"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("GET /api/consents: %d %.200s", code, body)
	}
	return list.Consents
}

// ProofRecord is one consent proof record as the admin API exports it.
type ProofRecord struct {
	Event    string `json:"event"`
	Decision string `json:"decision"`
	Mode     string `json:"mode"`
	GPC      bool   `json:"gpc"`
	Language string `json:"language"`
}
