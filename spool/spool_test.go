package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		seg  Segment
	}{
		{"typical", testSeg(replayID(1), 7, 2000)},
		{"zero time and empty fields", Segment{Seq: 0, Events: []byte("[]")}},
		{"no events", Segment{ReplayID: "r", Seq: 1, Subject: "s"}},
		{"unicode", Segment{ReplayID: "é", Subject: "ü", Seq: 1 << 40, ReceivedAt: time.Unix(1, 2).UTC(), Events: []byte(`["✓"]`)}},
		{"with gzip and events", Segment{ReplayID: "r", Seq: 2, Subject: "s", Events: []byte(`[1]`), Gzip: []byte{0x1f, 0x8b, 8, 0, 1, 2, 3}}},
		{"gzip only", Segment{ReplayID: "r", Seq: 2, Subject: "s", Gzip: []byte{0x1f, 0x8b, 8, 0, 1, 2, 3},
			Summary: &Summary{Events: 1, First: 5, Last: 5, Info: [][]byte{}}}},
		{"with summary", Segment{ReplayID: "r", Seq: 3, Subject: "s", Events: []byte(`[{"type":4}]`),
			Summary: &Summary{Events: 1, First: 5, Last: 9, Clicks: 2, Info: [][]byte{[]byte(`{"type":4}`), []byte(`{}`)}}}},
		{"empty summary", Segment{ReplayID: "r", Seq: 4, Subject: "s", Events: []byte(`[]`), Summary: &Summary{Info: [][]byte{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := encodeRecord(tt.seg)
			if err != nil {
				t.Fatal(err)
			}
			// Into a reused buffer with stale bytes, the same record.
			dirty := bytes.Repeat([]byte{0xaa}, len(rec)+100)
			if again, err := encodeRecordInto(dirty, tt.seg); err != nil || !bytes.Equal(again, rec) {
				t.Fatalf("into a used buffer: %x, %v; want %x", again, err, rec)
			}
			sealRecord(rec, 42)
			n, sum, err := parseRecordHeader(rec)
			if err != nil || n != len(rec)-recHeaderSize {
				t.Fatalf("header: n=%d err=%v", n, err)
			}
			lsn, got, err := decodePayload(rec[recHeaderSize:], sum, formatVersion)
			if err != nil || lsn != 42 {
				t.Fatalf("decode: lsn=%d err=%v", lsn, err)
			}
			if got.ReplayID != tt.seg.ReplayID || got.Seq != tt.seg.Seq || got.Subject != tt.seg.Subject ||
				!got.ReceivedAt.Equal(tt.seg.ReceivedAt) || string(got.Events) != string(tt.seg.Events) ||
				string(got.Gzip) != string(tt.seg.Gzip) || !reflect.DeepEqual(got.Summary, tt.seg.Summary) {
				t.Fatalf("round trip: got %+v want %+v", got, tt.seg)
			}
			rec[len(rec)-1] ^= 1
			if _, _, err := decodePayload(rec[recHeaderSize:], sum, formatVersion); !errors.Is(err, errBadRecord) {
				t.Fatalf("flipped bit not detected: %v", err)
			}
		})
	}
	if _, err := encodeRecord(Segment{ReplayID: strings.Repeat("a", 70000)}); err == nil {
		t.Fatal("oversized replay id accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"default", func(*Config) {}, ""},
		{"tiny max_bytes", func(c *Config) { c.MaxBytes = 10 }, "max_bytes:"},
		{"negative max_segments", func(c *Config) { c.MaxSegments = -1 }, "max_segments:"},
		{"file_bytes", func(c *Config) { c.FileBytes = 1 }, "file_bytes:"},
		{"retry_min", func(c *Config) { c.RetryMin = 0 }, "retry_min:"},
		{"retry_max", func(c *Config) { c.RetryMax = time.Millisecond }, "retry_max:"},
		{"forward_timeout", func(c *Config) { c.ForwardTimeout = 0 }, "forward_timeout:"},
		{"checkpoint_interval", func(c *Config) { c.CheckpointInterval = time.Hour }, "checkpoint_interval:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, testConfig(), dir)
	if _, err := Open(testConfig(), dir, nil, zerolog.Nop(), nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open of a spool in use: %v", err)
	}
	s.Close()
	openT(t, testConfig(), dir).Close() // released by Close
}

func TestOpenRejectsDuplicateNames(t *testing.T) {
	_, err := Open(testConfig(), t.TempDir(), []Forwarder{newCollector("a"), newCollector("a")}, zerolog.Nop(), nil)
	if err == nil {
		t.Fatal("duplicate forwarder names accepted")
	}
}

func TestDeliverAllInOrderAndRestartWithoutRedelivery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.FileBytes = 64 << 10 // force several files
	a, b := newCollector("a"), newCollector("b")
	s := openT(t, cfg, dir, a, b)
	stop := runT(t, s)
	r := replayID(1)
	appendN(t, s, r, 0, 40, 5000)
	want := keysOf(r, 0, 40)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(a.received()) == 40 && len(b.received()) == 40 })
	for _, c := range []*collector{a, b} {
		if got := c.received(); !slices.Equal(got, want) {
			t.Fatalf("%s got %v", c.name, got)
		}
		for _, seg := range c.segs {
			checkSeg(t, seg)
		}
	}
	waitFor(t, "depth 0", time.Second, func() bool { n, by := s.Depth(); return n == 0 && by == 0 })
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.log"))
	if len(logs) != 1 {
		t.Fatalf("delivered files not compacted: %v", logs)
	}

	// A clean restart redelivers nothing and continues the sequence.
	a2, b2 := newCollector("a"), newCollector("b")
	s = openT(t, cfg, dir, a2, b2)
	stop = runT(t, s)
	appendN(t, s, r, 40, 3, 5000)
	waitFor(t, "delivery after restart", 5*time.Second, func() bool { return len(a2.received()) >= 3 && len(b2.received()) >= 3 })
	stop()
	s.Close()
	for _, c := range []*collector{a2, b2} {
		if got := c.received(); !slices.Equal(got, keysOf(r, 40, 3)) {
			t.Fatalf("%s after restart got %v", c.name, got)
		}
	}
}

func TestConcurrencyOneKeepsOrder(t *testing.T) {
	cfg := testConfig()
	cfg.Concurrency = 1
	c := newCollector("c")
	c.setFail(func(seg Segment) error {
		if seg.Seq%7 == 3 && rand.IntN(2) == 0 { // some retries on the way
			return errors.New("flaky")
		}
		return nil
	})
	s := openT(t, cfg, t.TempDir(), c)
	defer s.Close()
	stop := runT(t, s)
	defer stop()
	r := replayID(10)
	appendN(t, s, r, 0, 50, 200)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.arrivals()) == 50 })
	if got := c.arrivals(); !slices.Equal(got, keysOf(r, 0, 50)) {
		t.Fatalf("arrival order %v", got)
	}
}

// TestInFlightWindow checks that deliveries overlap, and that the cursor
// never passes a segment still being retried, even though later ones are
// done: a restart must redeliver it.
func TestInFlightWindow(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Concurrency = 8
	c := newCollector("c")
	var running, peak atomic.Int64
	c.setFail(func(seg Segment) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		if seg.Seq == 2 {
			return errors.New("stuck")
		}
		return nil
	})
	s := openT(t, cfg, dir, c)
	stop := runT(t, s)
	r := replayID(11)
	start := time.Now()
	appendN(t, s, r, 0, 40, 200)
	waitFor(t, "all but the stuck one", 5*time.Second, func() bool { return len(c.received()) == 39 })
	if el := time.Since(start); el > 600*time.Millisecond || peak.Load() < 4 {
		t.Fatalf("40 deliveries of 20ms took %v with at most %d in flight: not concurrent", el, peak.Load())
	}
	time.Sleep(50 * time.Millisecond) // let the cursor catch up with the results
	if p := s.Pending()["c"]; p != 38 {
		t.Fatalf("pending %d, want 38 (cursor held at the stuck segment)", p)
	}
	stop()
	s.Close()

	c2 := newCollector("c")
	s = openT(t, cfg, dir, c2)
	defer s.Close()
	stop = runT(t, s)
	defer stop()
	waitFor(t, "redelivery", 5*time.Second, func() bool { d, _ := s.Depth(); return d == 0 })
	if got := c2.received(); !slices.Contains(got, r+"/2") || len(got) != 38 {
		t.Fatalf("after restart got %d: %v", len(got), got)
	}
}

func TestForwarderDownDoesNotBlockOthers(t *testing.T) {
	cfg := testConfig()
	reg := prometheus.NewRegistry()
	down, up := newCollector("down"), newCollector("up")
	var isDown atomic.Bool
	isDown.Store(true)
	var attempts atomic.Int64
	down.setFail(func(Segment) error {
		attempts.Add(1)
		if isDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	s, err := Open(cfg, t.TempDir(), []Forwarder{down, up}, zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := runT(t, s)
	defer stop()
	r := replayID(2)
	appendN(t, s, r, 0, 100, 2000)
	waitFor(t, "healthy forwarder", 5*time.Second, func() bool { return len(up.received()) == 100 })
	if n := len(down.received()); n != 0 {
		t.Fatalf("down forwarder delivered %d", n)
	}
	waitFor(t, "healthy cursor", time.Second, func() bool { return s.Pending()["up"] == 0 })
	if p := s.Pending(); p["down"] != 100 {
		t.Fatalf("pending = %v", p)
	}
	time.Sleep(200 * time.Millisecond)          // several backoff rounds
	if n := attempts.Load(); n < 3 || n > 400 { // 4 in flight, each backing off
		t.Fatalf("%d attempts in ~300ms: backoff not working", n)
	}
	if segs, _ := s.Depth(); segs != 100 {
		t.Fatalf("depth %d while a forwarder is down, want 100", segs)
	}
	isDown.Store(false)
	waitFor(t, "recovered forwarder", 5*time.Second, func() bool { return len(down.received()) == 100 })
	if got := down.received(); !slices.Equal(got, keysOf(r, 0, 100)) {
		t.Fatalf("recovered forwarder got out of order or lost: %v", got[:10])
	}
	waitFor(t, "depth 0", time.Second, func() bool { n, _ := s.Depth(); return n == 0 })
	if v := testutil.ToFloat64(s.m.forwardErrors.WithLabelValues("down", "retryable")); v < 3 {
		t.Fatalf("retryable errors metric = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "replaygate_spool_depth_segments", "replaygate_forward_seconds",
		"replaygate_spool_appends_total", "replaygate_forward_pending_segments"); err != nil || n < 5 {
		t.Fatalf("metrics: %d series, %v", n, err)
	}
}

func TestPermanentErrorSkipsSegment(t *testing.T) {
	c := newCollector("c")
	c.setFail(func(seg Segment) error {
		if seg.Seq == 1 {
			return Permanent(errors.New("status 400"))
		}
		return nil
	})
	s := openT(t, testConfig(), t.TempDir(), c)
	defer s.Close()
	stop := runT(t, s)
	defer stop()
	r := replayID(3)
	appendN(t, s, r, 0, 3, 100)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) == 2 })
	if got := c.received(); !slices.Equal(got, []string{r + "/0", r + "/2"}) {
		t.Fatalf("got %v", got)
	}
	if v := testutil.ToFloat64(s.m.forwardErrors.WithLabelValues("c", "permanent")); v != 1 {
		t.Fatalf("permanent errors = %v", v)
	}
}

func TestRetryAfterIsHonored(t *testing.T) {
	c := newCollector("c")
	var first atomic.Int64
	c.setFail(func(Segment) error {
		if first.CompareAndSwap(0, time.Now().UnixNano()) {
			return RetryAfter(errors.New("status 429"), 300*time.Millisecond)
		}
		return nil
	})
	s := openT(t, testConfig(), t.TempDir(), c)
	defer s.Close()
	stop := runT(t, s)
	defer stop()
	appendN(t, s, replayID(4), 0, 1, 100)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) == 1 })
	if gap := time.Since(time.Unix(0, first.Load())); gap < 300*time.Millisecond {
		t.Fatalf("retried after %v, want ≥ 300ms", gap)
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempt := 1; attempt < 80; attempt++ {
		d := backoff(100*time.Millisecond, 10*time.Second, attempt)
		step := min(100*time.Millisecond<<min(attempt-1, 20), 10*time.Second)
		if d < step/2 || d > step {
			t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, step/2, step)
		}
	}
}

func TestFullThenDrained(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   int
	}{
		{"bytes", func(c *Config) { c.MaxBytes = 1 << 20 }, (1 << 20) / (20000 + recHeaderSize + payloadFixed + 32 + 12)},
		{"segments", func(c *Config) { c.MaxSegments = 7 }, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.FileBytes = 64 << 10
			tt.mutate(&cfg)
			dir := t.TempDir()
			c := newCollector("c")
			s := openT(t, cfg, dir, c)
			defer s.Close()
			r := replayID(5)
			n := 0
			for ; n < 1000; n++ {
				err := s.Append(testSeg(r, n, 20000))
				if errors.Is(err, ErrFull) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if n < tt.want-1 || n > tt.want {
				t.Fatalf("accepted %d before ErrFull, want about %d", n, tt.want)
			}
			if err := s.Append(testSeg(r, n, 20000)); !errors.Is(err, ErrFull) {
				t.Fatalf("second append when full: %v", err)
			}
			stop := runT(t, s)
			defer stop()
			waitFor(t, "drain", 5*time.Second, func() bool { d, _ := s.Depth(); return d == 0 })
			if err := s.Append(testSeg(r, n, 20000)); err != nil {
				t.Fatalf("append after drain: %v", err)
			}
			waitFor(t, "all delivered", 5*time.Second, func() bool { return len(c.received()) == n+1 })
			waitFor(t, "compaction", 5*time.Second, func() bool {
				logs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.log"))
				return len(logs) <= 2
			})
		})
	}
}

func TestRecoverTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{"partial header", func(t *testing.T, p string, _ int64) { appendBytes(t, p, []byte{0x10, 0, 0}) }},
		{"partial payload", func(t *testing.T, p string, _ int64) {
			rec, _ := encodeRecord(testSeg(replayID(9), 99, 500))
			sealRecord(rec, 11)
			appendBytes(t, p, rec[:len(rec)/2])
		}},
		{"bad checksum", func(t *testing.T, p string, _ int64) {
			rec, _ := encodeRecord(testSeg(replayID(9), 99, 500))
			sealRecord(rec, 11)
			rec[len(rec)-3] ^= 0xff
			appendBytes(t, p, rec)
		}},
		{"wrong lsn", func(t *testing.T, p string, _ int64) {
			rec, _ := encodeRecord(testSeg(replayID(9), 99, 500))
			sealRecord(rec, 5000)
			appendBytes(t, p, rec)
		}},
		{"zero fill", func(t *testing.T, p string, _ int64) { appendBytes(t, p, make([]byte, 4096)) }},
		{"huge length", func(t *testing.T, p string, _ int64) { appendBytes(t, p, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := replayID(6)
			s := openT(t, testConfig(), dir)
			appendN(t, s, r, 0, 10, 500)
			s.Close()
			logs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.log"))
			path := logs[len(logs)-1]
			st, _ := os.Stat(path)
			tt.damage(t, path, st.Size())

			c := newCollector("c")
			s = openT(t, testConfig(), dir, c)
			defer s.Close()
			if st2, _ := os.Stat(path); st2.Size() != st.Size() {
				t.Fatalf("torn tail not truncated: %d bytes, want %d", st2.Size(), st.Size())
			}
			appendN(t, s, r, 10, 1, 500)
			stop := runT(t, s)
			defer stop()
			waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) == 11 })
			if got := c.received(); !slices.Equal(got, keysOf(r, 0, 11)) {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverHalfCreatedFileAndBadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	r := replayID(7)
	s := openT(t, testConfig(), dir, newCollector("c"))
	appendN(t, s, r, 0, 5, 300)
	s.Close()
	// A file created by a roll that never got its header synced, and a
	// checkpoint that is garbage.
	os.WriteFile(filepath.Join(dir, "spool", logName(6)), []byte("RGSP"), 0o600)
	os.WriteFile(filepath.Join(dir, "spool", cursorFile), []byte("{not json"), 0o600)
	c := newCollector("c")
	s = openT(t, testConfig(), dir, c)
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, "spool", logName(6))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-created file kept: %v", err)
	}
	appendN(t, s, r, 5, 1, 300)
	stop := runT(t, s)
	defer stop()
	waitFor(t, "redelivery", 5*time.Second, func() bool { return len(c.received()) == 6 })
	if got := c.received(); !slices.Equal(got, keysOf(r, 0, 6)) {
		t.Fatalf("got %v", got)
	}
}

func TestNewForwarderGetsPendingOnly(t *testing.T) {
	dir := t.TempDir()
	r := replayID(8)
	a := newCollector("a")
	s := openT(t, testConfig(), dir, a)
	stop := runT(t, s)
	appendN(t, s, r, 0, 5, 300)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(a.received()) == 5 })
	stop()
	s.Close()

	a2, b := newCollector("a"), newCollector("b")
	s = openT(t, testConfig(), dir, a2, b)
	defer s.Close()
	stop = runT(t, s)
	defer stop()
	appendN(t, s, r, 5, 2, 300)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(b.received()) == 2 && len(a2.received()) == 2 })
	if got := b.received(); !slices.Equal(got, keysOf(r, 5, 2)) {
		t.Fatalf("new forwarder got %v", got)
	}
}

func TestClosedSpool(t *testing.T) {
	s := openT(t, testConfig(), t.TempDir(), newCollector("c"))
	stop := runT(t, s) // Close must stop a running Run
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := s.Append(testSeg(replayID(1), 0, 10)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCorruptSealedFileIsSkipped(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.FileBytes = 64 << 10
	r := replayID(9)
	s := openT(t, cfg, dir, newCollector("c"))
	appendN(t, s, r, 0, 30, 5000) // about 2.3 files
	s.Close()
	logs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.log"))
	if len(logs) < 3 {
		t.Fatalf("want ≥ 3 files, have %d", len(logs))
	}
	// Flip a byte inside the third record of the first (sealed) file.
	f, _ := os.OpenFile(logs[0], os.O_RDWR, 0)
	off := int64(fileHeaderSize + 2*(recHeaderSize+5000) + 500)
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x55
	f.WriteAt(b, off)
	f.Close()

	c := newCollector("c")
	s = openT(t, cfg, dir, c)
	defer s.Close()
	stop := runT(t, s)
	defer stop()
	waitFor(t, "drain", 5*time.Second, func() bool { d, _ := s.Depth(); return d == 0 })
	want := slices.Delete(keysOf(r, 0, 30), 2, 3) // only the damaged record is lost
	if got := c.received(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v", got)
	}
	if v := testutil.ToFloat64(s.m.corrupt); v != 1 {
		t.Fatalf("corrupt metric = %v", v)
	}
}

func TestCloseDuringConcurrentAppends(t *testing.T) {
	s := openT(t, testConfig(), t.TempDir(), newCollector("c"))
	stop := runT(t, s)
	defer stop()
	var ok, closed atomic.Int64
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				err := s.Append(testSeg(replayID(w), i, 1000))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrClosed):
					closed.Add(1)
					return
				default:
					t.Errorf("Append: %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("an Append hung across Close")
		}
	}
	if ok.Load() == 0 || closed.Load() != 8 {
		t.Fatalf("ok=%d closed=%d", ok.Load(), closed.Load())
	}
}

// encodeRecordOld writes seg in an older record format: version 1 has no
// gzip field, version 2 no summary, version 3 the current layout (its gzip
// field held the upload's own bytes).
func encodeRecordOld(seg Segment, lsn uint64, version int) []byte {
	if version == 3 {
		rec, _ := encodeRecord(seg)
		sealRecord(rec, lsn)
		return rec
	}
	rec, _ := encodeRecord(Segment{ReplayID: seg.ReplayID, Seq: seg.Seq, Subject: seg.Subject, ReceivedAt: seg.ReceivedAt, Gzip: seg.Gzip})
	// Drop the empty summary length (and for version 1 the gzip length),
	// append the events.
	cut := 4
	if version == 1 {
		cut = 8
	}
	rec = append(rec[:len(rec)-cut], seg.Events...)
	binary.LittleEndian.PutUint32(rec, uint32(len(rec)-recHeaderSize))
	sealRecord(rec, lsn)
	return rec
}

// TestReadsOlderFormats: a spool written by an older version (records
// without the gzip field, without the summary, or with the upload's own
// gzip) is delivered in full after an upgrade, from the records' events:
// an older record's gzip field (the upload's own bytes, untrusted) is
// never surfaced as Segment.Gzip. New records go to a new file in the
// current format, whose gzip field (ingest's own) is surfaced.
func TestReadsOlderFormats(t *testing.T) {
	for _, tc := range []struct {
		magic   string
		version int
	}{{fileMagicV1, 1}, {fileMagicV2, 2}, {fileMagicV3, 3}} {
		t.Run(tc.magic, func(t *testing.T) {
			dir := t.TempDir()
			spoolDir := filepath.Join(dir, "spool")
			if err := os.MkdirAll(spoolDir, 0o700); err != nil {
				t.Fatal(err)
			}
			r := replayID(1)
			data := append([]byte(tc.magic), make([]byte, 8)...)
			binary.LittleEndian.PutUint64(data[8:], 1)
			for i := range 3 {
				old := testSeg(r, i, 300)
				if tc.version >= 2 && i == 2 {
					old.Gzip = gzipOf(t, []byte(`["upload's own bytes"]`))
				}
				if tc.version == 3 && i == 2 {
					old.Summary = &Summary{Events: 1, Info: [][]byte{}}
				}
				data = append(data, encodeRecordOld(old, uint64(i+1), tc.version)...)
			}
			if err := os.WriteFile(filepath.Join(spoolDir, logName(1)), data, 0o600); err != nil {
				t.Fatal(err)
			}
			c := newCollector("c")
			s := openT(t, testConfig(), dir, c)
			defer s.Close()
			want := testSeg(r, 3, 300)
			seg := Segment{ReplayID: r, Seq: 3, Subject: want.Subject, ReceivedAt: want.ReceivedAt,
				Gzip: gzipOf(t, want.Events), Summary: &Summary{Events: 1, Info: [][]byte{}}}
			if err := s.Append(seg); err != nil {
				t.Fatal(err)
			}
			stop := runT(t, s)
			defer stop()
			waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) >= 4 })
			if got := c.received(); !slices.Equal(got, keysOf(r, 0, 4)) {
				t.Fatalf("got %v", got)
			}
			c.mu.Lock()
			old, oldGz, cur := c.segs[r+"/1"], c.segs[r+"/2"], c.segs[r+"/3"]
			c.mu.Unlock()
			if want := testSeg(r, 1, 300); string(old.Events) != string(want.Events) || old.Gzip != nil || old.Summary != nil {
				t.Fatalf("old record read as events %q gzip %q summary %v", old.Events, old.Gzip, old.Summary)
			}
			if oldGz.Gzip != nil || string(oldGz.Events) != string(testSeg(r, 2, 300).Events) {
				t.Fatalf("version %d record read as gzip %q events %q", tc.version, oldGz.Gzip, oldGz.Events)
			}
			if js, err := oldGz.EventsJSON(nil); err != nil || string(js) != string(testSeg(r, 2, 300).Events) {
				t.Fatalf("version %d record's EventsJSON = %q, %v; want its events", tc.version, js, err)
			}
			if !bytes.Equal(cur.Gzip, seg.Gzip) || cur.Events != nil || cur.Summary == nil || cur.Summary.Events != 1 {
				t.Fatalf("new record lost its gzip or summary: %q events %q %v", cur.Gzip, cur.Events, cur.Summary)
			}
			if js, err := cur.EventsJSON(nil); err != nil || string(js) != string(want.Events) {
				t.Fatalf("new record's EventsJSON = %q, %v", js, err)
			}
			logs, _ := filepath.Glob(filepath.Join(spoolDir, "*.log"))
			if len(logs) != 2 {
				t.Fatalf("want the old file and a new one, got %v", logs)
			}
			if h, _ := os.ReadFile(logs[1]); !bytes.HasPrefix(h, []byte("RGSPOOL4")) {
				t.Fatalf("new file starts %q, want RGSPOOL4", h[:min(8, len(h))])
			}
		})
	}
}

// TestV3GzipFieldIgnored: the gzip field of a version 3 record (an
// upload's own compressed bytes, which can carry data past the scrubber)
// is dropped when decoded, whatever it holds; the same bytes in a
// version 4 record are ingest's own compression and are kept.
func TestV3GzipFieldIgnored(t *testing.T) {
	events := []byte(`[{"type":4,"data":{"href":"https://shop.example/"},"timestamp":1}]`)
	own := gzipOf(t, []byte(`["4111 1111 1111 1111"]`))
	rec, err := encodeRecord(Segment{ReplayID: replayID(1), Seq: 1, Subject: "s", Gzip: own, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	sealRecord(rec, 5)
	for _, tc := range []struct {
		version  int
		wantGzip bool
	}{{3, false}, {4, true}} {
		_, sum, _ := parseRecordHeader(rec)
		_, got, err := decodePayload(rec[recHeaderSize:], sum, tc.version)
		if err != nil {
			t.Fatalf("version %d: %v", tc.version, err)
		}
		if (got.Gzip != nil) != tc.wantGzip || string(got.Events) != string(events) {
			t.Errorf("version %d: gzip %q events %q; want gzip kept %v and the events", tc.version, got.Gzip, got.Events, tc.wantGzip)
		}
	}
}

// TestEventsJSON: EventsJSON returns Events as they are, or decompresses
// Gzip; a Gzip that is not exactly one valid member is an error.
func TestEventsJSON(t *testing.T) {
	events := []byte(`[{"type":2,"data":{},"timestamp":1}]`)
	member := gzipOf(t, events)
	corrupt := bytes.Clone(member)
	corrupt[len(corrupt)-9] ^= 0xff // in the deflate data, or the CRC
	badCRC := bytes.Clone(member)
	badCRC[len(badCRC)-8] ^= 1
	tests := []struct {
		name    string
		seg     Segment
		want    string
		wantErr bool
	}{
		{"events", Segment{Events: events}, string(events), false},
		{"gzip", Segment{Gzip: member}, string(events), false},
		{"neither", Segment{}, "", false},
		{"not gzip", Segment{Gzip: []byte("[1,2,3]")}, "", true},
		{"truncated", Segment{Gzip: member[:len(member)-5]}, "", true},
		{"corrupt", Segment{Gzip: corrupt}, "", true},
		{"bad crc", Segment{Gzip: badCRC}, "", true},
		{"two members", Segment{Gzip: append(bytes.Clone(member), member...)}, "", true},
		{"trailing bytes", Segment{Gzip: append(bytes.Clone(member), 0)}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.seg.EventsJSON([]byte("prefix"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if tt.seg.Gzip != nil {
				if string(got) != "prefix"+tt.want {
					t.Fatalf("got %q, want it appended to dst", got)
				}
			} else if tt.seg.Events != nil && string(got) != tt.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestEventsJSONBounded: a member that decompresses beyond the limit is
// refused without producing much more than the limit.
func TestEventsJSONBounded(t *testing.T) {
	big := gzipOf(t, bytes.Repeat([]byte{'['}, 1<<20))
	got, err := gunzipMember(nil, big, 1000)
	if err == nil || len(got) > 1001 {
		t.Fatalf("%d bytes, err %v; want an error after at most 1001", len(got), err)
	}
	if got, err := gunzipMember(nil, big, 1<<20); err != nil || len(got) != 1<<20 {
		t.Fatalf("at the limit: %d bytes, %v", len(got), err)
	}
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEmptyOlderFormatFileReplaced: an upgrade that finds the newest log
// file in the older format and empty replaces it by an empty file in the
// current format, instead of rolling to a second file of the same name
// (which a checkpoint would then delete as delivered, live appends and all).
func TestEmptyOlderFormatFileReplaced(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	hdr := append([]byte(fileMagicV1), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(hdr[8:], 1)
	if err := os.WriteFile(filepath.Join(spoolDir, logName(1)), hdr, 0o600); err != nil {
		t.Fatal(err)
	}
	r := replayID(1)
	c := newCollector("c")
	cfg := testConfig()
	cfg.CheckpointInterval = time.Millisecond
	s := openT(t, cfg, dir, c)
	appendN(t, s, r, 0, 2, 100)
	stop := runT(t, s)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) >= 2 })
	c.setFail(func(Segment) error { return errors.New("destination down") })
	appendN(t, s, r, 2, 3, 100)       // acknowledged, not yet delivered
	time.Sleep(20 * time.Millisecond) // checkpoints and compaction run
	stop()
	s.Close()

	c2 := newCollector("c")
	s = openT(t, cfg, dir, c2)
	defer s.Close()
	stop = runT(t, s)
	defer stop()
	waitFor(t, "redelivery", 5*time.Second, func() bool { return len(c2.received()) >= 3 })
	if got := c2.received(); !slices.Equal(got, keysOf(r, 2, 3)) {
		t.Fatalf("after restart got %v, want the 3 undelivered segments", got)
	}
}
