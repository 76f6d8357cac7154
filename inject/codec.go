package inject

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// encoding is a content coding the rewriter can decode and re-encode.
type encoding uint8

const (
	encIdentity encoding = iota
	encGzip
	encDeflate // zlib-wrapped (RFC 9110), raw deflate tolerated on input
	encBrotli
)

func (e encoding) String() string {
	return [...]string{"identity", "gzip", "deflate", "br"}[e]
}

// parseEncoding maps Content-Encoding header values to an encoding. Stacked
// codings ("gzip, br") and unknown ones (zstd, compress) are not handled.
func parseEncoding(values []string) (encoding, bool) {
	var coding string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.ToLower(strings.TrimSpace(t))
			if t == "" || t == "identity" {
				continue
			}
			if coding != "" {
				return 0, false
			}
			coding = t
		}
	}
	switch coding {
	case "":
		return encIdentity, true
	case "gzip", "x-gzip":
		return encGzip, true
	case "deflate":
		return encDeflate, true
	case "br":
		return encBrotli, true
	}
	return 0, false
}

// encoder is a compressor that can push out what it has so far.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// codecs pools compressors, decompressors and buffers; one per Rewriter.
type codecs struct {
	gzipLevel, deflateLevel, brotliLevel int
	lowMemory                            bool
	splice                               bool // cut gzip pages (splice.go)
	splicers                             sync.Pool
	m                                    *metrics // nil: not counted

	dictW                     sync.Pool // *dictEncoder
	sharedGzip, sharedDeflate *sharedDeflate

	gzipW, zlibW, flateW, brotliW sync.Pool
	statelessW                    sync.Pool // gzip.StatelessCompression writers for whole pages
	gzipR, zlibR, flateR, brotliR sync.Pool
	bufR                          sync.Pool // *bufio.Reader for gzip/deflate input
	scratch                       sync.Pool // *[]byte of scratchSize
	whole                         sync.Pool // *bytes.Buffer for rewriteWhole
	teeBufs                       sync.Pool // *bytes.Buffer for rawTee
}

// scratchSize is the decoded chunk size: large enough that one flush per
// chunk costs little ratio (BENCH_NOTES.md), small enough for the heap
// budget per stream.
const scratchSize = 32 << 10

// brotliWindow keeps the encoder's window (and the client's decoder
// memory) at 256 KiB; on-the-fly qualities gain nothing from a larger one.
const brotliWindow = 18

func newCodecs(cfg Config) (*codecs, error) {
	c := &codecs{gzipLevel: cfg.GzipLevel, deflateLevel: cfg.DeflateLevel, brotliLevel: cfg.BrotliLevel, lowMemory: cfg.LowMemory, splice: cfg.SpliceGzip}
	c.sharedGzip = &sharedDeflate{level: cfg.GzipLevel}
	c.sharedDeflate = &sharedDeflate{level: cfg.DeflateLevel}
	// Fail at start-up, not on the first response, if a level is refused.
	if _, err := gzip.NewWriterLevel(io.Discard, c.gzipLevel); err != nil {
		return nil, fmt.Errorf("gzip_level: %w", err)
	}
	if _, err := zlib.NewWriterLevel(io.Discard, c.deflateLevel); err != nil {
		return nil, fmt.Errorf("deflate_level: %w", err)
	}
	return c, nil
}

func (c *codecs) getScratch() *[]byte {
	if b, ok := c.scratch.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, scratchSize)
	return &b
}

func (c *codecs) putScratch(b *[]byte) { c.scratch.Put(b) }

// teeBufKeep is the largest rawTee buffer kept for reuse: the raw bytes of
// a page's start, usually a few KiB; the rare page searched far keeps its
// larger buffer to itself.
const teeBufKeep = 64 << 10

func (c *codecs) getTeeBuf() *bytes.Buffer {
	if b, ok := c.teeBufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return bytes.NewBuffer(make([]byte, 0, 8<<10))
}

func (c *codecs) putTeeBuf(b *bytes.Buffer) {
	if b.Cap() <= teeBufKeep {
		b.Reset()
		c.teeBufs.Put(b)
	}
}

// smallBody is the largest declared page that is re-encoded with a pooled
// private compressor even in low-memory mode.
const smallBody = 256 << 10

// getEncoder returns a compressor for e writing to w. raw selects raw
// deflate instead of zlib for encDeflate; small (a page of at most
// smallBody bytes) skips the low-memory encoder.
func (c *codecs) getEncoder(e encoding, raw, small bool, w io.Writer) encoder {
	if c.lowMemory && !small && (e == encGzip || e == encDeflate) {
		return c.getDictEncoder(e, raw, w)
	}
	switch e {
	case encGzip:
		if z, ok := c.gzipW.Get().(*gzip.Writer); ok {
			z.Reset(w)
			return z
		}
		z, _ := gzip.NewWriterLevel(w, c.gzipLevel) // level checked in newCodecs
		return z
	case encDeflate:
		if raw {
			if z, ok := c.flateW.Get().(*flate.Writer); ok {
				z.Reset(w)
				return z
			}
			z, _ := flate.NewWriter(w, c.deflateLevel)
			return z
		}
		if z, ok := c.zlibW.Get().(*zlib.Writer); ok {
			z.Reset(w)
			return z
		}
		z, _ := zlib.NewWriterLevel(w, c.deflateLevel)
		return z
	case encBrotli:
		if z, ok := c.brotliW.Get().(*brotli.Writer); ok {
			z.Reset(w)
			return z
		}
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: c.brotliLevel, LGWin: brotliWindow})
	}
	return nil
}

// getWholeEncoder returns the encoder for a page rewritten whole. For gzip
// at level 1 it is klauspost's stateless mode: level-1 speed and ratio
// without a compressor's tables to reset for every page (34 instead of
// 40 µs for the 20 KB bench page, 1.5 % larger output).
func (c *codecs) getWholeEncoder(e encoding, w io.Writer) encoder {
	if e == encGzip && c.gzipLevel == 1 {
		if z, ok := c.statelessW.Get().(*gzip.Writer); ok {
			z.Reset(w)
			return z
		}
		z, _ := gzip.NewWriterLevel(w, gzip.StatelessCompression)
		return z
	}
	return c.getEncoder(e, false, true, w)
}

// putWholeEncoder returns a closed encoder from getWholeEncoder.
func (c *codecs) putWholeEncoder(e encoding, enc encoder) {
	if e == encGzip && c.gzipLevel == 1 {
		enc.Reset(io.Discard)
		c.statelessW.Put(enc)
		return
	}
	c.putEncoder(enc)
}

// getDictEncoder returns a shared-compressor encoder for gzip or deflate.
func (c *codecs) getDictEncoder(e encoding, raw bool, w io.Writer) *dictEncoder {
	shared := c.sharedGzip
	if e == encDeflate {
		shared = c.sharedDeflate
	}
	if z, ok := c.dictW.Get().(*dictEncoder); ok {
		z.setup(shared, e, raw, w)
		return z
	}
	return newDictEncoder(shared, e, raw, w)
}

// putEncoder returns a closed encoder to its pool.
func (c *codecs) putEncoder(enc encoder) {
	enc.Reset(io.Discard)
	switch z := enc.(type) {
	case *dictEncoder:
		c.dictW.Put(z)
	case *gzip.Writer:
		c.gzipW.Put(z)
	case *zlib.Writer:
		c.zlibW.Put(z)
	case *flate.Writer:
		c.flateW.Put(z)
	case *brotli.Writer:
		c.brotliW.Put(z)
	}
}

// decoder is a decompressor plus what must go back to the pools.
type decoder struct {
	r   io.Reader
	buf *bufio.Reader
	raw bool // encDeflate input was raw deflate
}

// isZlibHeader reports whether b0 b1 start a zlib stream (RFC 1950)
// without a preset dictionary.
func isZlibHeader(b0, b1 byte) bool {
	return b0&0x0f == 8 && b0>>4 <= 7 && (uint16(b0)<<8|uint16(b1))%31 == 0 && b1&0x20 == 0
}

// getDecoder starts decoding src. It reads from src (the gzip header, the
// first deflate bytes), so it runs on the first Read, not in Rewrite.
func (c *codecs) getDecoder(e encoding, src io.Reader) (decoder, error) {
	var d decoder
	if e == encBrotli {
		z, ok := c.brotliR.Get().(*brotli.Reader)
		if ok {
			_ = z.Reset(src) // always nil
		} else {
			z = brotli.NewReader(src)
		}
		d.r = brotliReader{z}
		return d, nil
	}
	if b, ok := c.bufR.Get().(*bufio.Reader); ok {
		b.Reset(src)
		d.buf = b
	} else {
		d.buf = bufio.NewReaderSize(src, 4096)
	}
	switch e {
	case encGzip:
		if z, ok := c.gzipR.Get().(*gzip.Reader); ok {
			if err := z.Reset(d.buf); err != nil {
				return d, fmt.Errorf("gzip header: %w", err)
			}
			d.r = z
			return d, nil
		}
		z, err := gzip.NewReader(d.buf)
		if err != nil {
			return d, fmt.Errorf("gzip header: %w", err)
		}
		d.r = z
	case encDeflate:
		h, err := d.buf.Peek(2)
		if err != nil {
			return d, fmt.Errorf("deflate header: %w", err)
		}
		d.raw = !isZlibHeader(h[0], h[1])
		if d.raw {
			if z, ok := c.flateR.Get().(io.ReadCloser); ok {
				if err := z.(flate.Resetter).Reset(d.buf, nil); err != nil {
					return d, fmt.Errorf("deflate: %w", err)
				}
				d.r = z
				return d, nil
			}
			d.r = flate.NewReader(d.buf)
			return d, nil
		}
		if z, ok := c.zlibR.Get().(io.ReadCloser); ok {
			if err := z.(zlib.Resetter).Reset(d.buf, nil); err != nil {
				return d, fmt.Errorf("zlib header: %w", err)
			}
			d.r = z
			return d, nil
		}
		z, err := zlib.NewReader(d.buf)
		if err != nil {
			return d, fmt.Errorf("zlib header: %w", err)
		}
		d.r = z
	}
	return d, nil
}

// putDecoder returns a decoder's parts to the pools. Only decoders that
// reached a clean end are reused.
func (c *codecs) putDecoder(e encoding, d decoder) {
	if d.buf != nil {
		d.buf.Reset(nil)
		c.bufR.Put(d.buf)
	}
	switch {
	case d.r == nil:
	case e == encGzip:
		c.gzipR.Put(d.r)
	case e == encDeflate && d.raw:
		c.flateR.Put(d.r)
	case e == encDeflate:
		c.zlibR.Put(d.r)
	case e == encBrotli:
		z := d.r.(brotliReader).Reader
		_ = z.Reset(nil)
		c.brotliR.Put(z)
	}
}

// brotliReader works around andybalholm/brotli v1.3.0 reporting
// "excessive input" at the end of a complete stream whose last bytes
// arrived in small reads (its internal carry buffer is not empty at the
// end). The decoded output is complete at that point, so it is the end.
type brotliReader struct{ *brotli.Reader }

func (b brotliReader) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err != nil && err.Error() == "brotli: excessive input" {
		err = io.EOF
	}
	return n, err
}
