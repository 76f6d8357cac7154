package spool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// collector is a Forwarder that records what it receives. fail, when set,
// decides per call whether to fail.
type collector struct {
	name string
	mu   sync.Mutex
	keys []string
	segs map[string]Segment
	fail func(seg Segment) error
}

func newCollector(name string) *collector {
	return &collector{name: name, segs: map[string]Segment{}}
}

func (c *collector) Name() string { return c.name }

func (c *collector) Forward(ctx context.Context, seg Segment) error {
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(seg); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, seg.Key())
	c.segs[seg.Key()] = seg
	return nil
}

func (c *collector) setFail(f func(Segment) error) {
	c.mu.Lock()
	c.fail = f
	c.mu.Unlock()
}

// received returns the delivered keys sorted by replay and seq: with
// several deliveries in flight the arrival order is not the log order.
func (c *collector) received() []string {
	ks := c.arrivals()
	slices.SortStableFunc(ks, func(a, b string) int {
		ra, sa, _ := strings.Cut(a, "/")
		rb, sb, _ := strings.Cut(b, "/")
		na, _ := strconv.Atoi(sa)
		nb, _ := strconv.Atoi(sb)
		return cmp.Or(strings.Compare(ra, rb), cmp.Compare(na, nb))
	})
	return ks
}

// arrivals returns the delivered keys in arrival order.
func (c *collector) arrivals() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.keys...)
}

// testSeg returns a deterministic segment whose events encode its key, so a
// reader can check the payload survived intact.
func testSeg(replay string, seq, size int) Segment {
	key := fmt.Sprintf("%s/%d", replay, seq)
	pad := size - 60 - len(key)
	if pad < 0 {
		pad = 0
	}
	return Segment{
		ReplayID:   replay,
		Seq:        seq,
		Subject:    "subject-" + replay[:4],
		ReceivedAt: time.Unix(1_700_000_000, int64(seq)).UTC(),
		Events:     []byte(fmt.Sprintf(`[{"type":3,"timestamp":%d,"data":{"k":%q,"p":"%s"}}]`, seq, key, strings.Repeat("x", pad))),
	}
}

func checkSeg(t testing.TB, got Segment) {
	t.Helper()
	want := testSeg(got.ReplayID, got.Seq, 0)
	if !strings.HasPrefix(string(got.Events), string(want.Events[:strings.Index(string(want.Events), `"p":"`)])) ||
		got.Subject != want.Subject || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Fatalf("segment %s came back altered: subject %q at %v events %.80q", got.Key(), got.Subject, got.ReceivedAt, got.Events)
	}
}

func replayID(i int) string { return fmt.Sprintf("%032x", i+0xabcd0000) }

func testConfig() Config {
	c := DefaultConfig()
	c.RetryMin = 5 * time.Millisecond
	c.RetryMax = 50 * time.Millisecond
	c.CheckpointInterval = 10 * time.Millisecond
	c.ForwardTimeout = 5 * time.Second
	return c
}

func openT(t testing.TB, cfg Config, dir string, fwds ...Forwarder) *Spool {
	t.Helper()
	s, err := Open(cfg, dir, fwds, zerolog.Nop(), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// runT starts Run and returns a stop function that cancels it and waits.
func runT(t testing.TB, s *Spool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Run: %v", err)
		}
	}
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendN(t testing.TB, s *Spool, replay string, from, n, size int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(testSeg(replay, i, size)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func keysOf(replay string, from, n int) []string {
	var ks []string
	for i := from; i < from+n; i++ {
		ks = append(ks, fmt.Sprintf("%s/%d", replay, i))
	}
	return ks
}

type nopForwarder struct{}

func (nopForwarder) Name() string                                 { return "nop" }
func (nopForwarder) Forward(ctx context.Context, _ Segment) error { return nil }

func testingProcs() int { return runtime.GOMAXPROCS(0) }
