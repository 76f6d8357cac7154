package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
)

// memSpool is an in-memory spool that copies what it is given, like the
// real one, and can be made to fail.
type memSpool struct {
	mu   sync.Mutex
	segs []spool.Segment
	err  error
}

func (s *memSpool) Append(seg spool.Segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if seg.Events != nil {
		seg.Events = append([]byte(nil), seg.Events...)
	}
	if seg.Gzip != nil {
		seg.Gzip = append([]byte(nil), seg.Gzip...)
	}
	if seg.Summary != nil {
		sum := *seg.Summary
		sum.Info = nil
		for _, e := range seg.Summary.Info {
			sum.Info = append(sum.Info, append([]byte(nil), e...))
		}
		seg.Summary = &sum
	}
	s.segs = append(s.segs, seg)
	return nil
}

// eventsOf returns the JSON events of a spooled segment, which ingest
// hands over compressed: Gzip set, Events nil.
func eventsOf(t testing.TB, s spool.Segment) []byte {
	t.Helper()
	if s.Events != nil || s.Gzip == nil {
		t.Fatalf("segment %s carries %d bytes of events and %d of gzip; want gzip only", s.Key(), len(s.Events), len(s.Gzip))
	}
	js, err := s.EventsJSON(nil)
	if err != nil {
		t.Fatalf("segment %s: %v", s.Key(), err)
	}
	return js
}

func (s *memSpool) all() []spool.Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]spool.Segment(nil), s.segs...)
}

type eraser struct {
	mu       sync.Mutex
	subjects []string
}

func (e *eraser) EraseSubjectBefore(_ context.Context, s string, _ time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subjects = append(e.subjects, s)
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const prefix = "/__replay"

// env is a public listener with the real consent endpoint and the ingest
// handler, as the proxy mounts them.
type env struct {
	t       *testing.T
	dir     string
	clock   *clock
	consent *policy.Consent
	h       *Handler
	spool   *memSpool
	eraser  *eraser
	reg     *prometheus.Registry
	srv     *httptest.Server
}

func newEnv(t *testing.T, mutate func(*Config, *policy.Config, *Deps)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		spool: &memSpool{}, eraser: &eraser{}, reg: prometheus.NewRegistry()}
	icfg, pcfg := DefaultConfig(), policy.DefaultConfig()
	pcfg.RegionHeader = "CF-IPCountry"
	pcfg.Regions = map[string]policy.Mode{"XX": policy.ModeOff}
	deps := Deps{Scrubber: newScanner(t), Spool: e.spool, Now: e.clock.Now}
	if mutate != nil {
		mutate(&icfg, &pcfg, &deps)
	}
	c, err := policy.New(pcfg, e.dir, policy.Options{Now: e.clock.Now, Eraser: e.eraser}, zerolog.Nop(), e.reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.consent = c
	if deps.Consent == nil {
		deps.Consent = c
	}
	h, err := New(icfg, deps, zerolog.Nop(), e.reg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	mux := http.NewServeMux()
	mux.Handle(prefix+"/consent", c)
	mux.Handle(prefix+"/ingest", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// grant records a decision and returns the consent cookie.
func (e *env) decide(decision string, cookies ...*http.Cookie) *http.Cookie {
	e.t.Helper()
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+prefix+"/consent", strings.NewReader(`{"decision":"`+decision+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", e.srv.URL)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		e.t.Fatalf("consent %s: %d", decision, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == policy.CookieName {
			return c
		}
	}
	e.t.Fatal("no consent cookie")
	return nil
}

type upload struct {
	method   string
	query    string // default replay=<valid>&seq=0
	ctype    string // default application/json
	encoding string
	origin   string // default the server's; "-" for none
	header   map[string]string
	cookie   *http.Cookie
	body     []byte
	chunked  bool // hide Content-Length
}

const replayID = "0123456789abcdef0123456789abcdef"

const events = `[{"type":4,"data":{"href":"https://shop.example/"},"timestamp":1772366400000},` +
	`{"type":5,"data":{"tag":"console","payload":{"payload":["mail jane.doe@example.com now"]}},"timestamp":1772366400100}]`

func (e *env) send(u upload) (*http.Response, string) {
	e.t.Helper()
	resp, body, err := e.trySend(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, body
}

// trySend is send for goroutines other than the test's.
func (e *env) trySend(u upload) (*http.Response, string, error) {
	if u.method == "" {
		u.method = http.MethodPost
	}
	if u.query == "" {
		u.query = "replay=" + replayID + "&seq=0"
	}
	if u.body == nil {
		u.body = []byte(events)
	}
	var body io.Reader = bytes.NewReader(u.body)
	if u.chunked {
		body = io.MultiReader(body) // unknown length: sent chunked
	}
	r, err := http.NewRequest(u.method, e.srv.URL+prefix+"/ingest?"+u.query, body)
	if err != nil {
		return nil, "", err
	}
	if u.ctype == "" {
		u.ctype = "application/json"
	}
	r.Header.Set("Content-Type", u.ctype)
	if u.encoding != "" {
		r.Header.Set("Content-Encoding", u.encoding)
	}
	switch u.origin {
	case "":
		r.Header.Set("Origin", e.srv.URL)
	case "-":
	default:
		r.Header.Set("Origin", u.origin)
	}
	for k, v := range u.header {
		r.Header.Set(k, v)
	}
	if u.cookie != nil {
		r.AddCookie(u.cookie)
	}
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func errMsg(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error body, got %q", body)
	}
	return e.Error
}

// counter reads a counter from the registry.
func (e *env) counter(name string, labels map[string]string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestAccepted(t *testing.T) {
	plain := []byte(events)
	tests := []struct {
		name     string
		ctype    string
		encoding string
		body     []byte
	}{
		{"identity json", "application/json", "", plain},
		{"identity explicit", "application/json; charset=utf-8", "identity", plain},
		{"gzip", "application/json", "gzip", gz(t, plain)},
		{"beacon text/plain", "text/plain;charset=UTF-8", "", plain},
		{"beacon gzip without header", "text/plain", "", gz(t, plain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ck := e.decide("granted")
			resp, body := e.send(upload{cookie: ck, ctype: tt.ctype, encoding: tt.encoding, body: tt.body, query: "replay=" + replayID + "&seq=7"})
			if resp.StatusCode != http.StatusAccepted || strings.TrimSpace(body) != `{"status":"accepted"}` {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			segs := e.spool.all()
			if len(segs) != 1 {
				t.Fatalf("%d segments", len(segs))
			}
			s := segs[0]
			subject, _ := e.consent.Verify(httptestRequestWith(ck))
			if s.ReplayID != replayID || s.Seq != 7 || s.Subject != subject || !s.ReceivedAt.Equal(e.clock.Now()) {
				t.Fatalf("segment %+v", s)
			}
			js := eventsOf(t, s)
			want, _, err := newScanner(t).Scrub(nil, plain)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(js, want) || bytes.Contains(js, []byte("jane.doe@example.com")) || !json.Valid(js) {
				t.Fatalf("spooled events %s, want exactly the scrubbed output %s", js, want)
			}
			if e.counter("replaygate_scrub_hits_total", map[string]string{"detector": "email"}) != 1 {
				t.Error("scrub hit not counted")
			}
			if e.counter("replaygate_ingest_uploads_total", map[string]string{"outcome": "accepted"}) != 1 {
				t.Error("accepted not counted")
			}
			if got := e.counter("replaygate_ingest_bytes_total", map[string]string{"stage": "wire"}); got != float64(len(tt.body)) {
				t.Errorf("wire bytes %v, want %d", got, len(tt.body))
			}
			if got := e.counter("replaygate_ingest_bytes_total", map[string]string{"stage": "decoded"}); got != float64(len(plain)) {
				t.Errorf("decoded bytes %v, want %d", got, len(plain))
			}
			if e.counter("replaygate_ingest_duration_seconds", map[string]string{"outcome": "accepted"}) != 1 {
				t.Error("latency not observed")
			}
		})
	}
}

// newScanner returns the real scrubber with its defaults.
func newScanner(t testing.TB) *scrub.Scanner {
	t.Helper()
	sc, err := scrub.New(scrub.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func httptestRequestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.AddCookie(c)
	return r
}

func TestRepeatedSeqIsIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	ck := e.decide("granted")
	for i := 0; i < 2; i++ {
		if resp, body := e.send(upload{cookie: ck}); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("attempt %d: %d %s", i, resp.StatusCode, body)
		}
	}
	segs := e.spool.all()
	if len(segs) != 2 || segs[0].Key() != segs[1].Key() {
		t.Fatalf("segments %v: both must carry the same key for downstream dedup", segs)
	}
}

// TestRefusals covers every refusal path over HTTP: status, JSON error,
// metric reason, and that nothing reached the spool.
func TestRefusals(t *testing.T) {
	bomb := gz(t, make([]byte, 64<<20)) // 64 MiB of zeros in ~64 KB
	deep := `[{"type":3,"timestamp":1,"data":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}]`
	tests := []struct {
		name   string
		setup  func(e *env) upload // returns the upload to send
		status int
		reason string
		msg    string // substring of the error message
	}{
		{"GET", func(e *env) upload { return upload{method: http.MethodGet, cookie: e.decide("granted")} }, 405, "method", "POST"},
		{"cross origin", func(e *env) upload { return upload{origin: "https://evil.example", cookie: e.decide("granted")} }, 403, "cross_origin", "cross-origin"},
		{"cross-site fetch", func(e *env) upload {
			return upload{origin: "-", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, cookie: e.decide("granted")}
		}, 403, "cross_origin", "cross-origin"},
		{"no origin signal", func(e *env) upload { return upload{origin: "-", cookie: e.decide("granted")} }, 403, "cross_origin", ""},
		{"missing cookie", func(e *env) upload { return upload{} }, 403, "consent", "consent"},
		{"denied cookie", func(e *env) upload { return upload{cookie: e.decide("denied")} }, 403, "consent", "consent"},
		{"forged cookie", func(e *env) upload {
			c := policy.Cookie{Subject: strings.Repeat("ab", 16), Decision: policy.DecisionGranted, PolicyVersion: "1",
				IssuedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}
			return upload{cookie: &http.Cookie{Name: policy.CookieName, Value: c.Encode([]byte(strings.Repeat("x", 32)))}}
		}, 403, "consent", ""},
		{"tampered cookie", func(e *env) upload {
			c := e.decide("granted")
			v := []byte(c.Value)
			v[5] ^= 1
			return upload{cookie: &http.Cookie{Name: policy.CookieName, Value: string(v)}}
		}, 403, "consent", ""},
		{"expired cookie", func(e *env) upload {
			c := e.decide("granted")
			e.clock.Add(6*policy.Month + time.Minute)
			return upload{cookie: c}
		}, 403, "consent", ""},
		{"old policy version", func(e *env) upload {
			// Another node (same key, data dir) still on version 0 issued it.
			cfg := policy.DefaultConfig()
			cfg.PolicyVersion = "0"
			cfg.EraseOnWithdraw = false
			old, err := policy.New(cfg, e.dir, policy.Options{Now: e.clock.Now}, zerolog.Nop(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			srv := httptest.NewServer(old)
			defer srv.Close()
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"decision":"granted"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Origin", srv.URL)
			resp, err := srv.Client().Do(r)
			if err != nil || resp.StatusCode != 204 {
				t.Fatalf("old node: %v %v", err, resp)
			}
			resp.Body.Close()
			return upload{cookie: resp.Cookies()[0]}
		}, 403, "consent", ""},
		{"region off", func(e *env) upload {
			return upload{cookie: e.decide("granted"), header: map[string]string{"CF-IPCountry": "XX"}}
		}, 403, "consent", ""},
		{"gpc", func(e *env) upload {
			return upload{cookie: e.decide("granted"), header: map[string]string{"Sec-GPC": "1"}}
		}, 403, "consent", ""},
		{"content type form", func(e *env) upload {
			return upload{cookie: e.decide("granted"), ctype: "application/x-www-form-urlencoded"}
		}, 415, "content_type", "Content-Type"},
		{"content type latin1", func(e *env) upload {
			return upload{cookie: e.decide("granted"), ctype: "application/json; charset=iso-8859-1"}
		}, 415, "content_type", ""},
		{"encoding br", func(e *env) upload { return upload{cookie: e.decide("granted"), encoding: "br"} }, 415, "content_encoding", "Content-Encoding"},
		{"encoding gzip twice", func(e *env) upload { return upload{cookie: e.decide("granted"), encoding: "gzip, gzip"} }, 415, "content_encoding", ""},
		{"replay missing", func(e *env) upload { return upload{cookie: e.decide("granted"), query: "seq=1"} }, 400, "bad_replay", "replay"},
		{"replay upper case", func(e *env) upload {
			return upload{cookie: e.decide("granted"), query: "replay=" + strings.ToUpper(replayID) + "&seq=1"}
		}, 400, "bad_replay", ""},
		{"replay short", func(e *env) upload { return upload{cookie: e.decide("granted"), query: "replay=abc&seq=1"} }, 400, "bad_replay", ""},
		{"seq missing", func(e *env) upload { return upload{cookie: e.decide("granted"), query: "replay=" + replayID} }, 400, "bad_seq", "seq"},
		{"seq negative", func(e *env) upload {
			return upload{cookie: e.decide("granted"), query: "replay=" + replayID + "&seq=-1"}
		}, 400, "bad_seq", ""},
		{"seq too big", func(e *env) upload {
			return upload{cookie: e.decide("granted"), query: "replay=" + replayID + "&seq=100001"}
		}, 400, "bad_seq", ""},
		{"seq float", func(e *env) upload {
			return upload{cookie: e.decide("granted"), query: "replay=" + replayID + "&seq=1e3"}
		}, 400, "bad_seq", ""},
		{"oversize declared", func(e *env) upload {
			return upload{cookie: e.decide("granted"), body: bytes.Repeat([]byte(" "), 1<<20+1)}
		}, 413, "too_large_wire", "exceeds 1048576"},
		{"oversize chunked", func(e *env) upload {
			return upload{cookie: e.decide("granted"), body: bytes.Repeat([]byte(" "), 1<<20+1), chunked: true}
		}, 413, "too_large_wire", ""},
		{"gzip bomb", func(e *env) upload { return upload{cookie: e.decide("granted"), encoding: "gzip", body: bomb} }, 413, "too_large_decoded", "decompressed"},
		{"corrupt gzip", func(e *env) upload {
			b := gz(t, []byte(events))
			b[len(b)-5] ^= 0xff // CRC
			return upload{cookie: e.decide("granted"), encoding: "gzip", body: b}
		}, 400, "bad_gzip", "gzip"},
		{"gzip header on plain body", func(e *env) upload { return upload{cookie: e.decide("granted"), encoding: "gzip"} }, 400, "bad_gzip", ""},
		{"malformed JSON", func(e *env) upload { return upload{cookie: e.decide("granted"), body: []byte(`[{"type":4,`)} }, 400, "invalid_input", "JSON"},
		{"not an array", func(e *env) upload {
			return upload{cookie: e.decide("granted"), body: []byte(`{"type":4,"timestamp":1}`)}
		}, 400, "invalid_input", ""},
		{"deep nesting", func(e *env) upload { return upload{cookie: e.decide("granted"), body: []byte(deep)} }, 400, "invalid_input", "deep"},
		{"invalid UTF-8", func(e *env) upload {
			return upload{cookie: e.decide("granted"), body: []byte("[{\"type\":3,\"timestamp\":1,\"data\":\"\xff\xfe\"}]")}
		}, 400, "invalid_input", "UTF-8"},
		{"wrong types", func(e *env) upload {
			return upload{cookie: e.decide("granted"), body: []byte(`[{"type":"3","timestamp":1}]`)}
		}, 400, "invalid_input", ""},
		{"missing timestamp", func(e *env) upload { return upload{cookie: e.decide("granted"), body: []byte(`[{"type":3}]`)} }, 400, "invalid_input", ""},
		{"empty body", func(e *env) upload { return upload{cookie: e.decide("granted"), body: []byte{}} }, 400, "invalid_input", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			u := tt.setup(e)
			resp, body := e.send(u)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if resp.StatusCode == 405 {
				if resp.Header.Get("Allow") != "POST" {
					t.Error("405 without Allow: POST")
				}
			} else if msg := errMsg(t, body); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not mention %q", msg, tt.msg)
			}
			if n := len(e.spool.all()); n != 0 {
				t.Fatalf("refused upload reached the spool (%d segments)", n)
			}
			if got := e.counter("replaygate_ingest_uploads_total", map[string]string{"outcome": "refused", "reason": tt.reason}); got != 1 {
				t.Errorf("refusal reason %q counted %v times", tt.reason, got)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("per subject", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *policy.Config, _ *Deps) { c.SubjectRate, c.SubjectBurst = 1, 3 })
		a, b := e.decide("granted"), e.decide("granted")
		for i := 0; i < 3; i++ {
			if resp, body := e.send(upload{cookie: a}); resp.StatusCode != 202 {
				t.Fatalf("upload %d: %d %s", i, resp.StatusCode, body)
			}
		}
		resp, body := e.send(upload{cookie: a})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("4th upload: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		errMsg(t, body)
		if resp, _ := e.send(upload{cookie: b}); resp.StatusCode != 202 {
			t.Fatalf("other subject limited too: %d", resp.StatusCode)
		}
		e.clock.Add(time.Second)
		if resp, _ := e.send(upload{cookie: a}); resp.StatusCode != 202 {
			t.Fatalf("after refill: %d", resp.StatusCode)
		}
		if n := len(e.spool.all()); n != 5 {
			t.Fatalf("%d segments, want 5", n)
		}
	})
	t.Run("overall", func(t *testing.T) {
		e := newEnv(t, func(c *Config, _ *policy.Config, _ *Deps) { c.OverallRate, c.OverallBurst = 0.5, 2 })
		cks := []*http.Cookie{e.decide("granted"), e.decide("granted"), e.decide("granted")}
		for i := 0; i < 2; i++ {
			if resp, _ := e.send(upload{cookie: cks[i]}); resp.StatusCode != 202 {
				t.Fatalf("upload %d: %d", i, resp.StatusCode)
			}
		}
		resp, _ := e.send(upload{cookie: cks[2]})
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("over overall limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if e.counter("replaygate_ingest_uploads_total", map[string]string{"reason": "rate_overall"}) != 1 {
			t.Error("rate_overall not counted")
		}
	})
}

func TestSubjectLimitersBounded(t *testing.T) {
	s := newSubjectLimiters(1, 1, 3)
	now := time.Now()
	first := s.get("a")
	if r, _ := take(first, now); r == nil {
		t.Fatal("first token refused")
	}
	for _, k := range []string{"b", "c", "d", "e"} {
		s.get(k)
	}
	if s.len() != 3 {
		t.Fatalf("%d limiters, want 3", s.len())
	}
	if s.get("e") != s.get("e") {
		t.Fatal("limiter not reused")
	}
	// "a" was evicted: it comes back with a fresh bucket.
	if r, _ := take(s.get("a"), now); r == nil {
		t.Fatal("evicted subject not reset")
	}
}

func TestSpoolErrors(t *testing.T) {
	tests := []struct {
		err        error
		reason     string
		retryAfter string
	}{
		{spool.ErrFull, "spool_full", "5"},
		{fmt.Errorf("wrapped: %w", spool.ErrFull), "spool_full", "5"},
		{spool.ErrClosed, "spool_error", "5"},
		{errors.New("disk on fire"), "spool_error", "5"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			e := newEnv(t, nil)
			e.spool.err = tt.err
			resp, body := e.send(upload{cookie: e.decide("granted")})
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != tt.retryAfter {
				t.Fatalf("%d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if msg := errMsg(t, body); strings.Contains(msg, "fire") || strings.Contains(msg, "spool:") {
				t.Fatalf("internal error leaked: %q", msg)
			}
			if e.counter("replaygate_ingest_uploads_total", map[string]string{"reason": tt.reason}) != 1 {
				t.Errorf("%s not counted", tt.reason)
			}
		})
	}
}

func TestScrubberFailureIsGeneric(t *testing.T) {
	e := newEnv(t, func(_ *Config, _ *policy.Config, d *Deps) {
		d.Scrubber = failScrubber{errors.New("internal detail")}
	})
	resp, body := e.send(upload{cookie: e.decide("granted")})
	if resp.StatusCode != 500 || strings.Contains(body, "internal detail") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestWithdrawalStopsUploads(t *testing.T) {
	e := newEnv(t, nil)
	granted := e.decide("granted")
	if resp, _ := e.send(upload{cookie: granted}); resp.StatusCode != 202 {
		t.Fatalf("before withdrawal: %d", resp.StatusCode)
	}
	subject := e.spool.all()[0].Subject
	e.clock.Add(time.Second)
	denied := e.decide("denied", granted)
	if len(e.eraser.subjects) != 1 || e.eraser.subjects[0] != subject {
		t.Fatalf("erased %v, want [%s]", e.eraser.subjects, subject)
	}
	for name, ck := range map[string]*http.Cookie{"replayed grant": granted, "denial": denied} {
		if resp, _ := e.send(upload{cookie: ck, query: "replay=" + replayID + "&seq=1"}); resp.StatusCode != 403 {
			t.Fatalf("%s after withdrawal: %d", name, resp.StatusCode)
		}
	}
	if n := len(e.spool.all()); n != 1 {
		t.Fatalf("%d segments after withdrawal", n)
	}
}

func TestReadLimitedStopsEarly(t *testing.T) {
	// An endless stream is cut just past the limit.
	r := &countingReader{}
	got, err := readLimited(nil, r, 1000)
	if !errors.Is(err, errTooLarge) || len(got) != 1001 || r.n > 1001 {
		t.Fatalf("err %v, len %d, read %d", err, len(got), r.n)
	}
	got, err = readLimited(make([]byte, 0, 4), strings.NewReader("exactly ten"), 11)
	if err != nil || string(got) != "exactly ten" {
		t.Fatalf("%q %v", got, err)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += len(p)
	return len(p), nil
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		mutate func(*Config)
		field  string
	}{
		{func(*Config) {}, ""},
		{func(c *Config) { c.MaxBodyBytes = 10 }, "max_body_bytes"},
		{func(c *Config) { c.MaxDecodedBytes = c.MaxBodyBytes - 1 }, "max_decoded_bytes"},
		{func(c *Config) { c.SubjectRate = -1 }, "subject_rate"},
		{func(c *Config) { c.SubjectBurst = 0 }, "subject_burst"},
		{func(c *Config) { c.SubjectRate, c.SubjectBurst = 0, 0 }, ""},
		{func(c *Config) { c.OverallRate = -1 }, "overall_rate"},
		{func(c *Config) { c.OverallBurst = 0 }, "overall_burst"},
		{func(c *Config) { c.MaxSubjects = 0 }, "max_subjects"},
		{func(c *Config) { c.FullRetryAfter = 0 }, "full_retry_after"},
		{func(c *Config) { c.GzipLevel = 0 }, "gzip_level"},
		{func(c *Config) { c.GzipLevel = 10 }, "gzip_level"},
		{func(c *Config) { c.GzipLevel = 9 }, ""},
	}
	for i, tt := range tests {
		c := DefaultConfig()
		tt.mutate(&c)
		err := c.Validate()
		if tt.field == "" && err != nil || tt.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.field+":")) {
			t.Errorf("case %d: error %v, want field %q", i, err, tt.field)
		}
	}
	bad := DefaultConfig()
	bad.GzipLevel = 12
	if err := bad.Validate(); err == nil || err.Error() != "gzip_level: 12 must be between 1 and 9" {
		t.Errorf("gzip_level 12: %v", err)
	}
	if _, err := New(DefaultConfig(), Deps{}, zerolog.Nop(), nil); err == nil {
		t.Error("New without deps must fail")
	}
}

// sinkSpool stands in for the spool in the benchmark: it copies the
// compressed events like the real spool's record encoding, without the
// disk and fsync.
type sinkSpool struct{ buf []byte }

func (s *sinkSpool) Append(seg spool.Segment) error {
	s.buf = append(s.buf[:0], seg.Gzip...)
	return nil
}

// BenchmarkIngest measures the handler on a ~20 KB gzip segment (174 KB of
// rrweb JSON) with the consent check, gunzip and an in-memory sink instead
// of the spool: "pass" with a pass-through scrubber (the handler's own
// cost), "scanner" with the real scrub.Scanner. The real spool's write and
// fsync come on top (BenchmarkIngestSpool).
func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct {
		name string
		sc   Scrubber
	}{{"pass", passScrubber{}}, {"scanner", newScanner(b)}} {
		b.Run(bc.name, func(b *testing.B) { benchIngest(b, bc.sc) })
	}
}

func benchIngest(b *testing.B, sc Scrubber) {
	seg, err := os.ReadFile("testdata/segment.json.gz")
	if err != nil {
		b.Fatal(err)
	}
	cfg := policy.DefaultConfig()
	cfg.EraseOnWithdraw = false
	consent, err := policy.New(cfg, b.TempDir(), policy.Options{}, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer consent.Close()
	icfg := DefaultConfig()
	icfg.SubjectRate, icfg.OverallRate = 0, 0
	h, err := New(icfg, Deps{Consent: consent, Scrubber: sc, Spool: &sinkSpool{}}, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchCookie(b, consent)
	body := bytes.NewReader(seg)
	r := httptest.NewRequest(http.MethodPost, "http://shop.example/__replay/ingest?replay="+replayID+"&seq=1", body)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Encoding", "gzip")
	r.Header.Set("Origin", "http://shop.example")
	r.AddCookie(cookie)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(seg)
		r.Body = io.NopCloser(body)
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// benchCookie obtains a real granted cookie through the consent endpoint.
func benchCookie(b *testing.B, consent *policy.Consent) *http.Cookie {
	cr := httptest.NewRequest(http.MethodPost, "http://shop.example/__replay/consent", strings.NewReader(`{"decision":"granted"}`))
	cr.Header.Set("Content-Type", "application/json")
	cr.Header.Set("Origin", "http://shop.example")
	cw := httptest.NewRecorder()
	consent.ServeHTTP(cw, cr)
	cs := cw.Result().Cookies()
	if len(cs) == 0 {
		b.Fatalf("consent: %d", cw.Code)
	}
	return cs[0]
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkIngestSpool is BenchmarkIngest/scanner with the real spool
// (write, fsync, group commit) and 16 concurrent uploaders per core: the
// closest to production throughput.
func BenchmarkIngestSpool(b *testing.B) {
	seg, err := os.ReadFile("testdata/segment.json.gz")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	cfg := policy.DefaultConfig()
	cfg.EraseOnWithdraw = false
	consent, err := policy.New(cfg, dir, policy.Options{}, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer consent.Close()
	scfg := spool.DefaultConfig()
	scfg.MaxBytes = 8 << 30
	sp, err := spool.Open(scfg, dir, nil, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	icfg := DefaultConfig()
	icfg.SubjectRate, icfg.OverallRate = 0, 0
	h, err := New(icfg, Deps{Consent: consent, Scrubber: newScanner(b), Spool: sp}, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchCookie(b, consent)

	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	b.SetParallelism(16)
	var seq sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		body := bytes.NewReader(seg)
		for pb.Next() {
			seq.Lock()
			n++
			q := "replay=" + replayID + "&seq=" + strconv.Itoa(n%MaxSeq)
			seq.Unlock()
			body.Reset(seg)
			r := httptest.NewRequest(http.MethodPost, "http://shop.example/__replay/ingest?"+q, body)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Content-Encoding", "gzip")
			r.Header.Set("Origin", "http://shop.example")
			r.AddCookie(cookie)
			w.status = 0
			h.ServeHTTP(w, r)
			if w.status != http.StatusAccepted {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// TestConcurrentUploads checks that pooled buffers never mix uploads: each
// spooled segment holds exactly its own body.
func TestConcurrentUploads(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *policy.Config, _ *Deps) { c.SubjectRate, c.OverallRate = 0, 0 })
	ck := e.decide("granted")
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq := w*each + i
				// Bodies differ in size and content per seq.
				body := fmt.Sprintf(`[{"type":5,"data":{"n":%d,"pad":%q},"timestamp":%d}]`, seq, strings.Repeat("x", seq*97), seq)
				u := upload{cookie: ck, query: "replay=" + replayID + "&seq=" + strconv.Itoa(seq), body: []byte(body)}
				if seq%2 == 0 {
					u.body, u.encoding = gz(t, []byte(body)), "gzip"
				}
				resp, msg, err := e.trySend(u)
				if err != nil {
					t.Error(err)
					return
				}
				if resp.StatusCode != 202 {
					t.Errorf("seq %d: %d %s", seq, resp.StatusCode, msg)
				}
			}
		}(w)
	}
	wg.Wait()
	segs := e.spool.all()
	if len(segs) != workers*each {
		t.Fatalf("%d segments", len(segs))
	}
	for _, s := range segs {
		want := fmt.Sprintf(`[{"type":5,"data":{"n":%d,"pad":%q},"timestamp":%d}]`, s.Seq, strings.Repeat("x", s.Seq*97), s.Seq)
		if js := eventsOf(t, s); string(js) != want {
			t.Fatalf("seq %d holds another upload's bytes (%d bytes, want %d)", s.Seq, len(js), len(want))
		}
	}
}

// TestUploadCompressionNeverKept: the segment never carries the upload's
// own compressed bytes, not even when the scrubber changed nothing: bits a
// decoder ignores (here: a card number in the padding of empty stored
// blocks) would pass it by and reach the disk.
func TestUploadCompressionNeverKept(t *testing.T) {
	clean := []byte(`[{"type":4,"data":{"href":"https://shop.example/"},"timestamp":1772366400000}]`)
	// Empty stored blocks whose 5 padding bits spell the secret, then the
	// events in a final stored block.
	secret := []byte("4111111111111111")
	var deflate []byte
	var bits []byte
	for _, c := range secret {
		for i := 7; i >= 0; i-- {
			bits = append(bits, (c>>i)&1)
		}
	}
	for i := 0; i < len(bits); i += 5 {
		var v byte
		for j := 0; j < 5 && i+j < len(bits); j++ {
			v |= bits[i+j] << j
		}
		deflate = append(deflate, v<<3, 0, 0, 0xff, 0xff)
	}
	deflate = append(deflate, 1)
	deflate = binary.LittleEndian.AppendUint16(deflate, uint16(len(clean)))
	deflate = binary.LittleEndian.AppendUint16(deflate, ^uint16(len(clean)))
	deflate = append(deflate, clean...)
	hidden := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, deflate...)
	hidden = binary.LittleEndian.AppendUint32(hidden, crc32.ChecksumIEEE(clean))
	hidden = binary.LittleEndian.AppendUint32(hidden, uint32(len(clean)))

	for name, body := range map[string][]byte{"plain gzip": gz(t, clean), "bits hidden in padding": hidden} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			ck := e.decide("granted")
			resp, out := e.send(upload{cookie: ck, encoding: "gzip", body: body})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			s := e.spool.all()[0]
			if js := eventsOf(t, s); !bytes.Equal(js, clean) {
				t.Fatalf("events %q, want %q", js, clean)
			}
			// Ingest's own compression of the events, nothing of the
			// upload's member.
			if want := kgz(t, clean, DefaultConfig().GzipLevel); !bytes.Equal(s.Gzip, want) {
				t.Fatalf("spooled gzip %x is not our compression of the events %x", s.Gzip, want)
			}
		})
	}
}

// kgz is the handler's compression: one klauspost gzip member at level.
func kgz(t testing.TB, b []byte, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := kgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestSpoolsCompressedScrubbedEvents: ingest spools one gzip member, at
// gzip_level, of exactly the scrubber's output without surrounding
// whitespace, and no Events; the summary's Info still points into the
// scrubbed events.
func TestSpoolsCompressedScrubbedEvents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level int
		body  string
	}{
		{"level 1", 1, events},
		{"level 9", 9, events},
		{"surrounding whitespace", 1, " \n\t" + events + "\r\n "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config, _ *policy.Config, _ *Deps) { c.GzipLevel = tc.level })
			ck := e.decide("granted")
			if resp, out := e.send(upload{cookie: ck, body: []byte(tc.body)}); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			s := e.spool.all()[0]
			scrubbed, _, err := newScanner(t).Scrub(nil, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSpace(scrubbed)
			if js := eventsOf(t, s); !bytes.Equal(js, want) {
				t.Fatalf("spooled events %q, want %q", js, want)
			}
			if !bytes.Equal(s.Gzip, kgz(t, want, tc.level)) {
				t.Fatalf("spooled gzip is not one member at level %d", tc.level)
			}
			if n := binary.LittleEndian.Uint32(s.Gzip[len(s.Gzip)-4:]); int(n) != len(want) {
				t.Fatalf("ISIZE %d, want %d", n, len(want))
			}
			if s.Summary == nil || s.Summary.Events != 2 || len(s.Summary.Info) != 2 || !bytes.HasPrefix(s.Summary.Info[0], []byte(`{"type":4`)) {
				t.Fatalf("summary %+v", s.Summary)
			}
			if got := e.counter("replaygate_ingest_bytes_total", map[string]string{"stage": "spooled"}); got != float64(len(s.Gzip)) {
				t.Errorf("spooled bytes %v, want %d", got, len(s.Gzip))
			}
		})
	}
}

// TestScrubbedTooLarge: scrubbed events beyond what a consumer of the
// spool decompresses (spool.MaxSegmentBytes; lowered here) are refused
// with 413 and not spooled.
func TestScrubbedTooLarge(t *testing.T) {
	e := newEnv(t, nil)
	e.h.maxScrubbed = len(events) - 1
	ck := e.decide("granted")
	resp, out := e.send(upload{cookie: ck})
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(errMsg(t, out), "scrubbed body exceeds") {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	if n := len(e.spool.all()); n != 0 {
		t.Fatalf("%d segments spooled", n)
	}
	e.h.maxScrubbed = len(events)
	if resp, out := e.send(upload{cookie: ck}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("at the limit: %d %s", resp.StatusCode, out)
	}
}

func gunzipAll(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(io.LimitReader(zr, 1<<20))
}

// dropRecorder is the forwarder behind DropWithdrawn in
// TestSegmentBeforeWithdrawalDropped.
type dropRecorder struct{ got []string }

func (f *dropRecorder) Name() string { return "local" }
func (f *dropRecorder) Forward(_ context.Context, s spool.Segment) error {
	f.got = append(f.got, s.Key())
	return nil
}

// TestSegmentBeforeWithdrawalDropped: a segment accepted before a
// withdrawal, in the same millisecond, is still taken by it: the
// withdrawal's time keeps its nanoseconds, and it is not delivered.
func TestSegmentBeforeWithdrawalDropped(t *testing.T) {
	e := newEnv(t, nil)
	granted := e.decide("granted")
	e.clock.Add(time.Second + 200*time.Microsecond)
	if resp, body := e.send(upload{cookie: granted}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	seg := e.spool.all()[0]
	e.clock.Add(500 * time.Microsecond)
	e.decide("denied", granted)
	next := &dropRecorder{}
	if err := e.consent.DropWithdrawn(next).Forward(context.Background(), seg); err != nil {
		t.Fatal(err)
	}
	if len(next.got) != 0 {
		t.Fatalf("segment accepted before the withdrawal delivered after it: %v", next.got)
	}
}

// TestTwoConsentCookiesRefused: an upload carrying two consent cookies is
// refused, whatever they say.
func TestTwoConsentCookiesRefused(t *testing.T) {
	e := newEnv(t, nil)
	other := e.decide("granted")
	own := e.decide("denied")
	resp, body := e.send(upload{header: map[string]string{
		"Cookie": policy.CookieName + "=" + other.Value + "; " + policy.CookieName + "=" + own.Value,
	}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("%d %s, want 403", resp.StatusCode, body)
	}
}
