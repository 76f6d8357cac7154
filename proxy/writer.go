package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// copyBuffers serve ReadFrom: the engine copies every body with io.Copy,
// which would otherwise allocate 32 KiB per response.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bigCopyBuffers serve streamed rewritten responses, large pages: a
// spliced gzip page is relayed in reads of up to 64 KiB, with half as
// many chunks and writes as in 32 KiB (10 MB page: 106 writes instead of
// 198, 7 % more pages per second; inject/BENCH_NOTES.md).
var bigCopyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// headerHold is how long the headers of a streamed rewritten response
// wait for its first body bytes. Those usually follow within a tenth of a
// millisecond (decode, find <head>, encode), and leaving in the same
// write gets them to the visitor sooner than a write of their own; if the
// body is slow (an upstream that sends its headers early and computes the
// page), the headers go alone when the hold ends.
const headerHold = time.Millisecond

// responseWriter records status and size for the access log, flushes after
// every write smaller than unflushedWrite when the response streams (no
// Content-Length, as httputil.ReverseProxy does), and makes hijacking
// safe: it always offers
// Hijack, returning an error where the connection cannot be hijacked
// (HTTP/2) instead of letting the engine panic.
type responseWriter struct {
	http.ResponseWriter
	status    int
	bytes     int64
	streaming bool
	state     *requestState

	aborted bool // the response was aborted after an upstream body error

	// hold is headerHold (tests change it); held sends the headers of a
	// rewritten response alone when it fires before the first body write.
	// Until then the status is not passed on, so a body that fails before
	// anything was sent can still become a clean 502 (discardHeld).
	hold     time.Duration
	held     *time.Timer
	heldMu   sync.Mutex
	heldOver bool // the handler wrote, flushed or returned: held must not touch the writer
	pending  bool // the status waits to be passed to the server's writer

	mu       sync.Mutex
	hijacked net.Conn
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status != 0 {
		return
	}
	w.status = code
	if w.state != nil && w.state.contentLength != "" && w.Header().Get("Content-Length") == "" {
		w.Header().Set("Content-Length", w.state.contentLength)
	}
	w.streaming = w.Header().Get("Content-Length") == ""
	if w.state != nil && w.state.rewritten {
		w.pending = true
		w.held = time.AfterFunc(w.hold, w.sendHeld)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Header returns the response headers. While the status is held, the
// server's writer is shared with sendHeld, which may send it at any time:
// the map may then be read, not written (the engine only reads it between
// WriteHeader and the first write).
func (w *responseWriter) Header() http.Header {
	if w.held == nil {
		return w.ResponseWriter.Header()
	}
	w.heldMu.Lock()
	defer w.heldMu.Unlock()
	return w.ResponseWriter.Header()
}

// sendHeld sends the headers alone: the body was not ready in time.
func (w *responseWriter) sendHeld() {
	w.heldMu.Lock()
	defer w.heldMu.Unlock()
	if !w.heldOver {
		w.ResponseWriter.WriteHeader(w.status)
		w.pending = false
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// endHold stops the hold timer; from then on only the handler's goroutine
// uses the writer, and pending says whether the status is still unsent.
func (w *responseWriter) endHold() {
	if w.held == nil {
		return
	}
	if !w.held.Stop() {
		// Fired: wait for sendHeld to finish, or make it do nothing.
		w.heldMu.Lock()
		w.heldOver = true
		w.heldMu.Unlock()
	}
	w.held = nil
}

// release ends the hold and passes a held status on (the server's writer
// sends it with the first body bytes). Called before every write and
// flush, and when the handler returns.
func (w *responseWriter) release() {
	w.endHold()
	if w.pending {
		w.pending = false
		w.ResponseWriter.WriteHeader(w.status)
	}
}

// discardHeld drops the response's held status and headers and reports
// true if nothing of it has been sent, so that another response (an
// error) can take its place.
func (w *responseWriter) discardHeld() bool {
	w.endHold()
	if !w.pending {
		return false
	}
	clear(w.Header())
	w.status, w.state, w.pending = 0, nil, false
	return true
}

// unflushedWrite is the size from which a streamed write needs no flush:
// net/http's connection writer buffers 4 KiB, so a write of twice that
// (plus a chunk header) leaves nothing of its data behind, only the
// chunk's closing CRLF, which goes out with the next write. Not flushing
// saves a write of two bytes per relayed chunk (TestLargeWritesArrive
// checks that the data does arrive).
const unflushedWrite = 16 << 10

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.release()
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	if w.streaming && err == nil && len(p) < unflushedWrite {
		err = http.NewResponseController(w.ResponseWriter).Flush()
	}
	return n, err
}

// ReadFrom copies src to the client through a pooled buffer.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// writerOnly hides ReadFrom so that io.CopyBuffer uses the buffer given.
type writerOnly struct{ io.Writer }

// readerOnly hides WriteTo so that io.CopyBuffer reads through Read.
type readerOnly struct{ io.Reader }

// watchedBody is the upstream body as the engine copies it: it records a
// read error (other than the end) so that Front can abort the response.
type watchedBody struct {
	io.ReadCloser
	state *requestState
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.state.bodyErr == nil {
		b.state.bodyErr = err
	}
	return n, err
}

// WriteTo copies the body to w through a pooled buffer, or hands w a body
// already in memory (a page the rewriter rewrote whole) in one piece.
func (b *watchedBody) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := b.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	pool := &copyBuffers
	if b.state.rewritten {
		pool = &bigCopyBuffers
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	if rw, ok := w.(*responseWriter); ok {
		w = writerOnly{rw}
	}
	return io.CopyBuffer(w, readerOnly{b}, *bp)
}

// Flush sends buffered data to the client. After the upstream body
// failed it sends nothing (the engine flushes to announce trailers even
// then): a status still held can become a 502.
func (w *responseWriter) Flush() {
	if w.state != nil && w.state.bodyErr != nil {
		w.endHold()
		return
	}
	w.release()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack takes over the connection where the server allows it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.release()
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: hijack: %w", err)
	}
	w.mu.Lock()
	w.hijacked = conn
	w.mu.Unlock()
	return conn, rw, nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// closeHijacked closes a connection the engine took over and left open.
func (w *responseWriter) closeHijacked() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hijacked != nil {
		_ = w.hijacked.Close()
		w.hijacked = nil
	}
}

// canHijack reports whether the underlying writer supports hijacking.
func canHijack(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Hijacker); ok {
			if rw, ok := w.(*responseWriter); ok {
				w = rw.ResponseWriter
				continue
			}
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}
