package proxy

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestReviewAccessLogOrderAtClose: a request ending while Close waits for
// the queued lines (one the server's drain did not wait for, such as a
// hijacked connection's) is logged after them, not before.
func TestReviewAccessLogOrderAtClose(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return p }}
	for i := range 50 {
		a.add(accessEntry{method: "GET", path: "/" + strconv.Itoa(i), status: 200})
	}
	done := make(chan struct{})
	go func() {
		a.close()
		close(done)
	}()
	for {
		a.mu.Lock()
		closed := a.closed
		a.mu.Unlock()
		if closed {
			break
		}
		runtime.Gosched()
	}
	a.add(accessEntry{method: "GET", path: "/late", status: 200})
	<-done
	lines := parseAccess(t, buf.String())
	if len(lines) != 51 {
		t.Fatalf("%d lines, want 51", len(lines))
	}
	for i, l := range lines[:50] {
		if l.Path != "/"+strconv.Itoa(i) {
			t.Fatalf("line %d is %q: a line written out of order", i, l.Path)
		}
	}
}

// TestReviewAccessLogFlood: many requests ending at once, some after
// Close started (go test -race): every line is written exactly once, and
// no writer goroutine is left.
func TestReviewAccessLogFlood(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return p }}
	before := runtime.NumGoroutine()
	const workers, each = 16, 1500 // 24,000 lines: past accessQueueMax
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a.add(accessEntry{method: "GET", path: "/" + strconv.Itoa(w*each+i), status: 200})
				if w == 0 && i == each/2 {
					go a.close()
				}
			}
		})
	}
	wg.Wait()
	a.close()
	seen := make(map[string]bool, workers*each)
	for _, l := range parseAccess(t, buf.String()) {
		if seen[l.Path] {
			t.Fatalf("%s written twice", l.Path)
		}
		seen[l.Path] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d lines written, want %d", len(seen), workers*each)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, %d before", n, before)
	}
}

// TestReviewAccessLogWriterExits: the writer goroutine ends once the queue
// stays empty, without Close.
func TestReviewAccessLogWriterExits(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { return p }}
	a.add(accessEntry{method: "GET", path: "/", status: 200})
	deadline := time.Now().Add(2 * time.Second)
	for {
		a.mu.Lock()
		running := a.running
		a.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writer goroutine still running")
		}
		time.Sleep(time.Millisecond)
	}
	if lines := parseAccess(t, buf.String()); len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
}

// TestAccessLogRedactionPanic: a panicking redaction costs the line its
// path, not the process (the writer goroutine has no recover of its own).
func TestAccessLogRedactionPanic(t *testing.T) {
	var buf syncBuffer
	a := &accessLog{log: zerolog.New(&buf), redact: func(p string) string { panic("bug: " + p) }}
	a.add(accessEntry{method: "GET", path: "/secret-path", status: 200})
	a.close()
	logs := buf.String()
	if strings.Contains(logs, "secret-path") || !strings.Contains(logs, `"path":"[redaction failed]"`) || !strings.Contains(logs, "redaction panicked") {
		t.Fatalf("log: %s", logs)
	}
}
