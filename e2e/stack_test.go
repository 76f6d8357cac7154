package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replaygate/replaygate/inject/web"
	"github.com/rs/zerolog"
)

const (
	prefix        = "/__replay"
	policyVersion = "2026-01"
)

// Segment is one upload the ingest endpoint accepted.
type Segment struct {
	Replay string
	Seq    int
	Gzip   bool
	Wire   int    // bytes on the wire (compressed when Gzip)
	Body   []byte // decoded JSON array
	Events []json.RawMessage
}

// stackOptions shape the stand-in policy.
type stackOptions struct {
	mode string // consent mode for every visitor: opt-in (default), opt-out, off
	gpc  bool   // server-side Global Privacy Control signal
	cfg  func(*web.Config)
}

// Stack is a running site + replaygate endpoints the browser talks to.
type Stack struct {
	URL string

	mu       sync.Mutex
	segments []Segment
	hits     map[string]int // request counts by path class
	consents []string       // decisions POSTed, in order
	assets   *web.Assets
}

// Segments returns a copy of the accepted uploads in arrival order.
func (s *Stack) Segments() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Segment(nil), s.segments...)
}

// Hits returns how often a class of request arrived: "gate", "recorder", "ingest", "consent-get".
func (s *Stack) Hits(class string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[class]
}

// Consents returns the decisions the browser POSTed, in order.
func (s *Stack) Consents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.consents...)
}

func (s *Stack) hit(class string) {
	s.mu.Lock()
	s.hits[class]++
	s.mu.Unlock()
}

var replayIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// startStack starts the site and endpoints on 127.0.0.1 and stops them when the test ends.
func startStack(t testing.TB, opt stackOptions) *Stack {
	t.Helper()
	if opt.mode == "" {
		opt.mode = "opt-in"
	}
	cfg := web.DefaultConfig()
	cfg.Recording.BatchInterval = time.Second
	cfg.Banner.NoticeURL = "/privacy"
	if opt.cfg != nil {
		opt.cfg(&cfg)
	}
	assets, err := web.New(cfg, prefix, policyVersion, zerolog.Nop())
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	s := &Stack{hits: map[string]int{}, assets: assets}
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, prefix+"/gate"):
			s.hit("gate")
		case strings.HasPrefix(r.URL.Path, prefix+"/recorder"):
			s.hit("recorder")
		}
		assets.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET "+prefix+"/consent", func(w http.ResponseWriter, r *http.Request) {
		s.hit("consent-get")
		decision := "none"
		if c, err := r.Cookie("rg_consent"); err == nil && (c.Value == "granted" || c.Value == "denied") {
			decision = c.Value
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"decision": decision, "policyVersion": policyVersion, "mode": opt.mode,
			"gpc": opt.gpc || r.Header.Get("Sec-GPC") == "1",
		})
	})
	mux.HandleFunc("POST "+prefix+"/consent", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Decision, Language string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil ||
			(body.Decision != "granted" && body.Decision != "denied") {
			http.Error(w, `{"error":"decision must be granted or denied"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.consents = append(s.consents, body.Decision)
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "rg_consent", Value: body.Decision, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "rg_consent_state", Value: body.Decision + "." + policyVersion, Path: "/", SameSite: http.SameSiteLaxMode})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+prefix+"/ingest", func(w http.ResponseWriter, r *http.Request) {
		s.hit("ingest")
		if c, err := r.Cookie("rg_consent"); err != nil || c.Value != "granted" {
			http.Error(w, `{"error":"no valid consent"}`, http.StatusForbidden)
			return
		}
		replay := r.URL.Query().Get("replay")
		seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
		if !replayIDRE.MatchString(replay) || err != nil || seq < 0 {
			http.Error(w, `{"error":"replay must be 32 hex digits and seq a number"}`, http.StatusBadRequest)
			return
		}
		wire, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, `{"error":"read body"}`, http.StatusBadRequest)
			return
		}
		var rd io.Reader = bytes.NewReader(wire)
		gz := r.Header.Get("Content-Encoding") == "gzip"
		if gz {
			zr, err := gzip.NewReader(rd)
			if err != nil {
				http.Error(w, `{"error":"bad gzip"}`, http.StatusBadRequest)
				return
			}
			rd = zr
		}
		body, err := io.ReadAll(rd)
		var events []json.RawMessage
		if err != nil || json.Unmarshal(body, &events) != nil {
			http.Error(w, `{"error":"body must be a JSON array of events"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.segments = append(s.segments, Segment{Replay: replay, Seq: seq, Gzip: gz, Wire: len(wire), Body: body, Events: events})
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/bench/plain-rrweb.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, filepath.Join("..", "inject", "web", "test-dist", "plain-rrweb.js"))
	})
	mux.HandleFunc("/api/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
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
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// renderPage plays the injector: a per-response nonce, and for csp-* pages
// a strict nonce-based Content-Security-Policy.
// variant (benchmarks only) swaps the gate for nothing ("none") or for the
// plain-rrweb baseline ("plain").
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
	gate := `<script src="` + prefix + `/gate.js" nonce="` + nonce + `"></script>`
	switch variant {
	case "none":
		gate = ""
	case "plain":
		gate = `<script src="/bench/plain-rrweb.js" nonce="` + nonce + `"></script>`
	}
	page = bytes.ReplaceAll(page, []byte("{{gate}}"), []byte(gate))
	return bytes.ReplaceAll(page, []byte("{{nonce}}"), []byte(nonce))
}
