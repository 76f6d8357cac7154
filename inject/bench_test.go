package inject

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

func loadPage(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/page.html")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// upstreamEncode compresses like a typical origin server would: gzip and
// deflate at level 6, brotli at quality 5 with a 4 MiB window (lgwin 22).
func upstreamEncode(tb testing.TB, e encoding, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch e {
	case encIdentity:
		return b
	case encGzip:
		w, _ = gzip.NewWriterLevel(&buf, 6)
	case encDeflate:
		w, _ = zlib.NewWriterLevel(&buf, 6)
	case encBrotli:
		w = brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 5, LGWin: 22})
	}
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

var benchEncodings = []encoding{encIdentity, encGzip, encDeflate, encBrotli}

// BenchmarkRewrite: the full rewriting stream on a 150 KB page, input in
// 16 KiB reads (what a loopback upstream typically delivers), output
// copied to io.Discard. MB/s is decoded page bytes per second.
func BenchmarkRewrite(b *testing.B) {
	page := loadPage(b)
	c := testCodecs(b)
	markup := DefaultMarkup("/__replay")("0123456789abcdefghijkl")
	for _, e := range benchEncodings {
		body := upstreamEncode(b, e, page)
		b.Run(e.String(), func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			var outLen int64
			for b.Loop() {
				s := newStream(c, &chunkReader{data: body, sizes: []int{16 << 10}}, e, e, false, markup, 64<<10)
				n, err := io.Copy(io.Discard, s)
				if err != nil {
					b.Fatal(err)
				}
				outLen = n
			}
			b.ReportMetric(float64(outLen)/float64(len(page))*100, "out%")
		})
	}
}

// BenchmarkRewriteFromIdentity: the PrepareRequest path, identity from
// the upstream, compressed by us for the client.
func BenchmarkRewriteFromIdentity(b *testing.B) {
	page := loadPage(b)
	markup := DefaultMarkup("/__replay")("")
	for _, tc := range []struct {
		name string
		e    encoding
		mod  func(*Config)
	}{
		{"gzip-lowmem", encGzip, nil},
		{"gzip-1", encGzip, func(c *Config) { c.LowMemory = false }},
		{"gzip-5", encGzip, func(c *Config) { c.LowMemory = false; c.GzipLevel = 5 }},
		{"deflate-lowmem", encDeflate, nil},
		{"br-q0", encBrotli, func(c *Config) { c.BrotliLevel = 0 }},
		{"br-q1", encBrotli, nil},
		{"br-q4", encBrotli, func(c *Config) { c.BrotliLevel = 4 }},
	} {
		cfg := DefaultConfig()
		if tc.mod != nil {
			tc.mod(&cfg)
		}
		c, err := newCodecs(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("identity-to-"+tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			var outLen int64
			for b.Loop() {
				s := newStream(c, &chunkReader{data: page, sizes: []int{16 << 10}}, encIdentity, tc.e, false, markup, 64<<10)
				n, err := io.Copy(io.Discard, s)
				if err != nil {
					b.Fatal(err)
				}
				outLen = n
			}
			b.ReportMetric(float64(outLen)/float64(len(page))*100, "out%")
		})
	}
}

// BenchmarkDecode is the part of BenchmarkRewrite that PrepareRequest
// avoids: decoding what the upstream compressed.
func BenchmarkDecode(b *testing.B) {
	page := loadPage(b)
	c := testCodecs(b)
	for _, e := range []encoding{encGzip, encDeflate, encBrotli} {
		body := upstreamEncode(b, e, page)
		b.Run(e.String(), func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			buf := make([]byte, 32<<10)
			for b.Loop() {
				d, err := c.getDecoder(e, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d.r}, buf); err != nil {
					b.Fatal(err)
				}
				c.putDecoder(e, d)
			}
		})
	}
}

// BenchmarkScanNoHead scans a head-less document to its first body tag,
// the scanner's worst realistic case (the whole <head> content).
func BenchmarkScanNoHead(b *testing.B) {
	page := loadPage(b)
	doc := bytes.Replace(page, []byte("<head>"), []byte("<!---->"), 1)
	b.SetBytes(int64(bytes.Index(doc, []byte("<body"))))
	b.ReportAllocs()
	for b.Loop() {
		sc := newScanner(false)
		if v, _ := sc.scan(doc); v != found {
			b.Fatal("no insertion point")
		}
	}
}

// BenchmarkFlushCost measures the ratio cost of flushing the encoder after
// every upstream read, for several read sizes.
func BenchmarkFlushCost(b *testing.B) {
	page := loadPage(b)
	c := testCodecs(b)
	for _, tc := range []struct{ in, out encoding }{{encGzip, encGzip}, {encBrotli, encBrotli}, {encIdentity, encGzip}} {
		body := upstreamEncode(b, tc.in, page)
		for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%v-to-%v/read=%d", tc.in, tc.out, size), func(b *testing.B) {
				b.SetBytes(int64(len(page)))
				var outLen int64
				for b.Loop() {
					s := newStream(c, &chunkReader{data: body, sizes: []int{size}}, tc.in, tc.out, false, nil, 64<<10)
					outLen, _ = io.Copy(io.Discard, s)
				}
				b.ReportMetric(float64(outLen)/float64(len(page))*100, "out%")
			})
		}
	}
}

// endless yields a document's bytes on demand and never ends; used to
// hold many streams in flight at once.
type endless struct {
	data []byte
	off  int
}

func (r *endless) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off += n
	if r.off == len(r.data) {
		r.off = 0
	}
	return n, nil
}

func (r *endless) Close() error { return nil }

// TestInFlightHeap measures the heap each in-flight rewriting stream holds
// while it is in the middle of a 10 MB response: the rewriter's buffers,
// decoder and encoder. Input bytes are shared and not counted.
func TestInFlightHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	page := loadPage(t)
	var big []byte
	for len(big) < 10<<20 {
		big = append(big, page...)
	}
	const streams = 50
	type pair struct {
		in, out encoding
		private bool // low_memory off
	}
	for _, p := range []pair{{encIdentity, encIdentity, false}, {encIdentity, encGzip, false}, {encGzip, encGzip, false},
		{encDeflate, encDeflate, false}, {encBrotli, encBrotli, false}, {encIdentity, encGzip, true}, {encGzip, encGzip, true}} {
		e := p.in
		body := upstreamEncode(t, e, big)
		cfg := DefaultConfig()
		cfg.LowMemory = !p.private
		c, err := newCodecs(cfg) // fresh pools: nothing reused across streams
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ss := make([]*stream, streams)
		buf := make([]byte, 32<<10)
		for i := range ss {
			ss[i] = newStream(c, &endless{data: body}, e, p.out, false, []byte("<M>"), 64<<10)
			for n := 0; n < 1<<20; { // 1 MiB into the body: past the head, copying
				m, err := ss[i].Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				n += m
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / streams
		t.Logf("%8v -> %-8v low_memory=%-5v heap per in-flight stream: %6d KiB", e, p.out, !p.private, per>>10)
		runtime.KeepAlive(ss)
		if e != encBrotli && !p.private && per > 256<<10 {
			t.Errorf("%v: %d KiB per stream, budget 256 KiB", e, per>>10)
		}
	}
}
