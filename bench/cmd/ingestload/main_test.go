package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGate is a stand-in for replaygate's consent and ingest endpoints that
// enforces what the real one does and that a load generator can get wrong.
type fakeGate struct {
	mu       sync.Mutex
	seen     map[string]bool
	segments map[string]int
	problems []string
}

var replayRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (f *fakeGate) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) < 5 {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}

func (f *fakeGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sameOrigin := r.Header.Get("Origin") == "http://"+r.Host
	switch r.URL.Path {
	case "/__replay/consent":
		if !sameOrigin || r.Method != http.MethodPost {
			f.problem("consent: origin %q, method %s", r.Header.Get("Origin"), r.Method)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "rg_consent", Value: "signed", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "rg_state", Value: "granted.1"})
		w.WriteHeader(http.StatusNoContent)
	case "/__replay/ingest":
		ck, err := r.Cookie("rg_consent")
		if err != nil || ck.Value != "signed" || !sameOrigin || r.Header.Get("Content-Encoding") != "gzip" {
			f.problem("ingest: cookie %v, origin %q, encoding %q", err, r.Header.Get("Origin"), r.Header.Get("Content-Encoding"))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		replay, seq := r.URL.Query().Get("replay"), r.URL.Query().Get("seq")
		zr, err := gzip.NewReader(r.Body)
		var events []map[string]any
		if err == nil {
			err = json.NewDecoder(zr).Decode(&events)
		}
		if err != nil || len(events) == 0 || !replayRE.MatchString(replay) {
			f.problem("ingest: body %v, %d events, replay %q", err, len(events), replay)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.seen[replay+"/"+seq] {
			f.problems = append(f.problems, "repeated "+replay+"/"+seq)
		}
		f.seen[replay+"/"+seq] = true
		f.segments[replay]++
		w.WriteHeader(http.StatusAccepted)
	case "/api/replays":
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		type item struct {
			ID       string `json:"id"`
			Segments int    `json:"segments"`
		}
		var list struct {
			Replays []item `json:"replays"`
		}
		for id, n := range f.segments {
			list.Replays = append(list.Replays, item{id, n})
		}
		json.NewEncoder(w).Encode(list)
	default:
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestRun(t *testing.T) {
	gate := &fakeGate{seen: map[string]bool{}, segments: map[string]int{}}
	srv := httptest.NewServer(gate)
	defer srv.Close()
	res, err := run(options{
		target: srv.URL, prefix: "/__replay", sizeOf: "json", admin: srv.URL, adminToken: "tok",
		duration: 500 * time.Millisecond, drain: 2 * time.Second,
		conns: 4, subjects: 2, size: 4096, variants: 4, perReplay: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	if len(gate.problems) > 0 {
		t.Fatalf("server saw problems: %s", strings.Join(gate.problems, "; "))
	}
	if res.Accepted == 0 || res.Accepted != res.Statuses["202"] || res.Sent != res.Accepted {
		t.Errorf("accepted %d, sent %d, statuses %v", res.Accepted, res.Sent, res.Statuses)
	}
	if res.Stored != res.Accepted || res.StoredNote != "" {
		t.Errorf("stored %d of %d (%s)", res.Stored, res.Accepted, res.StoredNote)
	}
	if len(gate.segments) < 2 {
		t.Errorf("%d replays, want several (new replay every 5 segments)", len(gate.segments))
	}
	if res.AcceptedPerSec <= 0 || res.P99 <= 0 || res.SegmentGzip >= res.SegmentJSON {
		t.Errorf("implausible result %+v", res)
	}
}

func TestRunRefusedConsent(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := run(options{target: srv.URL, prefix: "/__replay", sizeOf: "json", duration: time.Second, conns: 1, size: 1024, variants: 1})
	if err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("err = %v, want the consent refusal", err)
	}
}
