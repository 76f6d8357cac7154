package proxy

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Access log lines are written by a goroutine, in batches, accessFlush
// after the first request of a batch ended. A request's own goroutine only
// queues its figures: formatting a line (and redacting its path) and the
// write system call cost some 7 µs with the caches cold from a large
// response, and a keep-alive connection's next request waits for them,
// since net/http reads it only when the handler has returned
// (docs/benchmarks.md, time to first byte). nginx's `access_log …
// buffer= flush=` makes the same trade.
//
// Nothing is dropped: past accessQueueMax queued lines, a request writes
// its own (ahead of the queued ones: under such a flood lines are not in
// the order the requests ended); after close, once the queued lines are
// written. Only access lines are deferred; warnings and errors are
// written at once. A line's time is when it was written, up to
// accessFlush after the request ended; its duration is exact.
const (
	accessFlush    = 10 * time.Millisecond
	accessQueueMax = 8192
)

// accessEntry is what a request leaves for its access log line.
type accessEntry struct {
	method, path string
	status       int
	bytes        int64
	dur          time.Duration
	aborted      bool
}

// accessLog queues access log lines for a writer goroutine, started when a
// line waits and gone when none does.
type accessLog struct {
	log    zerolog.Logger
	redact func(string) string // applied when the line is written

	mu      sync.Mutex
	queue   []accessEntry
	spare   []accessEntry
	running bool // a writer goroutine owns the queue's next batch
	closed  bool
	wg      sync.WaitGroup
}

// add logs e: queued, or written at once if the log is closed or the
// queue is full.
func (a *accessLog) add(e accessEntry) {
	if a.log.GetLevel() > zerolog.InfoLevel {
		return
	}
	a.mu.Lock()
	if a.closed {
		// After the lines queued before close (close waits for them too;
		// no writer starts any more): a request that ends during close,
		// such as a hijacked connection's, is not logged before them.
		a.mu.Unlock()
		a.wg.Wait()
		a.write(e)
		return
	}
	if len(a.queue) >= accessQueueMax {
		a.mu.Unlock()
		a.write(e) // before the queued lines: order gives way to memory
		return
	}
	a.queue = append(a.queue, e)
	start := !a.running
	if start {
		a.running = true
		a.wg.Add(1)
	}
	a.mu.Unlock()
	if start {
		go a.drain()
	}
}

// drain writes batches until the queue stays empty for accessFlush.
func (a *accessLog) drain() {
	defer a.wg.Done()
	for {
		time.Sleep(accessFlush)
		a.mu.Lock()
		batch := a.queue
		if len(batch) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		a.queue, a.spare = a.spare[:0], nil
		a.mu.Unlock()
		for _, e := range batch {
			a.write(e)
		}
		clear(batch) // the paths
		a.mu.Lock()
		a.spare = batch[:0]
		a.mu.Unlock()
	}
}

func (a *accessLog) write(e accessEntry) {
	ev := a.log.Info().
		Str("method", e.method).
		Str("path", a.redactSafely(e.path)).
		Int("status", e.status).
		Int64("bytes", e.bytes).
		Dur("duration", e.dur)
	if e.aborted {
		ev = ev.Bool("aborted", true)
	}
	ev.Msg("request")
}

// redactSafely is redact, except that a panic in it (a bug) costs the
// line its path instead of the process: the line may be written by the
// writer goroutine, where nothing would recover it. The panic's value is
// not logged: it may hold the path.
func (a *accessLog) redactSafely(p string) (out string) {
	defer func() {
		if recover() != nil {
			out = "[redaction failed]"
			a.log.Error().Msg("access log: path redaction panicked; path left out")
		}
	}()
	return a.redact(p)
}

// close writes what is queued and makes later lines be written at once.
func (a *accessLog) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
}
