package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
)

const (
	idA = "0123456789abcdef0123456789abcdef"
	idB = "fedcba9876543210fedcba9876543210"
	idC = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: t0} }

func openTest(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	return openCfg(t, DefaultConfig(), dir, opts...)
}

func openCfg(t testing.TB, cfg Config, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(cfg, dir, zerolog.Nop(), prometheus.NewRegistry(), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/segment.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events builds a segment of n simple events whose timestamps encode seq.
func events(seq, n int) json.RawMessage {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":3,"data":{"source":1,"seq":%d,"i":%d},"timestamp":%d}`, seq, i, 1764336000000+int64(seq*1000+i))
	}
	b.WriteByte(']')
	return json.RawMessage(b.String())
}

func seg(id string, seq int, subject string, ev json.RawMessage, at time.Time) spool.Segment {
	return spool.Segment{ReplayID: id, Seq: seq, Subject: subject, ReceivedAt: at, Events: ev}
}

func forward(t testing.TB, s *Store, sg spool.Segment) {
	t.Helper()
	if err := s.Forward(context.Background(), sg); err != nil {
		t.Fatalf("Forward %s: %v", sg.Key(), err)
	}
}

func readEvents(t testing.TB, s *Store, id string) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteEvents(context.Background(), id, &buf); err != nil {
		t.Fatalf("WriteEvents: %v", err)
	}
	var out []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("WriteEvents wrote invalid JSON: %v\n%s", err, buf.String())
	}
	return out
}

// seqsOf returns data.seq of each event.
func seqsOf(evs []map[string]any) []int {
	var out []int
	for _, e := range evs {
		d, _ := e["data"].(map[string]any)
		f, _ := d["seq"].(float64)
		out = append(out, int(f))
	}
	return out
}

func TestName(t *testing.T) {
	if got := openTest(t, t.TempDir()).Name(); got != "local" {
		t.Fatalf("Name() = %q, want local", got)
	}
}

func TestMetaFromRealisticSegment(t *testing.T) {
	s := openTest(t, t.TempDir())
	forward(t, s, seg(idA, 0, "subj-1", fixture(t), t0))
	m, err := s.Get(context.Background(), idA)
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{
		ID:        idA,
		Subject:   "subj-1",
		StartedAt: time.UnixMilli(1764336000000).UTC(),
		EndedAt:   time.UnixMilli(1764336006000).UTC(),
		Segments:  1,
		Events:    14,
		URLs:      []string{"https://shop.example/products?q=***", "https://shop.example/account"},
		Bytes:     int64(len(storedGzip(t, s, idA, 0))),
		Browser:   "Chrome 156",
		OS:        "Linux",
		Viewport:  &Viewport{Width: 1280, Height: 720},
		Language:  "en",
		Errors:    1,
		Clicks:    2,
		UpdatedAt: t0,
	}
	gotJSON, _ := json.Marshal(m)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("meta\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if !strings.Contains(string(gotJSON), `"startedAt":"2025-11-28T13:20:00Z"`) {
		t.Fatalf("startedAt is not RFC 3339: %s", gotJSON)
	}
	// The same metadata after a restart.
	s2 := openTest(t, filepath.Dir(s.root))
	m2, err := s2.Get(context.Background(), idA)
	if err != nil {
		t.Fatal(err)
	}
	got2, _ := json.Marshal(m2)
	if !bytes.Equal(got2, wantJSON) {
		t.Fatalf("meta after reopen\n got %s\nwant %s", got2, wantJSON)
	}
	// Stored events are the input, byte for byte apart from outer whitespace.
	var buf bytes.Buffer
	if err := s2.WriteEvents(context.Background(), idA, &buf); err != nil {
		t.Fatal(err)
	}
	var in, out []json.RawMessage
	json.Unmarshal(fixture(t), &in)
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(in) != len(out) {
		t.Fatalf("got %d events, want %d", len(out), len(in))
	}
	for i := range in {
		if !bytes.Equal(in[i], out[i]) {
			t.Fatalf("event %d differs:\n%s\n%s", i, in[i], out[i])
		}
	}
}

func TestForwardIdempotent(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(DefaultConfig(), t.TempDir(), zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		forward(t, s, seg(idA, 0, "subj", events(0, 5), t0))
		forward(t, s, seg(idA, 1, "subj", events(1, 5), t0))
	}
	m, _ := s.Get(context.Background(), idA)
	if m.Segments != 2 || m.Events != 10 {
		t.Fatalf("segments=%d events=%d, want 2 and 10", m.Segments, m.Events)
	}
	if got := len(readEvents(t, s, idA)); got != 10 {
		t.Fatalf("WriteEvents returned %d events, want 10", got)
	}
	if got := testutil.ToFloat64(s.m.segments.WithLabelValues(resultDuplicate)); got != 4 {
		t.Fatalf("duplicate counter = %v, want 4", got)
	}
	// Also idempotent across a restart.
	s2 := openTest(t, filepath.Dir(s.root))
	forward(t, s2, seg(idA, 1, "subj", events(1, 5), t0))
	if m, _ := s2.Get(context.Background(), idA); m.Segments != 2 || m.Events != 10 {
		t.Fatalf("after reopen: segments=%d events=%d, want 2 and 10", m.Segments, m.Events)
	}
}

func TestOutOfOrderSegmentsMergedInOrder(t *testing.T) {
	s := openTest(t, t.TempDir())
	order := []int{3, 0, 7, 1, 2, 6, 5, 4}
	var wg sync.WaitGroup
	for _, seq := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Forward(context.Background(), seg(idA, seq, "subj", events(seq, 3), t0.Add(time.Duration(seq)*time.Second))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	want := []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7}
	if got := seqsOf(readEvents(t, s, idA)); !slices.Equal(got, want) {
		t.Fatalf("event order %v, want %v", got, want)
	}
	m, _ := s.Get(context.Background(), idA)
	if m.Segments != 8 || m.UpdatedAt != t0.Add(7*time.Second) {
		t.Fatalf("meta %+v", m)
	}
	if m.StartedAt != time.UnixMilli(1764336000000).UTC() || m.EndedAt != time.UnixMilli(1764336007002).UTC() {
		t.Fatalf("startedAt %v endedAt %v", m.StartedAt, m.EndedAt)
	}
}

func TestURLsInSeqOrderAcrossSegments(t *testing.T) {
	s := openTest(t, t.TempDir())
	meta := func(href string, ts int64) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`[{"type":4,"data":{"href":%q},"timestamp":%d}]`, href, ts))
	}
	forward(t, s, seg(idA, 2, "subj", meta("https://x/c", 3), t0))
	forward(t, s, seg(idA, 0, "subj", meta("https://x/a", 1), t0))
	forward(t, s, seg(idA, 1, "subj", meta("https://x/b", 2), t0))
	forward(t, s, seg(idA, 3, "subj", meta("https://x/a", 4), t0))
	m, _ := s.Get(context.Background(), idA)
	if want := []string{"https://x/a", "https://x/b", "https://x/c"}; !slices.Equal(m.URLs, want) {
		t.Fatalf("urls %v, want %v", m.URLs, want)
	}
}

func TestEmptySegments(t *testing.T) {
	s := openTest(t, t.TempDir())
	forward(t, s, seg(idA, 0, "subj", json.RawMessage(" [ ] \n"), t0))
	forward(t, s, seg(idA, 1, "subj", events(1, 2), t0))
	forward(t, s, seg(idA, 2, "subj", json.RawMessage("[]"), t0))
	if got := seqsOf(readEvents(t, s, idA)); !slices.Equal(got, []int{1, 1}) {
		t.Fatalf("events %v", got)
	}
	s2 := openTest(t, t.TempDir())
	forward(t, s2, seg(idB, 0, "subj", json.RawMessage("[]"), t0))
	var buf bytes.Buffer
	if err := s2.WriteEvents(context.Background(), idB, &buf); err != nil || buf.String() != "[]" {
		t.Fatalf("WriteEvents = %q, %v; want []", buf.String(), err)
	}
	m, _ := s2.Get(context.Background(), idB)
	if b, _ := json.Marshal(m); strings.Contains(string(b), "startedAt") || !strings.Contains(string(b), `"urls":[]`) {
		t.Fatalf("meta of an empty replay: %s", b)
	}
}

func TestInvalidSegmentsDropped(t *testing.T) {
	s := openTest(t, t.TempDir())
	// The gzip members' cheap checks are made with a valid summary, so
	// the member is not decompressed to summarize it.
	sum1 := scrubberSummary(t, events(0, 1))
	cases := []struct {
		name string
		seg  spool.Segment
	}{
		{"traversal id", seg("../../../../etc/passwd", 0, "subj", events(0, 1), t0)},
		{"upper-case id", seg(strings.ToUpper(idA), 0, "subj", events(0, 1), t0)},
		{"short id", seg(idA[:31], 0, "subj", events(0, 1), t0)},
		{"negative seq", seg(idA, -1, "subj", events(0, 1), t0)},
		{"huge seq", seg(idA, maxSeq+1, "subj", events(0, 1), t0)},
		{"no subject", seg(idA, 0, "", events(0, 1), t0)},
		{"object", seg(idA, 0, "subj", json.RawMessage(`{"type":1}`), t0)},
		{"broken json", seg(idA, 0, "subj", json.RawMessage(`[{"type":1}`), t0)},
		{"trailing data", seg(idA, 0, "subj", json.RawMessage(`[] []`), t0)},
		{"empty", seg(idA, 0, "subj", nil, t0)},
		{"gzip not gzip", gzSeg(idA, 0, []byte(`[{"type":1,"timestamp":1,"data":{}}]`), sum1)},
		{"gzip too short", gzSeg(idA, 0, gzipOf(t, events(0, 1))[:minGzipMember-1], sum1)},
		{"gzip header flags", gzSeg(idA, 0, withByte(gzipOf(t, events(0, 1)), 3, 0x08), sum1)},
		{"gzip not deflate", gzSeg(idA, 0, withByte(gzipOf(t, events(0, 1)), 2, 7), sum1)},
		{"gzip ISIZE 0", gzSeg(idA, 0, withISIZE(gzipOf(t, events(0, 1)), 0), sum1)},
		{"gzip ISIZE too large", gzSeg(idA, 0, withISIZE(gzipOf(t, events(0, 1)), spool.MaxSegmentBytes+1), sum1)},
		{"gzip ISIZE beyond deflate's ratio", gzSeg(idA, 0, withISIZE(gzipOf(t, events(0, 1)), (len(gzipOf(t, events(0, 1)))+1)*maxDeflateRatio), sum1)},
		{"gzip truncated, no summary", gzSeg(idA, 0, cut(gzipOf(t, events(0, 40)), 100), nil)},
		{"gzip of an object, no summary", gzSeg(idA, 0, gzipOf(t, []byte(`{"type":1}`)), nil)},
		{"gzip of broken json, no summary", gzSeg(idA, 0, gzipOf(t, []byte(`[{"type":1}`)), nil)},
		{"two gzip members, no summary", gzSeg(idA, 0, append(gzipOf(t, events(0, 1)), gzipOf(t, events(1, 1))...), nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Forward(context.Background(), tc.seg); err != nil {
				t.Fatalf("Forward returned %v; invalid segments are dropped, not retried", err)
			}
		})
	}
	if l, _ := s.List(context.Background()); len(l) != 0 {
		t.Fatalf("List = %v, want nothing stored", l)
	}
	entries, _ := os.ReadDir(s.root)
	for _, e := range entries {
		if e.Name() != trashDir && e.Name() != tombDir {
			t.Fatalf("unexpected entry %q in %s", e.Name(), s.root)
		}
	}
	if got := testutil.ToFloat64(s.m.segments.WithLabelValues(resultInvalid)); got != float64(len(cases)) {
		t.Fatalf("invalid counter = %v, want %d", got, len(cases))
	}
}

func TestSubjectMismatchDropped(t *testing.T) {
	s := openTest(t, t.TempDir())
	forward(t, s, seg(idA, 0, "alice", events(0, 2), t0))
	forward(t, s, seg(idA, 1, "mallory", events(1, 2), t0))
	m, _ := s.Get(context.Background(), idA)
	if m.Segments != 1 || m.Subject != "alice" {
		t.Fatalf("meta %+v", m)
	}
}

func TestInvalidIDsRefused(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	for _, id := range []string{"", "..", "../" + idA, idA + "/..", strings.ToUpper(idA), idA + "0", idA[:31] + "g", "/etc/passwd", idA[:16] + "\x00" + idA[17:]} {
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Get(%q) = %v, want ErrInvalidID", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidID", id, err)
		}
		if err := s.WriteEvents(ctx, id, &bytes.Buffer{}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("WriteEvents(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	if _, err := s.Get(ctx, idA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, idA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.WriteEvents(ctx, idA, &bytes.Buffer{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("WriteEvents(unknown) = %v, want ErrNotFound", err)
	}
}

func TestListNewestFirst(t *testing.T) {
	s := openTest(t, t.TempDir())
	forward(t, s, seg(idA, 0, "a", events(5, 1), t0))
	forward(t, s, seg(idB, 0, "b", events(9, 1), t0))
	forward(t, s, seg(idC, 0, "c", events(1, 1), t0))
	l, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range l {
		ids = append(ids, m.ID)
	}
	if want := []string{idB, idA, idC}; !slices.Equal(ids, want) {
		t.Fatalf("List order %v, want %v", ids, want)
	}
}

func TestDeleteAndLateSegment(t *testing.T) {
	clk := newClock()
	s := openTest(t, t.TempDir(), WithClock(clk.now))
	ctx := context.Background()
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	clk.add(time.Minute)
	if err := s.Delete(ctx, idA); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir(idA)); !os.IsNotExist(err) {
		t.Fatalf("replay directory still there: %v", err)
	}
	if err := s.Delete(ctx, idA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// A segment accepted before the deletion, delivered late, stays deleted,
	// also after a restart.
	forward(t, s, seg(idA, 1, "subj", events(1, 2), t0.Add(30*time.Second)))
	s2 := openTest(t, filepath.Dir(s.root), WithClock(clk.now))
	forward(t, s2, seg(idA, 2, "subj", events(2, 2), t0.Add(59*time.Second)))
	for _, st := range []*Store{s, s2} {
		if _, err := st.Get(ctx, idA); !errors.Is(err, ErrNotFound) {
			t.Fatalf("late segment brought the replay back: %v", err)
		}
	}
	// A segment accepted after the deletion starts afresh.
	forward(t, s2, seg(idA, 3, "subj", events(3, 2), t0.Add(2*time.Minute)))
	if m, err := s2.Get(ctx, idA); err != nil || m.Segments != 1 {
		t.Fatalf("Get = %+v, %v", m, err)
	}
}

func TestEraseSubject(t *testing.T) {
	clk := newClock()
	s := openTest(t, t.TempDir(), WithClock(clk.now))
	ctx := context.Background()
	forward(t, s, seg(idA, 0, "alice", events(0, 2), t0))
	forward(t, s, seg(idA, 1, "alice", events(1, 2), t0))
	forward(t, s, seg(idB, 0, "alice", events(0, 2), t0))
	forward(t, s, seg(idC, 0, "bob", events(0, 2), t0))
	clk.add(time.Minute)

	n, err := s.EraseSubjectCount(ctx, "alice")
	if err != nil || n != 2 {
		t.Fatalf("EraseSubjectCount = %d, %v; want 2", n, err)
	}
	l, _ := s.List(ctx)
	if len(l) != 1 || l[0].ID != idC {
		t.Fatalf("List after erasure = %+v, want only bob's replay", l)
	}
	for _, id := range []string{idA, idB} {
		if _, err := os.Stat(s.dir(id)); !os.IsNotExist(err) {
			t.Fatalf("%s still on disk", id)
		}
	}
	// Spooled segments of alice accepted before the erasure stay out, even
	// for a replay id never seen before.
	const idD = "dddddddddddddddddddddddddddddddd"
	forward(t, s, seg(idD, 0, "alice", events(0, 2), t0.Add(10*time.Second)))
	if _, err := s.Get(ctx, idD); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased subject's late segment stored: %v", err)
	}
	if n, err := s.EraseSubjectCount(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("second erasure = %d, %v; want 0", n, err)
	}
	// The consent package's shape.
	var eraser interface {
		EraseSubject(context.Context, string) error
	} = s
	if err := eraser.EraseSubject(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(ctx); len(l) != 0 {
		t.Fatalf("List after erasing bob = %+v", l)
	}
	if _, err := s.EraseSubjectCount(ctx, ""); !errors.Is(err, ErrInvalidSubject) {
		t.Fatalf("empty subject: %v", err)
	}
	// The index is rebuilt at Open.
	forward(t, s, seg(idA, 0, "carol", events(0, 1), t0.Add(2*time.Minute)))
	s2 := openTest(t, filepath.Dir(s.root), WithClock(clk.now))
	if n, err := s2.EraseSubjectCount(ctx, "carol"); err != nil || n != 1 {
		t.Fatalf("erase after reopen = %d, %v; want 1", n, err)
	}
}

func TestEraseRacesWithForward(t *testing.T) {
	// Whatever the interleaving, after EraseSubject returns nothing of the
	// subject accepted before it is stored.
	for round := 0; round < 20; round++ {
		clk := newClock()
		s := openTest(t, t.TempDir(), WithClock(clk.now))
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("%032x", i+1)
				for seq := 0; seq < 3; seq++ {
					if err := s.Forward(context.Background(), seg(id, seq, "alice", events(seq, 1), t0.Add(-time.Second))); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		if _, err := s.EraseSubjectCount(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if l, _ := s.List(context.Background()); len(l) != 0 {
			t.Fatalf("round %d: %d replays survived the erasure", round, len(l))
		}
		entries, _ := os.ReadDir(s.root)
		if len(entries) != 2 {
			t.Fatalf("round %d: left on disk: %v", round, entries)
		}
	}
}

func TestCrashLeftoversAtOpen(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	for seq := 0; seq < 3; seq++ {
		forward(t, s, seg(idA, seq, "subj", events(seq, 2), t0))
	}
	forward(t, s, seg(idB, 0, "subj", events(0, 2), t0))
	root := s.root
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Replay A: segments.jsonl lists seq 2, but its record never reached
	// the disk (never acknowledged: the flush did not happen), and a torn
	// record and a torn replay.json write follow.
	logA := filepath.Join(root, idA, logName)
	recs := logRecords(t, logA)
	if err := os.Truncate(logA, recs[2].off); err != nil {
		t.Fatal(err)
	}
	torn := appendRecord(nil, 3, t0, gzipOf(t, events(3, 2)))
	appendBytes(t, logA, torn[:len(torn)-5])
	write(filepath.Join(root, idA, tempPrefix+"456"), `{"version":1,"id":`)
	// Replay B: crash after the flush, before the cache line reached the
	// disk: the log holds seq 1, segments.jsonl does not list it.
	appendBytes(t, filepath.Join(root, idB, logName), appendRecord(nil, 1, t0, gzipOf(t, events(1, 2))))
	// Replay C: the first write crashed before replay.json existed.
	os.Mkdir(filepath.Join(root, idC), 0o700)
	write(filepath.Join(root, idC, logName), string(appendRecord(nil, 0, t0, gzipOf(t, events(0, 1)))))
	write(filepath.Join(root, idC, tempPrefix+"789"), "torn")
	// A half-deleted replay in the trash, torn files at the top and among tombstones.
	os.MkdirAll(filepath.Join(root, trashDir, idC+"-x"), 0o700)
	write(filepath.Join(root, tempPrefix+"1"), "x")
	write(filepath.Join(root, tombDir, tempPrefix+"2"), "x")

	s2 := openTest(t, dataDir)
	ctx := context.Background()
	mA, err := s2.Get(ctx, idA)
	if err != nil || mA.Segments != 2 {
		t.Fatalf("replay A = %+v, %v; want 2 segments", mA, err)
	}
	if got := seqsOf(readEvents(t, s2, idA)); !slices.Equal(got, []int{0, 0, 1, 1}) {
		t.Fatalf("replay A events %v", got)
	}
	if fi, err := os.Stat(logA); err != nil || fi.Size() != recs[2].off {
		t.Fatalf("torn record of A not cut off: %v, %v", fi, err)
	}
	if cuts, _ := filepath.Glob(logA + ".cut-*"); len(cuts) != 0 {
		t.Fatalf("a torn record was kept: %v", cuts)
	}
	mB, err := s2.Get(ctx, idB)
	if err != nil || mB.Segments != 2 || mB.Events != 4 {
		t.Fatalf("replay B = %+v, %v; want the record the cache lacks adopted", mB, err)
	}
	if _, err := s2.Get(ctx, idC); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay C without metadata: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, idC)); !os.IsNotExist(err) {
		t.Fatal("replay C directory kept")
	}
	for _, dir := range []string{root, filepath.Join(root, idA), filepath.Join(root, tombDir), filepath.Join(root, trashDir)} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tempPrefix) || dir == filepath.Join(root, trashDir) {
				t.Errorf("leftover %s/%s", dir, e.Name())
			}
		}
	}
	// The reconciled metadata was persisted: a third Open changes nothing.
	data1, _ := os.ReadFile(filepath.Join(root, idB, indexName))
	openTest(t, dataDir)
	data2, _ := os.ReadFile(filepath.Join(root, idB, indexName))
	if !bytes.Equal(data1, data2) || !strings.Contains(string(data1), `"seq":1`) {
		t.Fatalf("segments.jsonl of B not reconciled: %s", data1)
	}
	// A redelivered seq 2 of A is stored again, right after the valid
	// records.
	forward(t, s2, seg(idA, 2, "subj", events(2, 2), t0))
	if m, _ := s2.Get(ctx, idA); m.Segments != 3 {
		t.Fatalf("redelivered segment not stored: %+v", m)
	}
	if got := logRecords(t, logA); len(got) != 3 || got[2].seq != 2 || got[2].off != recs[2].off {
		t.Fatalf("log of A after the redelivery: %+v", got)
	}
	if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 1, 1, 2, 2}) {
		t.Fatalf("replay A events after reopen %v", got)
	}
}

// TestDamagedRecordSkipped: a record damaged inside the log (not at its
// end) is skipped, not taken for the end: the records after it are kept,
// and the damaged segment, delivered again, is appended.
func TestDamagedRecordSkipped(t *testing.T) {
	dataDir, logA, recs, data := storedLog(t, 4)
	data[recs[1].off+logHeader+3] ^= 0x40
	if err := os.WriteFile(logA, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dataDir)
	if got := seqsOf(readEvents(t, s2, idA)); !slices.Equal(got, []int{0, 0, 2, 2, 3, 3}) {
		t.Fatalf("events %v, want seq 1 missing and the rest kept", got)
	}
	forward(t, s2, seg(idA, 1, "subj", events(1, 2), t0))
	if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 1, 1, 2, 2, 3, 3}) {
		t.Fatalf("after redelivery and reopen: %v", got)
	}
}

// TestOneLogPerReplay: a replay's directory holds its identity, the
// summary cache and one segment log, however many segments it has.
func TestOneLogPerReplay(t *testing.T) {
	s := openTest(t, t.TempDir())
	for seq := 0; seq < 20; seq++ {
		forward(t, s, seg(idA, (seq*7)%20, "subj", events(seq, 1), t0)) // out of order
	}
	entries, err := os.ReadDir(s.dir(idA))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{identityName, indexName, logName}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	if got := len(logRecords(t, filepath.Join(s.dir(idA), logName))); got != 20 {
		t.Fatalf("%d records", got)
	}
}

// TestSegmentFilesMovedIntoLog: a replay stored in the layout before the
// segment log (one gzip file per segment, summary lines without offsets)
// is moved into a log at Open, also when a crash interrupted an earlier
// move (the log already holds some of the files' segments).
func TestSegmentFilesMovedIntoLog(t *testing.T) {
	for _, partly := range []bool{false, true} {
		t.Run(fmt.Sprintf("partly moved=%v", partly), func(t *testing.T) {
			dataDir, dir := oldReplayDir(t)
			var index []byte
			for seq := 0; seq < 3; seq++ {
				gz := gzipOf(t, events(seq, 2))
				os.WriteFile(filepath.Join(dir, segName(seq)), gz, 0o600)
				index = append(index, fmt.Sprintf(`{"seq":%d,"bytes":%d,"events":2,"receivedAt":"2026-11-28T12:00:00Z"}`+"\n", seq, len(gz))...)
				if partly && seq == 0 {
					os.WriteFile(filepath.Join(dir, logName), appendRecord(nil, 0, t0, gz), 0o600)
				}
			}
			os.WriteFile(filepath.Join(dir, indexName), index, 0o600)

			s := openTest(t, dataDir)
			if got := seqsOf(readEvents(t, s, idA)); !slices.Equal(got, []int{0, 0, 1, 1, 2, 2}) {
				t.Fatalf("events %v", got)
			}
			if m, _ := s.Get(context.Background(), idA); m.Segments != 3 || m.Events != 6 || !m.UpdatedAt.Equal(t0) {
				t.Fatalf("meta %+v (want the receive time of the old summaries, %v)", m, t0)
			}
			for seq := 0; seq < 3; seq++ {
				if _, err := os.Stat(filepath.Join(dir, segName(seq))); !os.IsNotExist(err) {
					t.Errorf("segment file %d kept", seq)
				}
			}
			if got := logRecords(t, filepath.Join(dir, logName)); len(got) != 3 {
				t.Fatalf("%d records in the log, want 3", len(got))
			}
			forward(t, s, seg(idA, 3, "subj", events(3, 2), t0))
			if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 1, 1, 2, 2, 3, 3}) {
				t.Fatalf("after a new segment and reopen: %v", got)
			}
		})
	}
}

// TestUnreadSegmentFileKept: a segment file of the layout before the log
// that cannot be read (here: larger than a record may be) stays where it
// is; only files proven not to hold a segment are removed.
func TestUnreadSegmentFileKept(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	big := filepath.Join(s.dir(idA), segName(1))
	unreadable(t, big)
	s2 := openTest(t, dataDir)
	if _, err := os.Stat(big); err != nil {
		t.Fatalf("unread segment file removed: %v", err)
	}
	if got := seqsOf(readEvents(t, s2, idA)); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("events %v", got)
	}
}

// TestRecordHiddenInTornRecordIgnored: a crash tears a record whose bytes
// (the visitor's own gzip, kept as is) carry something that looks like a
// record of seq 0; Open must neither take it for seq 0 nor lose the real
// one.
func TestRecordHiddenInTornRecordIgnored(t *testing.T) {
	for _, inner := range [][]byte{[]byte("not a gzip member at all"), nil} {
		dataDir := t.TempDir()
		s := openTest(t, dataDir)
		forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
		forward(t, s, seg(idA, 1, "subj", events(1, 2), t0))
		if inner == nil {
			inner = gzipOf(t, events(77, 3))
		}
		forged := appendRecord(nil, 0, t0, inner)
		payload := append(append([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), forged...), make([]byte, 200)...)
		rec := appendRecord(nil, 2, t0, payload)
		appendBytes(t, filepath.Join(s.dir(idA), logName), rec[:len(rec)-100]) // torn by the crash
		if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 1, 1}) {
			t.Fatalf("events %v, want seq 0 and 1 as stored", got)
		}
	}
}

// TestInterruptedErasureFinishedAtOpen: a crash between writing an
// erasure's tombstone and removing the replays leaves them on disk; Open
// removes them. A replay recorded after the erasure stays.
func TestInterruptedErasureFinishedAtOpen(t *testing.T) {
	dataDir := t.TempDir()
	clk := newClock()
	s := openTest(t, dataDir, WithClock(clk.now))
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	forward(t, s, seg(idC, 0, "other", events(0, 2), t0))
	clk.add(time.Minute)
	if err := s.addTomb(subjectTomb("subj")); err != nil { // and then the crash
		t.Fatal(err)
	}
	if err := s.addTomb(replayTomb(idC)); err != nil {
		t.Fatal(err)
	}
	forward(t, s, seg(idB, 0, "subj", events(0, 2), t0.Add(2*time.Minute))) // consent given again
	s2 := openTest(t, dataDir, WithClock(clk.now))
	for _, id := range []string{idA, idC} {
		if _, err := s2.Get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still stored: %v", id, err)
		}
		if _, err := os.Stat(s2.dir(id)); !os.IsNotExist(err) {
			t.Errorf("%s still on disk", id)
		}
	}
	if _, err := s2.Get(context.Background(), idB); err != nil {
		t.Fatalf("replay recorded after the erasure: %v", err)
	}
}

// TestFailedWritesRetried: what a failed record write leaves at the end of
// the log is overwritten by the next record; a failed first write of a
// replay leaves nothing behind, and the segment is stored when delivered
// again.
func TestFailedWritesRetried(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	leftover := appendRecord(nil, 5, t0, bytes.Repeat([]byte("x"), 5000))
	appendBytes(t, filepath.Join(s.dir(idA), logName), leftover[:4000]) // the write failed here
	s.mu.Lock()
	s.replays[idA].dirtyTail = true // and so did the cut after it
	s.mu.Unlock()
	forward(t, s, seg(idA, 1, "subj", events(1, 2), t0))
	if got := logRecords(t, filepath.Join(s.dir(idA), logName)); len(got) != 2 || got[1].seq != 1 {
		t.Fatalf("records %+v", got)
	}
	if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 1, 1}) {
		t.Fatalf("events after reopen %v", got)
	}

	if err := os.MkdirAll(filepath.Join(s.dir(idB), logName), 0o700); err != nil { // the log cannot be opened
		t.Fatal(err)
	}
	if err := s.Forward(context.Background(), seg(idB, 0, "subj", events(0, 2), t0)); err == nil {
		t.Fatal("a failed write was acknowledged")
	}
	if _, err := os.Stat(s.dir(idB)); !os.IsNotExist(err) {
		t.Fatalf("failed first write left its directory: %v", err)
	}
	forward(t, s, seg(idB, 0, "subj", events(0, 2), t0))
	if got := seqsOf(readEvents(t, openTest(t, dataDir), idB)); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("events of B %v", got)
	}
}

// TestOnlyUnreadSegmentFileKept: a replay of the layout before the log
// whose only segment file cannot be read is neither removed nor listed;
// the file waits for the next start.
func TestOnlyUnreadSegmentFileKept(t *testing.T) {
	dataDir, dir := oldReplayDir(t)
	big := filepath.Join(dir, segName(0))
	unreadable(t, big)
	s := openTest(t, dataDir)
	if _, err := os.Stat(big); err != nil {
		t.Fatalf("unread segment file removed: %v", err)
	}
	if _, err := s.Get(context.Background(), idA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay without a readable segment listed: %v", err)
	}
}

// TestDamagedTombstoneKeepsLaterReplay: a tombstone damaged on disk keeps
// its deletion in force from the file's time, not from the next start, so
// a replay recorded again after the deletion survives.
func TestDamagedTombstoneKeepsLaterReplay(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	clk := newClock()
	s := openTest(t, dataDir, WithClock(clk.now))
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	if err := s.Delete(ctx, idA); err != nil {
		t.Fatal(err)
	}
	tomb := filepath.Join(dataDir, "replays", tombDir, replayTomb(idA))
	written := t0.Add(time.Hour) // the file's time: before the new segment
	clk.add(2 * time.Hour)
	forward(t, s, seg(idA, 1, "subj", events(1, 2), clk.now())) // admitted after the deletion
	s.Close()
	if err := os.WriteFile(tomb, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tomb, written, written)
	clk.add(time.Hour)
	if _, err := openTest(t, dataDir, WithClock(clk.now)).Get(ctx, idA); err != nil {
		t.Fatalf("replay recorded after the deletion: %v", err)
	}
}

// TestLeftoverOfFailedWriteCut: bytes a failed write left after the valid
// records (here a record whose bytes carry what looks like a record of seq
// 0) are cut off before the next record is written, so Open never reads
// on from inside them.
func TestLeftoverOfFailedWriteCut(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	var stored bytes.Buffer // as the store compresses seq 2's events
	zw, _ := gzip.NewWriterLevel(&stored, DefaultConfig().GzipLevel)
	zw.Write(events(2, 2))
	zw.Close()
	gz2 := stored.Bytes()
	forged := appendRecord(nil, 0, t0, gzipOf(t, events(77, 3)))
	payload := make([]byte, len(gz2))
	copy(payload, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
	payload = append(append(payload, forged...), make([]byte, 100)...)
	appendBytes(t, filepath.Join(s.dir(idA), logName), appendRecord(nil, 1, t0, payload))
	s.mu.Lock()
	r := s.replays[idA]
	s.mu.Unlock()
	r.mu.Lock()
	r.dirtyTail = true // as write leaves it when the flush failed and the cut too
	r.mu.Unlock()
	forward(t, s, seg(idA, 2, "subj", events(2, 2), t0))
	if got := seqsOf(readEvents(t, openTest(t, dataDir), idA)); !slices.Equal(got, []int{0, 0, 2, 2}) {
		t.Fatalf("events %v, want seq 0 and 2 as stored", got)
	}
}

// TestCutBytesKept: a damaged header inside the log ends it at Open; the
// bytes cut off, which may hold acknowledged records, are kept beside it.
func TestCutBytesKept(t *testing.T) {
	dataDir, logA, recs, data := storedLog(t, 3)
	data[recs[1].off+13] ^= 1 // seq 1's header
	os.WriteFile(logA, data, 0o600)
	s2 := openTest(t, dataDir)
	if got := seqsOf(readEvents(t, s2, idA)); !slices.Equal(got, []int{0, 0}) {
		t.Fatalf("events %v", got)
	}
	kept, err := os.ReadFile(fmt.Sprintf("%s.cut-%d", logA, recs[1].off))
	if err != nil || !bytes.Equal(kept, data[recs[1].off:]) {
		t.Fatalf("cut bytes not kept: %d bytes, %v", len(kept), err)
	}
}

// TestEraseSubjectBefore: an erasure up to a time (a withdrawal's) keeps the
// replays recorded entirely after it, and refuses later deliveries of
// segments received before it.
func TestEraseSubjectBefore(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := openTest(t, t.TempDir(), WithClock(clk.now))
	forward(t, s, seg(idA, 0, "subj", events(0, 2), t0))
	forward(t, s, seg(idB, 0, "subj", events(0, 2), t0.Add(2*time.Minute))) // consent given again
	clk.add(time.Hour)
	if err := s.EraseSubjectBefore(ctx, "subj", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, idA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replay recorded before the withdrawal: %v", err)
	}
	if _, err := s.Get(ctx, idB); err != nil {
		t.Fatalf("replay recorded after the withdrawal: %v", err)
	}
	forward(t, s, seg(idC, 0, "subj", events(0, 2), t0.Add(30*time.Second))) // from the spool
	if _, err := s.Get(ctx, idC); !errors.Is(err, ErrNotFound) {
		t.Fatalf("late segment from before the withdrawal stored: %v", err)
	}
	// A later erasure is not moved back by an earlier one.
	if err := s.EraseSubjectBefore(ctx, "subj", t0); err != nil {
		t.Fatal(err)
	}
	if got := s.tombs[subjectTomb("subj")]; !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("tombstone at %v", got)
	}
}

// storedLog stores segments 0 to n-1 of replay A (two events each) in a
// fresh store and returns its data dir, the log's path, records and bytes.
func storedLog(t *testing.T, n int) (dataDir, path string, recs []logRecord, data []byte) {
	t.Helper()
	dataDir = t.TempDir()
	s := openTest(t, dataDir)
	for seq := range n {
		forward(t, s, seg(idA, seq, "subj", events(seq, 2), t0))
	}
	path = filepath.Join(s.dir(idA), logName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dataDir, path, logRecords(t, path), data
}

// unreadable creates at path a segment file of the layout before the log
// that Open cannot read: larger than a record may be (sparse).
func unreadable(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("\x1f\x8b\x08"))
	if err := f.Truncate(maxLogRecord + 1); err != nil {
		t.Fatal(err)
	}
}

// oldReplayDir makes a data dir with replay A's directory and identity, as
// the store wrote them before the segment log, and no segments yet.
func oldReplayDir(t *testing.T) (dataDir, dir string) {
	t.Helper()
	dataDir = t.TempDir()
	dir = filepath.Join(dataDir, "replays", idA)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ident, _ := json.Marshal(replayFile{Version: replayFileVersion, ID: idA, Subject: "subj"})
	if err := os.WriteFile(filepath.Join(dir, identityName), ident, 0o600); err != nil {
		t.Fatal(err)
	}
	return dataDir, dir
}

// logRecords scans the segment log at path.
func logRecords(t *testing.T, path string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _, err := scanLog(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// storedGzip returns the gzip member stored for seq in a replay's log.
func storedGzip(t *testing.T, s *Store, id string, seq int) []byte {
	t.Helper()
	path := filepath.Join(s.dir(id), logName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range logRecords(t, path) {
		if r.seq == seq {
			return data[r.off+logHeader : r.off+logHeader+r.n]
		}
	}
	t.Fatalf("seq %d not in the log of %s", seq, id)
	return nil
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := appendFile(filepath.Dir(path), filepath.Base(path), b); err != nil {
		t.Fatal(err)
	}
}

func TestSummaryCacheRebuilt(t *testing.T) {
	cases := []struct {
		name  string
		cache string // content of segments.jsonl; "" removes it
	}{
		{"missing", ""},
		{"torn", `{"seq":0,"bytes":12`},
		{"zero length", " "},
		{"garbage lines", "x\n{}\n{\"seq\":-5}\n[]\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			s := openTest(t, dataDir)
			forward(t, s, seg(idA, 0, "subj", fixture(t), t0))
			forward(t, s, seg(idA, 1, "subj", events(1, 3), t0))
			want, _ := s.Get(context.Background(), idA)
			path := filepath.Join(s.dir(idA), indexName)
			if tc.cache == "" {
				os.Remove(path)
			} else if err := os.WriteFile(path, []byte(tc.cache), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := openTest(t, dataDir).Get(context.Background(), idA)
			if err != nil {
				t.Fatal(err)
			}
			// The receive time is kept in the log: nothing is lost with the cache.
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Fatalf("rebuilt meta\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestSummaryCacheLinesAndTornTail(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	for seq := 0; seq < 3; seq++ {
		forward(t, s, seg(idA, seq, "subj", events(seq, 2), t0))
	}
	path := filepath.Join(s.dir(idA), indexName)
	data, _ := os.ReadFile(path)
	if n := bytes.Count(data, []byte("\n")); n != 3 {
		t.Fatalf("%d cache lines, want one per segment:\n%s", n, data)
	}
	// A crash in the middle of an append leaves a torn last line.
	if err := appendFile(s.dir(idA), indexName, []byte(`{"seq":3,"by`)); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dataDir)
	if m, _ := s2.Get(context.Background(), idA); m.Segments != 3 || m.Events != 6 {
		t.Fatalf("after torn cache line: %+v", m)
	}
	fixed, _ := os.ReadFile(path)
	if !bytes.Equal(fixed, data) {
		t.Fatalf("cache not rewritten whole:\n%s\nwant\n%s", fixed, data)
	}
	// New segments append after the repaired cache.
	forward(t, s2, seg(idA, 3, "subj", events(3, 2), t0))
	if m, _ := openTest(t, dataDir).Get(context.Background(), idA); m.Segments != 4 {
		t.Fatalf("after reopen: %+v", m)
	}
}

func TestReplayWithoutIdentityRemovedAtOpen(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	forward(t, s, seg(idA, 0, "subj", events(0, 1), t0))
	forward(t, s, seg(idB, 0, "subj", events(0, 1), t0))
	if err := os.WriteFile(filepath.Join(s.dir(idA), identityName), []byte(`{"version":1,"id":"`+idA+`","subject":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(s.dir(idB), identityName))
	s2 := openTest(t, dataDir)
	for _, id := range []string{idA, idB} {
		if _, err := s2.Get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v", id, err)
		}
		if _, err := os.Stat(s.dir(id)); !os.IsNotExist(err) {
			t.Fatalf("%s kept on disk", id)
		}
	}
}

func TestCorruptSegmentFileIsRemovedAtOpen(t *testing.T) {
	dataDir := t.TempDir()
	s := openTest(t, dataDir)
	forward(t, s, seg(idA, 0, "subj", events(0, 1), t0))
	// A segment file of the layout before the log that is not gzip
	// cannot be moved into the log.
	if err := os.WriteFile(filepath.Join(s.root, idA, segName(5)), []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dataDir)
	if m, _ := s2.Get(context.Background(), idA); m.Segments != 1 {
		t.Fatalf("meta %+v", m)
	}
	if _, err := os.Stat(filepath.Join(s.root, idA, segName(5))); !os.IsNotExist(err) {
		t.Fatal("corrupt segment kept")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionJanitor(t *testing.T) {
	clk := newClock()
	cfg := DefaultConfig()
	cfg.Retention = 48 * time.Hour
	s := openCfg(t, cfg, t.TempDir(), WithClock(clk.now))
	ctx := context.Background()
	forward(t, s, seg(idA, 0, "a", events(0, 1), t0))
	forward(t, s, seg(idB, 0, "b", events(0, 1), t0.Add(24*time.Hour)))
	if err := s.Delete(ctx, idB); err != nil { // leaves a tombstone at t0
		t.Fatal(err)
	}
	forward(t, s, seg(idB, 0, "b", events(0, 1), t0.Add(25*time.Hour)))
	// A replay stays while it keeps receiving segments.
	forward(t, s, seg(idC, 0, "c", events(0, 1), t0))
	forward(t, s, seg(idC, 1, "c", events(1, 1), t0.Add(47*time.Hour)))

	cases := []struct {
		at   time.Duration
		want []string
	}{
		{47 * time.Hour, []string{idA, idB, idC}},
		{48*time.Hour + time.Second, []string{idB, idC}},
		{73*time.Hour + time.Second, []string{idC}},
		{96 * time.Hour, nil},
	}
	for _, tc := range cases {
		clk.mu.Lock()
		clk.t = t0.Add(tc.at)
		clk.mu.Unlock()
		s.sweep(ctx)
		l, _ := s.List(ctx)
		var ids []string
		for _, m := range l {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		slices.Sort(tc.want)
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("at +%s: %v, want %v", tc.at, ids, tc.want)
		}
	}
	if n, b := s.usage(); n != 0 || b != 0 {
		t.Fatalf("usage after expiry = %d replays, %d bytes", n, b)
	}
	if got := testutil.ToFloat64(s.m.deleted.WithLabelValues(reasonRetention)); got != 3 {
		t.Fatalf("retention deletions = %v, want 3", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.root, tombDir)); len(entries) != 0 {
		t.Fatalf("tombstones not expired: %v", entries)
	}
}

func TestMaxBytes(t *testing.T) {
	clk := newClock()
	cfg := DefaultConfig()
	s := openCfg(t, cfg, t.TempDir(), WithClock(clk.now))
	forward(t, s, seg(idA, 0, "a", events(0, 50), t0))
	one, _ := s.Get(context.Background(), idA)
	cfg.MaxBytes = one.Bytes*2 + one.Bytes/2
	s = openCfg(t, cfg, filepath.Dir(s.root), WithClock(clk.now))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunJanitor(ctx); close(done) }()
	forward(t, s, seg(idB, 0, "b", events(0, 50), t0.Add(time.Minute)))
	forward(t, s, seg(idC, 0, "c", events(0, 50), t0.Add(2*time.Minute)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := s.List(context.Background())
		if len(l) == 2 {
			if l[0].ID == idA || l[1].ID == idA {
				t.Fatalf("the newest replays were deleted: %v", l)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("janitor did not enforce max_bytes: %d replays", len(l))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunJanitor did not return after cancel")
	}
}

func TestConcurrentForward(t *testing.T) {
	s := openTest(t, t.TempDir())
	ids := []string{idA, idB, idC}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < 10; seq++ {
				for _, id := range ids {
					if err := s.Forward(context.Background(), seg(id, seq, "subj", events(seq, 2), t0)); err != nil {
						t.Error(err)
					}
				}
				s.List(context.Background())
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		m, _ := s.Get(context.Background(), id)
		if m.Segments != 10 || m.Events != 20 {
			t.Fatalf("%s: %+v", id, m)
		}
		if got := len(readEvents(t, s, id)); got != 20 {
			t.Fatalf("%s: %d events", id, got)
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
		{"short retention", func(c *Config) { c.Retention = time.Minute }, "retention:"},
		{"negative max_bytes", func(c *Config) { c.MaxBytes = -1 }, "max_bytes:"},
		{"janitor interval", func(c *Config) { c.JanitorInterval = 0 }, "janitor_interval:"},
		{"gzip level 0", func(c *Config) { c.GzipLevel = 0 }, "gzip_level:"},
		{"gzip level 10", func(c *Config) { c.GzipLevel = 10 }, "gzip_level:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want prefix %q", err, tc.want)
			}
		})
	}
	if _, err := Open(Config{}, t.TempDir(), zerolog.Nop(), nil); err == nil {
		t.Fatal("Open accepted an invalid config")
	}
}

func TestWriteEventsCancelled(t *testing.T) {
	s := openTest(t, t.TempDir())
	forward(t, s, seg(idA, 0, "subj", events(0, 1), t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WriteEvents(ctx, idA, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteEvents = %v, want context.Canceled", err)
	}
}

// deletingWriter deletes a replay when the first bytes of it arrive.
type deletingWriter struct {
	s     *Store
	id    string
	n     int
	error error
}

func (w *deletingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		w.error = w.s.Delete(context.Background(), w.id)
	}
	w.n += len(p)
	return len(p), nil
}

// TestWriteEventsStopsWhenDeleted: a replay deleted while it is being read
// stops the output with an error (its open log would still be readable).
func TestWriteEventsStopsWhenDeleted(t *testing.T) {
	s := openTest(t, t.TempDir())
	for seq := 0; seq < 4; seq++ {
		forward(t, s, seg(idA, seq, "subj", events(seq, 1000), t0)) // 80 KB each: the output flushes within the first
	}
	w := &deletingWriter{s: s, id: idA}
	err := s.WriteEvents(context.Background(), idA, w)
	if w.error != nil {
		t.Fatal(w.error)
	}
	if !errors.Is(err, ErrNotFound) || w.n >= 4*80_000 {
		t.Fatalf("WriteEvents = %v after %d bytes, want ErrNotFound before the end", err, w.n)
	}
}

// gzSeg is a segment of replay idA as ingest spools it: a gzip member and
// optionally the scrubber's summary, no Events.
func gzSeg(id string, seq int, gz []byte, sum *spool.Summary) spool.Segment {
	return spool.Segment{ReplayID: id, Seq: seq, Subject: "subj", ReceivedAt: t0, Gzip: gz, Summary: sum}
}

// withByte returns b with b[i] set to v.
func withByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

// withISIZE returns the member gz with its trailer's size set to n.
func withISIZE(gz []byte, n int) []byte {
	gz = bytes.Clone(gz)
	binary.LittleEndian.PutUint32(gz[len(gz)-4:], uint32(n))
	return gz
}

// cut returns gz without its middle n bytes: a damaged member with an
// intact header and trailer.
func cut(gz []byte, n int) []byte {
	mid := len(gz) / 2
	return append(bytes.Clone(gz[:mid]), gz[mid+n:]...)
}

// scrubberSummary is the summary ingest spools with evs: what the
// scrubber's pass sees.
func scrubberSummary(t testing.TB, evs []byte) *spool.Summary {
	t.Helper()
	sc, err := scrub.New(scrub.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	out, res, err := sc.Scrub(nil, evs)
	if err != nil || !bytes.Equal(out, evs) {
		t.Fatalf("scrub changed the test events or failed: %v", err)
	}
	sum := &spool.Summary{Events: res.Events, First: res.FirstTimestamp, Last: res.LastTimestamp, Clicks: res.Clicks}
	for _, sp := range res.Info {
		sum.Info = append(sum.Info, out[sp.Start:sp.End])
	}
	return sum
}

// TestGivenGzipStoredVerbatim: a segment's gzip member (spool.Segment.Gzip,
// ingest's own compression of the scrubbed events) is the record's body
// byte for byte, with the scrubber's summary or without one (then read
// by decompressing it), and reads back as the events; the replay's
// metadata is the same as for the events given uncompressed. Events given
// alone are compressed at store.gzip_level.
func TestGivenGzipStoredVerbatim(t *testing.T) {
	evs := fixture(t)
	evs = bytes.TrimSpace(evs)
	own := gzipOf(t, evs)
	var level bytes.Buffer // the store's own compression
	zw, _ := gzip.NewWriterLevel(&level, DefaultConfig().GzipLevel)
	zw.Write(evs)
	zw.Close()
	tests := []struct {
		name string
		seg  spool.Segment
		want []byte
	}{
		{"gzip with summary", gzSeg(idA, 0, own, scrubberSummary(t, evs)), own},
		{"gzip without summary", gzSeg(idA, 0, own, nil), own},
		{"gzip with a summary that does not hold together", gzSeg(idA, 0, own, &spool.Summary{Events: 1 << 30}), own},
		{"events only", seg(idA, 0, "subj", evs, t0), level.Bytes()},
	}
	var metas []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			forward(t, s, tt.seg)
			if got := storedGzip(t, s, idA, 0); !bytes.Equal(got, tt.want) {
				t.Fatalf("record body is %d bytes, not the %d given", len(got), len(tt.want))
			}
			var buf bytes.Buffer
			if err := s.WriteEvents(context.Background(), idA, &buf); err != nil || !bytes.Equal(buf.Bytes(), evs) {
				t.Fatalf("WriteEvents = %d bytes, %v; want the events", buf.Len(), err)
			}
			m, err := s.Get(context.Background(), idA)
			if err != nil {
				t.Fatal(err)
			}
			if m.Bytes != int64(len(tt.want)) {
				t.Fatalf("meta bytes %d, want %d", m.Bytes, len(tt.want))
			}
			m.Bytes = 0 // the events-only case compresses at another level
			mj, _ := json.Marshal(m)
			metas = append(metas, string(mj))
			// Open rebuilds the same from the log.
			s.Close()
			s2 := openTest(t, filepath.Dir(s.root))
			if m2, err := s2.Get(context.Background(), idA); err != nil || m2.Events != m.Events || m2.Bytes != int64(len(tt.want)) {
				t.Fatalf("after Open %+v (%v), want %+v", m2, err, m)
			}
		})
	}
	for i := 1; i < len(metas); i++ {
		if metas[i] != metas[0] {
			t.Errorf("meta of %q differs:\n%s\n%s", tests[i].name, metas[i], metas[0])
		}
	}
}

// TestGivenGzipWithWhitespace: a member whose JSON has surrounding
// whitespace (not from ingest, which trims) is not stored as it is: the
// store streams stored arrays back between its own brackets, so the
// trimmed events are compressed again.
func TestGivenGzipWithWhitespace(t *testing.T) {
	s := openTest(t, t.TempDir())
	evs := events(0, 3)
	padded := gzipOf(t, append(append([]byte(" \n"), evs...), '\n'))
	forward(t, s, gzSeg(idA, 0, padded, nil))
	if bytes.Equal(storedGzip(t, s, idA, 0), padded) {
		t.Fatal("a member with surrounding whitespace was stored as it is")
	}
	if got := len(readEvents(t, s, idA)); got != 3 {
		t.Fatalf("%d events read back, want 3", got)
	}
}

// FuzzForwardGzip gives Forward arbitrary bytes as a segment's gzip member
// without a summary: it never panics or fails (what it cannot store it
// drops), and what it stores is exactly the member given and reads back
// as the valid JSON array inside it.
func FuzzForwardGzip(f *testing.F) {
	f.Add(gzipOf(f, events(0, 2)))
	f.Add(gzipOf(f, []byte(" [] ")))
	f.Add(gzipOf(f, []byte(`[1,2]`)))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	s := openTest(f, f.TempDir())
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, gz []byte) {
		id := fmt.Sprintf("%032x", n.Add(1))
		if err := s.Forward(context.Background(), gzSeg(id, 0, gz, nil)); err != nil {
			t.Fatalf("Forward: %v", err)
		}
		if _, err := s.Get(context.Background(), id); errors.Is(err, ErrNotFound) {
			return // dropped
		}
		raw, err := spool.Segment{Gzip: gz}.EventsJSON(nil)
		if err != nil {
			t.Fatalf("stored a member that does not decompress: %v", err)
		}
		want := bytes.TrimSpace(raw)
		var buf bytes.Buffer
		if err := s.WriteEvents(context.Background(), id, &buf); err != nil {
			t.Fatalf("WriteEvents: %v", err)
		}
		if !json.Valid(buf.Bytes()) || !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("read back %q, want %q", buf.Bytes(), want)
		}
		if len(want) == len(raw) && !bytes.Equal(storedGzip(t, s, id, 0), gz) {
			t.Fatal("member not stored as given")
		}
	})
}
