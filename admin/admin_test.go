package admin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
)

const (
	token = "test-token-0123456789abcdef"
	idA   = "0123456789abcdef0123456789abcdef"
	idB   = "fedcba9876543210fedcba9876543210"
	idX   = "ffffffffffffffffffffffffffffffff" // never stored
)

// fakeConsents records the subjects it was asked for.
type fakeConsents struct {
	mu       sync.Mutex
	subjects []string
	err      error
}

func (f *fakeConsents) ExportJSON(w io.Writer, subject string) error {
	f.mu.Lock()
	f.subjects = append(f.subjects, subject)
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	_, err := fmt.Fprintf(w, `{"consents":[{"subject":%q,"decision":"granted"}]}`, subject)
	return err
}

type fixture struct {
	h        http.Handler
	st       *store.Store
	consents *fakeConsents
	ready    error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	st, err := store.Open(store.DefaultConfig(), t.TempDir(), zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, consents: &fakeConsents{}}
	cfg := DefaultConfig()
	cfg.Token = token
	viewer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "viewer %s", r.URL.Path)
	})
	f.h, err = New(cfg, Deps{
		Replays:  st,
		Consents: f.consents,
		Gatherer: reg,
		Ready:    func() error { return f.ready },
		Viewer:   viewer,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	for _, s := range []spool.Segment{
		{ReplayID: idA, Seq: 1, Subject: "alice", ReceivedAt: at, Events: json.RawMessage(`[{"type":3,"timestamp":1764336001000,"data":{"source":2,"type":2,"id":1}}]`)},
		{ReplayID: idA, Seq: 0, Subject: "alice", ReceivedAt: at, Events: json.RawMessage(`[{"type":4,"timestamp":1764336000000,"data":{"href":"https://shop.example/"}},{"type":5,"timestamp":1764336000001,"data":{"tag":"replaygate/env","payload":{"browser":"Chrome 156","os":"Linux","viewport":{"width":1280,"height":720},"language":"en"}}},{"type":5,"timestamp":1764336000002,"data":{"tag":"replaygate/console","payload":{"level":"error"}}}]`)},
		{ReplayID: idB, Seq: 0, Subject: "bob", ReceivedAt: at, Events: json.RawMessage(`[{"type":4,"timestamp":1764339600000,"data":{"href":"https://shop.example/b"}}]`)},
	} {
		if err := st.Forward(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

type req struct {
	method, path string
	auth         string // Authorization header value; "" for none
	header       map[string]string
	body         string
}

func (f *fixture) do(t *testing.T, q req) *http.Response {
	t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, q.path, body)
	if q.auth != "" {
		r.Header.Set("Authorization", q.auth)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Result()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonError returns the "error" field of a JSON error body, failing if the
// body is not one.
func jsonError(t *testing.T, res *http.Response) string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	body := readBody(t, res)
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e.Error
}

const bearerAuth = "Bearer " + token

func TestAuth(t *testing.T) {
	f := newFixture(t)
	protected := []req{
		{method: "GET", path: "/metrics"},
		{method: "GET", path: "/api/replays"},
		{method: "GET", path: "/api/replays/" + idA},
		{method: "GET", path: "/api/replays/" + idA + "/events"},
		{method: "DELETE", path: "/api/replays/" + idA},
		{method: "GET", path: "/api/consents"},
		{method: "DELETE", path: "/api/subjects/alice"},
	}
	auths := []struct {
		name, header string
	}{
		{"none", ""},
		{"wrong token", "Bearer wrong-token-0123456789abc"},
		{"token prefix", "Bearer " + token[:len(token)-1]},
		{"token with suffix", bearerAuth + "x"},
		{"basic scheme", "Basic " + token},
		{"no scheme", token},
		{"empty bearerAuth", "Bearer "},
	}
	for _, p := range protected {
		for _, a := range auths {
			t.Run(p.method+" "+p.path+" "+a.name, func(t *testing.T) {
				p.auth = a.header
				res := f.do(t, p)
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", res.StatusCode)
				}
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Fatalf("WWW-Authenticate %q", got)
				}
				jsonError(t, res)
			})
		}
	}
	// Nothing was deleted by the refused requests.
	if l, _ := f.st.List(context.Background()); len(l) != 2 {
		t.Fatalf("%d replays left, want 2", len(l))
	}
	// The scheme is case-insensitive.
	if res := f.do(t, req{method: "GET", path: "/api/replays", auth: "bearer " + token}); res.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %d", res.StatusCode)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "GET", path: "/healthz"})
	if res.StatusCode != 200 || !strings.Contains(readBody(t, res), `"ok"`) {
		t.Fatalf("healthz %d", res.StatusCode)
	}
	res = f.do(t, req{method: "GET", path: "/readyz"})
	if res.StatusCode != 200 {
		t.Fatalf("readyz %d", res.StatusCode)
	}
	f.ready = errors.New("spool: full")
	res = f.do(t, req{method: "GET", path: "/readyz"})
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz when not ready: %d", res.StatusCode)
	}
	if msg := jsonError(t, res); msg != "spool: full" {
		t.Fatalf("reason %q", msg)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "GET", path: "/metrics", auth: bearerAuth})
	body := readBody(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, "replaygate_store_segments_total") {
		t.Fatalf("metrics %d:\n%s", res.StatusCode, body)
	}
	h, err := New(Config{Token: token}, Deps{Replays: f.st}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Authorization", bearerAuth)
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Fatalf("metrics without gatherer: %d", w.Code)
	}
}

func TestListReplays(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "GET", path: "/api/replays", auth: bearerAuth})
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var body struct {
		Replays []map[string]any `json:"replays"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Replays) != 2 || body.Replays[0]["id"] != idB || body.Replays[1]["id"] != idA {
		t.Fatalf("replays not newest first: %v", body.Replays)
	}
	a := body.Replays[1]
	for _, k := range []string{"id", "subject", "startedAt", "endedAt", "segments", "urls", "bytes", "browser", "os", "errors", "clicks", "viewport", "language", "events"} {
		if _, ok := a[k]; !ok {
			t.Errorf("field %q missing in %v", k, a)
		}
	}
	want := map[string]any{
		"subject": "alice", "startedAt": "2025-11-28T13:20:00Z", "endedAt": "2025-11-28T13:20:01Z",
		"segments": 2.0, "browser": "Chrome 156", "os": "Linux", "errors": 1.0, "clicks": 1.0,
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %v, want %v", k, a[k], v)
		}
	}
	if urls, _ := a["urls"].([]any); len(urls) != 1 || urls[0] != "https://shop.example/" {
		t.Errorf("urls = %v", a["urls"])
	}
}

func TestListReplaysOfSubject(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		query  string
		status int
		ids    []string
	}{
		{"?subject=alice", 200, []string{idA}},
		{"?subject=bob", 200, []string{idB}},
		{"?subject=nobody", 200, nil},
		{"?subject=a%2Fb", 400, nil},
	}
	for _, tc := range cases {
		res := f.do(t, req{method: "GET", path: "/api/replays" + tc.query, auth: bearerAuth})
		if res.StatusCode != tc.status {
			t.Fatalf("%s: %d, want %d", tc.query, res.StatusCode, tc.status)
		}
		if tc.status != 200 {
			jsonError(t, res)
			continue
		}
		body := readBody(t, res)
		var got struct {
			Replays []store.Meta `json:"replays"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Replays == nil {
			t.Fatalf("%s: %q (%v)", tc.query, body, err)
		}
		var ids []string
		for _, m := range got.Replays {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, tc.ids) {
			t.Fatalf("%s: %v, want %v", tc.query, ids, tc.ids)
		}
	}
}

func TestGetReplay(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		path   string
		status int
	}{
		{"/api/replays/" + idA, 200},
		{"/api/replays/" + idX, 404},
		{"/api/replays/" + strings.ToUpper(idA), 400},
		{"/api/replays/" + idA[:31], 400},
		{"/api/replays/..%2f..%2fetc%2fpasswd", 400},
		{"/api/replays/%2e%2e", 400},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			res := f.do(t, req{method: "GET", path: tc.path, auth: bearerAuth})
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				jsonError(t, res)
				return
			}
			var m store.Meta
			if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.ID != idA || m.Segments != 2 {
				t.Fatalf("meta %+v, %v", m, err)
			}
		})
	}
}

func TestReplayEvents(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "GET", path: "/api/replays/" + idA + "/events", auth: bearerAuth})
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var evs []struct {
		Type      int   `json:"type"`
		Timestamp int64 `json:"timestamp"`
	}
	if err := json.NewDecoder(res.Body).Decode(&evs); err != nil {
		t.Fatal(err)
	}
	var types []int
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, []int{4, 5, 5, 3}) {
		t.Fatalf("event types %v, want seq 0 then seq 1", types)
	}
	// Compressed when the client accepts gzip.
	res = f.do(t, req{method: "GET", path: "/api/replays/" + idA + "/events", auth: bearerAuth, header: map[string]string{"Accept-Encoding": "gzip"}})
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(zr); !json.Valid(b) {
			t.Fatalf("gzip body invalid: %q", b)
		}
	} else if !json.Valid([]byte(readBody(t, res))) {
		t.Fatal("body invalid")
	}
	for path, status := range map[string]int{
		"/api/replays/" + idX + "/events": 404,
		"/api/replays/not-an-id/events":   400,
	} {
		res := f.do(t, req{method: "GET", path: path, auth: bearerAuth})
		if res.StatusCode != status {
			t.Fatalf("%s: %d, want %d", path, res.StatusCode, status)
		}
		jsonError(t, res)
	}
}

func TestDeleteReplay(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "DELETE", path: "/api/replays/" + idA, auth: bearerAuth})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete %d", res.StatusCode)
	}
	for _, q := range []req{
		{method: "DELETE", path: "/api/replays/" + idA, auth: bearerAuth},
		{method: "GET", path: "/api/replays/" + idA, auth: bearerAuth},
	} {
		if res := f.do(t, q); res.StatusCode != 404 {
			t.Fatalf("%s after delete: %d", q.method, res.StatusCode)
		}
	}
	if res := f.do(t, req{method: "DELETE", path: "/api/replays/bad", auth: bearerAuth}); res.StatusCode != 400 {
		t.Fatalf("bad id: %d", res.StatusCode)
	}
}

func TestConsents(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		path, subject string
		status        int
	}{
		{"/api/consents", "", 200},
		{"/api/consents?subject=alice", "alice", 200},
		{"/api/consents?subject=" + url.QueryEscape("a/../b"), "", 400},
		{"/api/consents?subject=" + strings.Repeat("a", 129), "", 400},
	}
	for _, tc := range cases {
		f.consents.subjects = nil
		res := f.do(t, req{method: "GET", path: tc.path, auth: bearerAuth})
		if res.StatusCode != tc.status {
			t.Fatalf("%s: %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if tc.status != 200 {
			jsonError(t, res)
			if len(f.consents.subjects) != 0 {
				t.Fatalf("%s reached the exporter", tc.path)
			}
			continue
		}
		var body struct {
			Consents []map[string]any `json:"consents"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || len(body.Consents) != 1 {
			t.Fatalf("%s: %v %v", tc.path, body, err)
		}
		if !slices.Equal(f.consents.subjects, []string{tc.subject}) {
			t.Fatalf("%s: exporter asked for %q", tc.path, f.consents.subjects)
		}
	}
	f.consents.err = errors.New("open /secret/path: permission denied")
	res := f.do(t, req{method: "GET", path: "/api/consents", auth: bearerAuth})
	if res.StatusCode != 500 || strings.Contains(jsonError(t, res), "/secret") {
		t.Fatalf("exporter failure: %d", res.StatusCode)
	}
	h, _ := New(Config{Token: token}, Deps{Replays: f.st}, zerolog.Nop())
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/consents", nil)
	r.Header.Set("Authorization", bearerAuth)
	h.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Fatalf("no consent log: %d", w.Code)
	}
}

func TestEraseSubject(t *testing.T) {
	f := newFixture(t)
	res := f.do(t, req{method: "DELETE", path: "/api/subjects/alice", auth: bearerAuth})
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("erase %d", res.StatusCode)
	}
	l, _ := f.st.List(context.Background())
	if len(l) != 1 || l[0].Subject != "bob" {
		t.Fatalf("after erasing alice: %+v", l)
	}
	// Erasing an unknown subject is not an error: nothing of it is stored.
	if res := f.do(t, req{method: "DELETE", path: "/api/subjects/nobody", auth: bearerAuth}); res.StatusCode != 204 {
		t.Fatalf("unknown subject: %d", res.StatusCode)
	}
	for _, bad := range []string{"a%2Fb", "%20", strings.Repeat("x", 129), "%C3%A9"} {
		res := f.do(t, req{method: "DELETE", path: "/api/subjects/" + bad, auth: bearerAuth})
		if res.StatusCode != 400 {
			t.Fatalf("subject %q: %d, want 400", bad, res.StatusCode)
		}
		jsonError(t, res)
	}
}

func TestUnknownRoutesAndSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		q      req
		status int
	}{
		{req{method: "GET", path: "/api/nope"}, 404},
		{req{method: "GET", path: "/api/replays/" + idA + "/events/x", auth: bearerAuth}, 404},
		{req{method: "POST", path: "/nope"}, 405},
		{req{method: "GET", path: "/api/replays/" + idA + "/other", auth: bearerAuth}, 404},
		{req{method: "POST", path: "/api/replays", auth: bearerAuth}, 405},
		{req{method: "PUT", path: "/api/replays/" + idA, auth: bearerAuth}, 405},
		{req{method: "GET", path: "/healthz"}, 200},
		{req{method: "GET", path: "/api/replays"}, 401},
		{req{method: "GET", path: "/api/replays", auth: bearerAuth}, 200},
		{req{method: "GET", path: "/api/replays/" + idA + "/events", auth: bearerAuth}, 200},
		{req{method: "DELETE", path: "/api/replays/" + idB, auth: bearerAuth}, 204},
	}
	for _, tc := range cases {
		res := f.do(t, tc.q)
		if res.StatusCode != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.q.method, tc.q.path, res.StatusCode, tc.status)
		}
		h := res.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s %s: security headers missing: %v", tc.q.method, tc.q.path, h)
		}
		if tc.status == 404 || tc.status == 405 {
			jsonError(t, res)
		}
		if tc.status == 405 && res.Header.Get("Allow") == "" {
			t.Fatal("405 without Allow")
		}
	}
}

// failingReplays makes every store call fail with an internal error.
type failingReplays struct{}

var errInternal = errors.New("open /var/lib/replaygate/replays: too many open files")

func (failingReplays) List(context.Context) ([]store.Meta, error) { return nil, errInternal }
func (failingReplays) Get(context.Context, string) (store.Meta, error) {
	return store.Meta{}, errInternal
}
func (failingReplays) WriteEvents(context.Context, string, io.Writer) error { return errInternal }
func (failingReplays) Delete(context.Context, string) error                 { return errInternal }
func (failingReplays) EraseSubjectCount(context.Context, string) (int, error) {
	return 0, errInternal
}

func TestStoreErrorsAreNotEchoed(t *testing.T) {
	var logs bytes.Buffer
	h, err := New(Config{Token: token}, Deps{Replays: failingReplays{}}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []req{
		{method: "GET", path: "/api/replays"},
		{method: "GET", path: "/api/replays/" + idA},
		{method: "GET", path: "/api/replays/" + idA + "/events"},
		{method: "DELETE", path: "/api/replays/" + idA},
		{method: "DELETE", path: "/api/subjects/alice"},
	} {
		f := &fixture{h: h}
		q.auth = bearerAuth
		res := f.do(t, q)
		if res.StatusCode != 500 {
			t.Fatalf("%s %s: %d", q.method, q.path, res.StatusCode)
		}
		if msg := jsonError(t, res); strings.Contains(msg, "/var/lib") {
			t.Fatalf("internal error echoed: %q", msg)
		}
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Fatal("internal error not logged")
	}
	if strings.Contains(logs.String(), "alice") {
		t.Fatal("subject logged")
	}
}

func TestNewValidates(t *testing.T) {
	st, _ := store.Open(store.DefaultConfig(), t.TempDir(), zerolog.Nop(), nil)
	cases := []struct {
		name string
		cfg  Config
		deps Deps
	}{
		{"empty token", Config{}, Deps{Replays: st}},
		{"short token", Config{Token: "short"}, Deps{Replays: st}},
		{"no store", Config{Token: token}, Deps{}},
	}
	for _, tc := range cases {
		if _, err := New(tc.cfg, tc.deps, zerolog.Nop()); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"token", func(c *Config) { c.Token = token }, ""},
		{"short token", func(c *Config) { c.Token = "abc" }, "token:"},
		{"token with space", func(c *Config) { c.Token = "abcdefgh ijklmnopq" }, "token:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want prefix %q", err, tc.want)
			}
		})
	}
	tok, err := NewToken()
	if err != nil || len(tok) != 64 {
		t.Fatalf("NewToken = %q, %v", tok, err)
	}
	if tok2, _ := NewToken(); tok2 == tok {
		t.Fatal("NewToken repeats")
	}
}

func TestViewerMount(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "viewer /"},
		{"/replays/" + idA, 200, "viewer /replays/" + idA},
		{"/viewer/assets/app-1234.js", 200, "viewer /viewer/assets/app-1234.js"},
		{"/replays/nothex", 400, ""},
		{"/api/other", 404, ""},
	}
	for _, tc := range cases {
		res := f.do(t, req{method: "GET", path: tc.path})
		if res.StatusCode != tc.status {
			t.Fatalf("%s: %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if tc.body != "" {
			if got := readBody(t, res); got != tc.body {
				t.Fatalf("%s: body %q", tc.path, got)
			}
		} else {
			jsonError(t, res)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: no security headers", tc.path)
		}
	}
	// Without a viewer, GET / is a JSON 404.
	h, _ := New(Config{Token: token}, Deps{Replays: f.st}, zerolog.Nop())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET / without viewer: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}
