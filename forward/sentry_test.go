package forward

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, endpoint, key, public string
		bad                        bool
	}{
		{dsn: "https://abc123@o1.ingest.sentry.io/42", endpoint: "https://o1.ingest.sentry.io/api/42/envelope/", key: "abc123", public: "https://abc123@o1.ingest.sentry.io/42"},
		{dsn: "http://k:s3cret@sentry.local:9000/prefix/7", endpoint: "http://sentry.local:9000/prefix/api/7/envelope/", key: "k", public: "http://k@sentry.local:9000/prefix/7"},
		{dsn: "https://k@host/42/", endpoint: "https://host/api/42/envelope/", key: "k", public: "https://k@host/42"},
		{dsn: "https://host/42", bad: true},
		{dsn: "https://k@host/", bad: true},
		{dsn: "https://k@host/abc", bad: true},
		{dsn: "ftp://k@host/1", bad: true},
		{dsn: "not a url", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			d, err := parseDSN(tt.dsn)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted %q", tt.dsn)
				}
				return
			}
			if err != nil || d.endpoint != tt.endpoint || d.publicKey != tt.key || d.public != tt.public {
				t.Fatalf("got %+v, %v", d, err)
			}
		})
	}
}

// sentryServer validates every envelope strictly and records the parsed
// replay events and decompressed recordings.
type sentryServer struct {
	t      *testing.T
	mu     sync.Mutex
	events []map[string]any
	recs   [][]byte
	status func(n int) (int, http.Header)
	calls  int
}

var authRe = regexp.MustCompile(`^Sentry sentry_version=7, sentry_key=pubkey, sentry_client=replaygate/\S+$`)

func (s *sentryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.status != nil {
		if code, h := s.status(n); code != 200 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(code)
			io.WriteString(w, `{"detail":"upstream secret detail"}`)
			return
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-Sentry-Auth"); !authRe.MatchString(got) {
		t.Errorf("X-Sentry-Auth = %q", got)
	}
	body, _ := io.ReadAll(r.Body)
	header, items := parseEnvelope(t, body)
	if len(items) != 2 {
		t.Fatalf("%d items, want replay_event + replay_recording", len(items))
	}
	if _, err := time.Parse(time.RFC3339Nano, header["sent_at"].(string)); err != nil {
		t.Errorf("sent_at: %v", err)
	}
	if header["dsn"] != "http://pubkey@"+r.Host+"/42" {
		t.Errorf("envelope dsn = %v", header["dsn"])
	}
	if items[0].header["type"] != "replay_event" || items[1].header["type"] != "replay_recording" {
		t.Fatalf("item types %v, %v", items[0].header["type"], items[1].header["type"])
	}
	var ev map[string]any
	if err := json.Unmarshal(items[0].payload, &ev); err != nil {
		t.Fatalf("replay_event: %v", err)
	}
	if header["event_id"] != ev["replay_id"] {
		t.Errorf("event_id %v != replay_id %v", header["event_id"], ev["replay_id"])
	}
	rec := items[1].payload
	nl := bytes.IndexByte(rec, '\n')
	var rh map[string]any
	if nl < 0 || json.Unmarshal(rec[:nl], &rh) != nil || rh["segment_id"] != ev["segment_id"] {
		t.Fatalf("recording header %q does not match segment_id %v", rec[:max(nl, 0)], ev["segment_id"])
	}
	zr, err := zlib.NewReader(bytes.NewReader(rec[nl+1:]))
	if err != nil {
		t.Fatalf("recording is not zlib: %v", err)
	}
	events, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("recording zlib: %v", err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(events, &arr); err != nil || len(arr) == 0 {
		t.Fatalf("recording is not a JSON array of events: %v", err)
	}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.recs = append(s.recs, events)
	s.mu.Unlock()
	w.Write([]byte(`{"id":"` + ev["replay_id"].(string) + `"}`))
}

func newSentryT(t *testing.T, srv *httptest.Server) *Sentry {
	t.Helper()
	cfg := DefaultConfig().Sentry
	cfg.DSN = strings.Replace(srv.URL, "http://", "http://pubkey:secretkey@", 1) + "/42"
	cfg.Release = "shop@1.2.3"
	s, err := NewSentry(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSentryEnvelope(t *testing.T) {
	ss := &sentryServer{t: t}
	srv := httptest.NewServer(ss)
	defer srv.Close()
	s := newSentryT(t, srv)
	for seq := range 3 {
		if err := s.Forward(context.Background(), testSeg(seq)); err != nil {
			t.Fatalf("Forward: %v", err)
		}
	}
	if len(ss.events) != 3 {
		t.Fatalf("%d envelopes accepted", len(ss.events))
	}
	ev := ss.events[2]
	want := map[string]any{
		"type": "replay_event", "replay_id": "0123456789abcdef0123456789abcdef", "event_id": "0123456789abcdef0123456789abcdef",
		"segment_id": 2.0, "replay_type": "session", "platform": "javascript", "environment": "production",
		"release": "shop@1.2.3", "timestamp": 1764331201.002, "replay_start_timestamp": 1764331200.0,
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("replay_event %s = %v, want %v", k, ev[k], v)
		}
	}
	if urls, _ := ev["urls"].([]any); len(urls) != 1 || urls[0] != "https://shop.example/cart" {
		t.Errorf("urls = %v", ev["urls"])
	}
	for _, k := range []string{"error_ids", "trace_ids"} {
		if a, ok := ev[k].([]any); !ok || len(a) != 0 {
			t.Errorf("%s = %v, want []", k, ev[k])
		}
	}
	if sdk, _ := ev["sdk"].(map[string]any); sdk["name"] != "replaygate" || sdk["version"] == "" {
		t.Errorf("sdk = %v", ev["sdk"])
	}
	if string(ss.recs[2]) != string(testSeg(2).Events) {
		t.Errorf("recording does not decompress to the segment's events")
	}
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		header    http.Header
		permanent bool
		ok        bool
		wait      time.Duration
	}{
		{name: "ok", code: 200, ok: true},
		{name: "rate limited with Retry-After", code: 429, header: http.Header{"Retry-After": {"7"}}, wait: 7 * time.Second},
		{name: "rate limited by category", code: 429, header: http.Header{"X-Sentry-Rate-Limits": {"60:replay:organization, 5:error:project"}}, wait: 60 * time.Second},
		{name: "rate limited, other category", code: 429, header: http.Header{"X-Sentry-Rate-Limits": {"60:error:organization"}}},
		{name: "unavailable", code: 503, header: http.Header{"Retry-After": {"2"}}, wait: 2 * time.Second},
		{name: "server error", code: 500},
		{name: "bad gateway", code: 502},
		{name: "request timeout", code: 408},
		{name: "bad request", code: 400, permanent: true},
		{name: "too large", code: 413, permanent: true},
		{name: "bad key", code: 401, permanent: true},
		{name: "forbidden", code: 403, permanent: true},
		{name: "redirect", code: 302, header: http.Header{"Location": {"/elsewhere"}}, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &sentryServer{t: t, status: func(int) (int, http.Header) { return tt.code, tt.header }}
			srv := httptest.NewServer(ss)
			defer srv.Close()
			err := newSentryT(t, srv).Forward(context.Background(), testSeg(0))
			switch {
			case tt.ok:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			case err == nil:
				t.Fatal("no error")
			case spool.IsPermanent(err) != tt.permanent:
				t.Fatalf("permanent = %v, want %v (%v)", spool.IsPermanent(err), tt.permanent, err)
			case contains(err.Error(), "secret detail"):
				t.Fatalf("error echoes the response body: %v", err)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("err %v does not carry status %d", err, tt.code)
			}
			if got := spool.RetryAfterOf(err); got != tt.wait {
				t.Fatalf("retry after %v, want %v", got, tt.wait)
			}
		})
	}
}

func TestSentryUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	s := newSentryT(t, srv)
	srv.Close()
	err := s.Forward(context.Background(), testSeg(0))
	if err == nil || spool.IsPermanent(err) {
		t.Fatalf("unreachable destination: %v", err)
	}
}

func TestSentryToleratesOddEventFields(t *testing.T) {
	ss := &sentryServer{t: t}
	srv := httptest.NewServer(ss)
	defer srv.Close()
	seg := testSeg(0)
	seg.Events = []byte(`[{"type":5,"timestamp":"soon","data":["x"]},{"type":4,"timestamp":1764331200000,"data":{"href":"https://a.example/"}}]`)
	if err := newSentryT(t, srv).Forward(context.Background(), seg); err != nil {
		t.Fatal(err)
	}
	if urls := ss.events[0]["urls"].([]any); len(urls) != 1 || string(ss.recs[0]) != string(seg.Events) {
		t.Fatalf("urls %v", urls)
	}
}

func TestSentryRejectsNonArrayAsPermanent(t *testing.T) {
	srv := httptest.NewServer(&sentryServer{t: t})
	defer srv.Close()
	seg := testSeg(0)
	seg.Events = []byte(`{"not":"an array"}`)
	if err := newSentryT(t, srv).Forward(context.Background(), seg); !spool.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}
