package inject

import (
	"bytes"
	"io"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// chunkReader returns data in pieces of the given sizes (cycled), like an
// upstream that flushes at arbitrary points, then err (nil: io.EOF).
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
	err   error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = c.sizes[c.i%len(c.sizes)]
		c.i++
		if n <= 0 {
			n = 1
		}
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkReader) Close() error { return nil }

// encodeBytes compresses b with e (raw selects raw deflate).
func encodeBytes(t testing.TB, e encoding, raw bool, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch e {
	case encIdentity:
		return append([]byte(nil), b...)
	case encGzip:
		w = gzip.NewWriter(&buf)
	case encDeflate:
		if raw {
			w, _ = flate.NewWriter(&buf, 5)
		} else {
			w = zlib.NewWriter(&buf)
		}
	case encBrotli:
		w = brotli.NewWriterLevel(&buf, 5)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeBytes decompresses b; deflate input may be zlib or raw.
func decodeBytes(t testing.TB, e encoding, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch e {
	case encIdentity:
		return b
	case encGzip:
		r, err = gzip.NewReader(bytes.NewReader(b))
	case encDeflate:
		if len(b) >= 2 && isZlibHeader(b[0], b[1]) {
			r, err = zlib.NewReader(bytes.NewReader(b))
		} else {
			r = flate.NewReader(bytes.NewReader(b))
		}
	case encBrotli:
		r = brotli.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		t.Fatalf("decode %v: %v", e, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %v: %v", e, err)
	}
	return out
}

func testCodecs(t testing.TB) *codecs {
	t.Helper()
	c, err := newCodecs(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runStream feeds doc (already encoded with e) through a stream in chunks
// and returns the output and the stream.
func runStream(t testing.TB, c *codecs, e encoding, xml bool, body []byte, sizes []int, markup []byte) ([]byte, *stream) {
	t.Helper()
	s := newStream(c, &chunkReader{data: body, sizes: sizes}, e, e, xml, markup, DefaultConfig().MaxHeadBytes)
	out, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out, s
}
