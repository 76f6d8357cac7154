package forward

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

const testSecret = "0123456789abcdef0123456789abcdef-collector"

// collectorServer is a reference collector: it verifies signature and
// timestamp, dedupes on Idempotency-Key and answers with failFirst 503s
// first.
type collectorServer struct {
	t         *testing.T
	mu        sync.Mutex
	keys      []string
	bodies    map[string][]byte
	failFirst int32
	calls     atomic.Int32
}

func (c *collectorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.calls.Add(1) <= c.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if err := VerifySignature([]byte(testSecret), r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), body, time.Now(), 5*time.Minute); err != nil {
		c.t.Errorf("collector: %v", err)
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var seg struct {
		ReplayID   string          `json:"replayId"`
		Seq        *int            `json:"seq"`
		Subject    string          `json:"subject"`
		ReceivedAt time.Time       `json:"receivedAt"`
		Events     json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &seg); err != nil || seg.Seq == nil || seg.ReplayID == "" || seg.ReceivedAt.IsZero() || len(seg.Events) == 0 {
		c.t.Errorf("collector: body does not match the protocol: %v", err)
	}
	key := r.Header.Get(IdempotencyHeader)
	if key != seg.ReplayID+"/"+strconv.Itoa(*seg.Seq) {
		c.t.Errorf("Idempotency-Key %q does not match the body", key)
	}
	c.mu.Lock()
	if _, dup := c.bodies[key]; !dup {
		c.keys = append(c.keys, key)
		c.bodies[key] = body
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *collectorServer) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.keys)
}

func newCollectorT(t *testing.T, srv *httptest.Server) *HTTPCollector {
	cfg := DefaultConfig().HTTP
	cfg.URL = srv.URL + "/ingest?token=shh"
	cfg.Secret = testSecret
	if err := (Config{HTTP: cfg}).Validate(); err != nil {
		t.Fatal(err)
	}
	return NewHTTPCollector(cfg, zerolog.Nop())
}

func TestHTTPCollectorSigned(t *testing.T) {
	cs := &collectorServer{t: t, bodies: map[string][]byte{}}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	h := newCollectorT(t, srv)
	for seq := range 3 {
		if err := h.Forward(context.Background(), testSeg(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Forward(context.Background(), testSeg(1)); err != nil { // a redelivery
		t.Fatal(err)
	}
	want := []string{testSeg(0).Key(), testSeg(1).Key(), testSeg(2).Key()}
	if got := cs.received(); !slices.Equal(got, want) {
		t.Fatalf("collector got %v", got)
	}
	var back spool.Segment
	if err := json.Unmarshal(cs.bodies[want[2]], &back); err != nil || string(back.Events) != string(testSeg(2).Events) || back.Subject != "subj-1" {
		t.Fatalf("body does not round-trip: %v", err)
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte(testSecret)
	body := []byte(`{"replayId":"r","seq":1}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(secret, ts, body)
	tests := []struct {
		name      string
		sig, ts   string
		body      []byte
		secret    []byte
		wantError error
	}{
		{"valid", good, ts, body, secret, nil},
		{"tampered body", good, ts, []byte(`{"replayId":"r","seq":2}`), secret, ErrBadSignature},
		{"other secret", good, ts, body, []byte("another secret of enough length!!"), ErrBadSignature},
		{"timestamp moved", good, strconv.FormatInt(now.Unix()-1, 10), body, secret, ErrBadSignature},
		{"stale", Sign(secret, "1700000000", body), "1700000000", body, secret, ErrStale},
		{"future", Sign(secret, "1800009999", body), "1800009999", body, secret, ErrStale},
		{"no prefix", good[len("sha256="):], ts, body, secret, ErrBadSignature},
		{"garbage timestamp", good, "yesterday", body, secret, ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifySignature(tt.secret, tt.sig, tt.ts, tt.body, now, 5*time.Minute); err != tt.wantError {
				t.Fatalf("err = %v, want %v", err, tt.wantError)
			}
		})
	}
}

func TestHTTPCollectorErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	h := newCollectorT(t, srv)
	srv.Close()
	err := h.Forward(context.Background(), testSeg(0))
	if err == nil || spool.IsPermanent(err) || contains(err.Error(), "token=shh") {
		t.Fatalf("err = %v: want retryable, without the URL query", err)
	}
}

// TestSpoolThroughCollectorOutage runs the real spool against a collector
// that fails its first requests: every segment arrives, exactly once
// (dedupe on Idempotency-Key), in any order.
func TestSpoolThroughCollectorOutage(t *testing.T) {
	cs := &collectorServer{t: t, bodies: map[string][]byte{}, failFirst: 5}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := spool.DefaultConfig()
	cfg.RetryMin, cfg.RetryMax = 5*time.Millisecond, 20*time.Millisecond
	sp, err := spool.Open(cfg, t.TempDir(), []spool.Forwarder{newCollectorT(t, srv)}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sp.Run(ctx)
	var want []string
	for seq := range 20 {
		if err := sp.Append(testSeg(seq)); err != nil {
			t.Fatal(err)
		}
		want = append(want, testSeg(seq).Key())
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(cs.received()) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := cs.received()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("collector got %v", got)
	}
}
