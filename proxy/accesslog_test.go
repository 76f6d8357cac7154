package proxy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type accessLine struct {
	Method, Path, Message string
	Status                int
	Bytes                 int64
	Duration              float64
	Aborted               bool
}

func parseAccess(t *testing.T, logs string) []accessLine {
	t.Helper()
	var out []accessLine
	for l := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		if l == "" {
			continue
		}
		var a accessLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

// TestAccessLogWritesEveryLine: queued lines are all written, in order,
// redacted, with their figures, by the time close returns.
func TestAccessLogWritesEveryLine(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return strings.ReplaceAll(p, "jane", "[x]") }}
	for i := range 300 {
		a.add(accessEntry{method: "GET", path: "/u/jane/" + strconv.Itoa(i), status: 200 + i%2, bytes: int64(i), dur: time.Duration(i) * time.Millisecond, aborted: i == 7})
		if i == 150 {
			time.Sleep(3 * accessFlush) // a batch or two in between
		}
	}
	a.close()
	lines := parseAccess(t, buf.String())
	if len(lines) != 300 {
		t.Fatalf("%d lines, want 300", len(lines))
	}
	for i, l := range lines {
		if l.Path != "/u/[x]/"+strconv.Itoa(i) || l.Status != 200+i%2 || l.Bytes != int64(i) || l.Duration != float64(i) || l.Aborted != (i == 7) || l.Message != "request" || l.Method != "GET" {
			t.Fatalf("line %d: %+v", i, l)
		}
	}
	if a.running {
		t.Error("a writer goroutine is still marked running after close")
	}
}

// TestAccessLogAfterClose: once closed, a line is written before add
// returns.
func TestAccessLogAfterClose(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return p }}
	a.close()
	a.add(accessEntry{method: "GET", path: "/late", status: 200})
	if lines := parseAccess(t, buf.String()); len(lines) != 1 || lines[0].Path != "/late" {
		t.Fatalf("log after close: %q", buf.String())
	}
}

// TestAccessLogFullQueue: with accessQueueMax lines waiting, a request
// writes its own line instead of dropping it or queueing more.
func TestAccessLogFullQueue(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return p }}
	a.mu.Lock()
	a.running = true // no writer goroutine: the queue only fills
	a.mu.Unlock()
	for range accessQueueMax {
		a.add(accessEntry{method: "GET", path: "/queued", status: 200})
	}
	if buf.String() != "" {
		t.Fatal("a queued line was written")
	}
	a.add(accessEntry{method: "GET", path: "/overflow", status: 200})
	if lines := parseAccess(t, buf.String()); len(lines) != 1 || lines[0].Path != "/overflow" {
		t.Fatalf("log with a full queue: %q", buf.String())
	}
	if len(a.queue) != accessQueueMax {
		t.Fatalf("%d queued, want %d", len(a.queue), accessQueueMax)
	}
}

// TestAccessLogLevel: above info, nothing is queued or written.
func TestAccessLogLevel(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf).Level(zerolog.WarnLevel), redact: func(p string) string { return p }}
	a.add(accessEntry{method: "GET", path: "/", status: 200})
	a.close()
	if buf.String() != "" || len(a.queue) != 0 {
		t.Fatalf("logged at warn level: %q", buf.String())
	}
}
