package inject

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// errBodyTooLong reports an upstream body longer than it declared; the
// transport normally stops at Content-Length, so it is a safety net.
var errBodyTooLong = errors.New("inject: body longer than its Content-Length")

// rewriteWhole reads a small, uncompressed upstream body completely,
// inserts the markup and encodes the page in one go. The result has a
// known length, so the client gets a Content-Length response written in
// one piece instead of a chunked stream flushed read by read: for pages of
// a few dozen kilobytes that is most of the proxy's work (BENCH_NOTES.md).
//
// The upstream declared the length, so the whole body is already on its
// way; waiting for it delays the first byte by its transfer only. A read
// error is returned with the pooled buffer released.
func (c *codecs) rewriteWhole(src io.Reader, declared int64, outEnc encoding, xml bool, markup []byte, limit int) (*wholeBody, error) {
	in := c.getWhole()
	err := readDeclared(in, src, declared)
	switch {
	case err != nil:
		c.putWhole(in)
		return nil, err
	case int64(in.Len()) > declared:
		c.putWhole(in)
		return nil, errBodyTooLong
	}
	page := in.Bytes()
	at := -1
	sc := newScanner(xml)
	if v, pos := sc.scan(page); v == found && pos <= int64(limit) {
		at = int(pos)
	} else {
		c.m.noInsertionPoint()
	}

	if outEnc == encIdentity {
		if at >= 0 {
			// Insert in place: the buffer has room for the markup.
			n := len(page)
			in.Write(markup) // grows if needed; page is stale after this
			page = in.Bytes()
			copy(page[at+len(markup):], page[at:n])
			copy(page[at:], markup)
		}
		return &wholeBody{c: c, buf: in, rd: bytes.NewReader(in.Bytes()), insertAt: at}, nil
	}

	out := c.getWhole()
	// Level-1 deflate of HTML rarely falls below a fifth of the input.
	out.Grow(len(page)/4 + len(markup) + 64)
	enc := c.getWholeEncoder(outEnc, out)
	if at >= 0 {
		_, _ = enc.Write(page[:at]) // writes into a bytes.Buffer: cannot fail
		_, _ = enc.Write(markup)
		_, _ = enc.Write(page[at:])
	} else {
		_, _ = enc.Write(page)
	}
	_ = enc.Close()
	c.putWholeEncoder(outEnc, enc)
	c.putWhole(in)
	return &wholeBody{c: c, buf: out, rd: bytes.NewReader(out.Bytes()), insertAt: at}, nil
}

// readDeclared reads a body of declared length (and one byte more, to
// tell a longer one) into in without growing it past that length:
// bytes.Buffer.ReadFrom wants bytes.MinRead free bytes before every read,
// the last one too, and would otherwise double a buffer sized exactly.
func readDeclared(in *bytes.Buffer, src io.Reader, declared int64) error {
	in.Grow(int(declared) + bytes.MinRead)
	_, err := in.ReadFrom(io.LimitReader(src, declared+1))
	return err
}

// wholeBody is a rewritten page held in a pooled buffer. Close returns the
// buffer; WriteTo lets the proxy's copy hand it to the client in one write.
type wholeBody struct {
	c        *codecs
	buf      *bytes.Buffer
	rd       *bytes.Reader
	insertAt int // offset of the markup in the page, -1 if not inserted

	mu     sync.Mutex // Close may come from another goroutine than Read
	closed bool
}

var errReadAfterClose = errors.New("inject: read after close")

// Read implements io.Reader.
func (b *wholeBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadAfterClose
	}
	return b.rd.Read(p)
}

// WriteTo implements io.WriterTo.
func (b *wholeBody) WriteTo(w io.Writer) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadAfterClose
	}
	return b.rd.WriteTo(w)
}

// Close releases the buffer.
func (b *wholeBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.c.putWhole(b.buf)
		b.buf, b.rd = nil, nil
	}
	return nil
}

// maxPooledWhole keeps unusually grown buffers out of the pool.
const maxPooledWhole = 2 * smallBody

func (c *codecs) getWhole() *bytes.Buffer {
	if b, ok := c.whole.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (c *codecs) putWhole(b *bytes.Buffer) {
	if b.Cap() > maxPooledWhole {
		return
	}
	b.Reset()
	c.whole.Put(b)
}
