package inject

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"
)

func TestCRC32Shift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 3, 4, 100, 4096, 65537, 1 << 20} {
		a := make([]byte, rng.IntN(300))
		b := make([]byte, n)
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := crc32.ChecksumIEEE(append(bytes.Clone(a), b...))
		if got := crc32Shift(crc32.ChecksumIEEE(a), uint32(n)) ^ crc32.ChecksumIEEE(b); got != want {
			t.Errorf("len %d+%d: %08x, want %08x", len(a), n, got, want)
		}
	}
}

// bigPage is an HTML page of about n bytes with text that compresses like
// a real page and numbers that do not repeat.
func bigPage(rng *rand.Rand, n int) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title></head>\n<body>\n")
	for b.Len() < n {
		fmt.Fprintf(&b, "<div class=\"card\"><a href=\"/p/%d\">Product %d</a><span class=\"price\">%d.%02d €</span></div>\n",
			rng.IntN(1e6), rng.IntN(1e4), rng.IntN(500), rng.IntN(100))
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

type gzipper struct {
	name string
	fn   func(t *testing.T, b []byte) []byte
}

func gzippers() []gzipper {
	std := func(level, flushEvery int, hdr bool) func(*testing.T, []byte) []byte {
		return func(t *testing.T, b []byte) []byte {
			var out bytes.Buffer
			w, err := stdgzip.NewWriterLevel(&out, level)
			if err != nil {
				t.Fatal(err)
			}
			if hdr {
				w.Name, w.Comment, w.Extra, w.ModTime = "page.html", "a comment", []byte("xx\x02\x00ab"), time.Unix(1e9, 0)
			}
			for len(b) > 0 {
				n := min(len(b), flushEvery)
				w.Write(b[:n])
				b = b[n:]
				if flushEvery < 1<<30 {
					w.Flush()
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}
	}
	k := func(level int) func(*testing.T, []byte) []byte {
		return func(t *testing.T, b []byte) []byte {
			var out bytes.Buffer
			w, _ := gzip.NewWriterLevel(&out, level)
			w.Write(b)
			w.Close()
			return out.Bytes()
		}
	}
	return []gzipper{
		{"std-6", std(6, 1<<30, false)},
		{"std-1-header-fields", std(1, 1<<30, true)},
		{"std-9-flush-5000", std(9, 5000, false)},
		{"std-huffman-only", std(stdgzip.HuffmanOnly, 1<<30, false)},
		{"std-stored", std(stdgzip.NoCompression, 1<<30, false)},
		{"klauspost-1", k(1)},
		{"klauspost-6", k(6)},
		{"klauspost-9", k(9)},
	}
}

// TestSplice rewrites gzip pages from several encoders in uneven pieces
// and checks that the output is one valid gzip member (CRC and size
// checked by two decoders), that it decodes to the page with the markup
// after <head>, and that large pages were cut, as early as allowed: the
// output ends with the upstream's own compressed bytes.
func TestSplice(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	markup := []byte(`<script src="/__replay/gate.js" async></script>`)
	c := testCodecs(t)
	for _, size := range []int{20 << 10, 70 << 10, 300 << 10, 2 << 20} {
		doc := bigPage(rng, size)
		at := bytes.Index(doc, []byte("<head>")) + len("<head>")
		want := append(append(bytes.Clone(doc[:at]), markup...), doc[at:]...)
		for _, g := range gzippers() {
			t.Run(fmt.Sprintf("%s/%dk", g.name, size>>10), func(t *testing.T) {
				up := g.fn(t, doc)
				sizes := []int{1 + rng.IntN(100), 1 + rng.IntN(20000), 1 + rng.IntN(3000)}
				s := newStream(c, &chunkReader{data: up, sizes: sizes}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
				var r io.Reader = s
				if size == 300<<10 {
					r = iotest.OneByteReader(s) // reads of one byte: the small-buffer path
				}
				out, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				for name, z := range map[string]func() (io.Reader, error){
					"compress/gzip": func() (io.Reader, error) { return stdgzip.NewReader(bytes.NewReader(out)) },
					"klauspost":     func() (io.Reader, error) { return gzip.NewReader(bytes.NewReader(out)) },
				} {
					zr, err := z()
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					got, err := io.ReadAll(zr)
					if err != nil {
						t.Fatalf("%s: %v (cut at %d)", name, err, s.cutAt)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: decoded %d bytes, want %d", name, len(got), len(want))
					}
				}
				if size < spliceDistance {
					if s.cutAt != 0 {
						t.Fatalf("a %d-byte page was cut at %d", size, s.cutAt)
					}
					return
				}
				if size >= 300<<10 && (s.cutAt == 0 || s.cutAt > 1<<20) {
					t.Fatalf("cut at %d of %d", s.cutAt, len(doc))
				}
				// Inside Huffman blocks the cut comes right where it may
				// first: at the symbol start spliceDistance past the tag,
				// or one copy later. Stored blocks are cut between blocks.
				if earliest := int64(at) + spliceDistance; g.name != "std-stored" && size > 2*spliceDistance &&
					(s.cutAt < earliest || s.cutAt > earliest+258) {
					t.Fatalf("cut at %d, want within a copy's length after %d", s.cutAt, earliest)
				}
				if s.cutAt > 0 {
					tail := up[s.cutIn+1 : len(up)-8]
					if !bytes.HasSuffix(out[:len(out)-8], tail) {
						t.Fatal("cut, but the output does not end with the upstream's bytes")
					}
				}
			})
		}
	}
}

// TestSpliceOff: with splice_gzip off the whole page is re-encoded.
func TestSpliceOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SpliceGzip = false
	c, err := newCodecs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := bigPage(rand.New(rand.NewPCG(4, 5)), 300<<10)
	out, s := runStream(t, c, encGzip, false, encodeBytes(t, encGzip, false, doc), []int{4096}, []byte("<b>"))
	if s.cutAt != 0 || !bytes.Contains(decodeBytes(t, encGzip, out), []byte("<head><b>")) {
		t.Fatalf("cut at %d", s.cutAt)
	}
}

// TestSpliceBrokenUpstream: a body that breaks off after the cut ends
// with an error (the proxy aborts the response), never with a trailer.
func TestSpliceBrokenUpstream(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(6, 7)), 500<<10)
	up := encodeBytes(t, encGzip, false, doc)
	for _, keep := range []int{len(up) / 2, len(up) - 9, len(up) - 3} {
		src := io.MultiReader(bytes.NewReader(up[:keep]), iotest.ErrReader(io.ErrUnexpectedEOF))
		s := newStream(testCodecs(t), io.NopCloser(src), encGzip, encGzip, false, []byte("<b>"), DefaultConfig().MaxHeadBytes)
		if _, err := io.ReadAll(s); err == nil {
			t.Errorf("body broken after %d of %d bytes: no error", keep, len(up))
		}
	}
	// A body that simply ends early (no length to tell) gets a trailer
	// that the client's CRC check refuses, or no trailer at all.
	s := newStream(testCodecs(t), io.NopCloser(bytes.NewReader(up[:len(up)-3])), encGzip, encGzip, false, []byte("<b>"), DefaultConfig().MaxHeadBytes)
	out, err := io.ReadAll(s)
	if err == nil {
		zr, zerr := gzip.NewReader(bytes.NewReader(out))
		if zerr == nil {
			_, zerr = io.ReadAll(zr)
		}
		if zerr == nil {
			t.Fatal("a truncated body came out as a valid page")
		}
	}
}

func BenchmarkSplice(b *testing.B) {
	doc := bigPage(rand.New(rand.NewPCG(8, 9)), 2<<20)
	var up bytes.Buffer
	w, _ := stdgzip.NewWriterLevel(&up, 6)
	w.Write(doc)
	w.Close()
	for _, splice := range []bool{false, true} {
		b.Run(fmt.Sprintf("splice=%v", splice), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.SpliceGzip = splice
			c, _ := newCodecs(cfg)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				s := newStream(c, &chunkReader{data: up.Bytes(), sizes: []int{16 << 10}}, encGzip, encGzip, false, []byte("<b>"), cfg.MaxHeadBytes)
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{s}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSpliceStartStored: the page's start and the tag leave as stored
// blocks, not compressed: on the way to the first byte, borrowing and
// priming a compressor costs more than the few bytes it would save. The
// first read decodes about firstEager bytes of the page, no more.
func TestSpliceStartStored(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(14, 15)), 300<<10)
	up := encodeBytes(t, encGzip, false, doc)
	markup := []byte(`<script src="/__replay/gate.js" async></script>`)
	s := newStream(testCodecs(t), &chunkReader{data: up, sizes: []int{len(up)}}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
	buf := make([]byte, 64<<10)
	n, err := s.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	head := bytes.Index(doc, []byte("<head>")) + len("<head>")
	if !bytes.Contains(buf[:n], doc[:head]) || !bytes.Contains(buf[:n], markup) {
		t.Fatalf("first read (%d bytes) does not hold the page's start and the markup as they are", n)
	}
	if max := int64(firstEager + 258); s.sp.pos > max { // a match may overshoot: 258 bytes at most
		t.Errorf("first read decoded %d bytes, want at most %d", s.sp.pos, max)
	}
	rest, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, doc[:head]...), markup...), doc[head:]...)
	if got := decodeBytes(t, encGzip, append(buf[:n:n], rest...)); !bytes.Equal(got, want) {
		t.Fatal("decoded output is not the page with the markup after <head>")
	}
}

// TestCutHold: after a cut, what goes on is everything read but the last
// eight bytes, whatever the sizes of the reads, and the last eight are
// what is held.
func TestCutHold(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for range 200 {
		var c cutState
		var in, out []byte
		p := make([]byte, 1+rng.IntN(100))
		for range 1 + rng.IntN(30) {
			got := rng.IntN(len(p) + 1)
			if rng.IntN(3) == 0 {
				got = rng.IntN(min(9, len(p)+1))
			}
			for i := range got {
				p[i] = byte(rng.Uint32())
			}
			in = append(in, p[:got]...)
			n := c.hold(p, got)
			out = append(out, p[:n]...)
			want := max(0, len(in)-8)
			if !bytes.Equal(out, in[:want]) {
				t.Fatalf("after %d bytes read: %d passed on, want the first %d", len(in), len(out), want)
			}
			if !bytes.Equal(c.tail[:c.tailN], in[want:]) {
				t.Fatalf("after %d bytes read: holding %x, want %x", len(in), c.tail[:c.tailN], in[want:])
			}
		}
	}
}

// BenchmarkSpliceFirstRead: the work between a gzip page's first bytes
// arriving and the page's start with the tag leaving, on the way to the
// visitor's first byte: the gzip header, the first block's Huffman
// tables, firstEager decoded bytes, the scan and the stored blocks.
func BenchmarkSpliceFirstRead(b *testing.B) {
	doc := bigPage(rand.New(rand.NewPCG(8, 9)), 2<<20)
	up := encodeBytes(b, encGzip, false, doc)
	cfg := DefaultConfig()
	c, _ := newCodecs(cfg)
	markup := DefaultMarkup("/__replay")("0123456789abcdefghijkl")
	buf := make([]byte, 32<<10)
	b.SetBytes(firstEager)
	b.ReportAllocs()
	for b.Loop() {
		s := newStream(c, &chunkReader{data: up, sizes: []int{32 << 10}}, encGzip, encGzip, false, markup, cfg.MaxHeadBytes)
		n, err := s.Read(buf)
		if err != nil || !bytes.Contains(buf[:n], markup) {
			b.Fatalf("first read: %d bytes without the markup, %v", n, err)
		}
		s.finish() // back to the pools, as at a stream's end
	}
}

// TestPathHints: a large page is asked for gzip once it has been seen,
// and spliced; an upstream that compresses it on the fly is asked for
// identity again; small pages and clients without gzip stay on identity.
func TestPathHints(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(10, 11)), 400<<10)
	gz := encodeBytes(t, encGzip, false, doc)
	// A page whose <head> comes late: it cannot be cut in its first half
	// (32 KiB past the tag at the earliest), so gzip does not pay for it.
	lateHead := []byte("<!doctype html><!--" + strings.Repeat("comment ", 25<<10) + "--><html><head></head><body>" + strings.Repeat("<p>same</p>", 10000))
	var lateHeadBuf bytes.Buffer
	ow, _ := stdgzip.NewWriterLevel(&lateHeadBuf, 6)
	ow.Write(lateHead)
	ow.Close()
	lateHeadGz := lateHeadBuf.Bytes()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		seen = append(seen, r.URL.Path+" "+ae)
		w.Header().Set("Content-Type", "text/html")
		body, zbody := doc, gz
		switch r.URL.Path {
		case "/small":
			body = []byte(page)
		case "/latehead":
			body, zbody = lateHead, lateHeadGz
		}
		if ae == "gzip" && r.URL.Path != "/small" {
			w.Header().Set("Content-Encoding", "gzip")
			switch r.URL.Path {
			case "/onthefly":
				w.(http.Flusher).Flush() // chunked: no Content-Length
			case "/buffered": // an application's GZipMiddleware: a length, no date
				w.Header().Set("Content-Length", strconv.Itoa(len(zbody)))
			default: // a file stored compressed
				w.Header().Set("Content-Length", strconv.Itoa(len(zbody)))
				w.Header().Set("Last-Modified", "Sat, 28 Nov 2026 10:00:00 GMT")
			}
			w.Write(zbody)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	rw := newTestRewriter(t, nil)
	get := func(path, ae string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Encoding", ae)
		rw.PrepareRequest(req)
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if !rw.Rewrite(resp) {
			t.Fatalf("%s: not rewritten", path)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: Vary %q", path, resp.Header.Get("Vary"))
		}
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := parseEncoding(resp.Header.Values("Content-Encoding"))
		if !bytes.Contains(decodeBytes(t, e, out), []byte("gate.js")) {
			t.Fatalf("%s: markup missing", path)
		}
	}
	for i := 0; i < 3; i++ {
		get("/big", "gzip, deflate, br")
		get("/onthefly", "gzip, br")
		get("/buffered", "gzip")
		get("/small", "gzip")
		get("/big-br-client", "br")
		get("/latehead", "gzip")
	}
	want := []string{
		"/big identity", "/onthefly identity", "/buffered identity", "/small identity", "/big-br-client identity", "/latehead identity",
		"/big gzip", "/onthefly gzip", "/buffered gzip", "/small identity", "/big-br-client identity", "/latehead gzip",
		"/big gzip", "/onthefly identity", "/buffered identity", "/small identity", "/big-br-client identity", "/latehead identity",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("upstream saw:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestPathHintsBounded(t *testing.T) {
	var h pathHints
	for i := 0; i < 3*maxHints; i++ {
		h.set(fmt.Sprintf("/p/%d", i), hintLarge)
		if len(h.m) > maxHints {
			t.Fatalf("%d paths kept", len(h.m))
		}
	}
	h.set("/x", hintIdentity)
	h.set("/x", hintLarge)
	if h.get("/x") != hintIdentity {
		t.Fatal("an on-the-fly path went back to gzip")
	}
}

// FuzzSplice rewrites a page of 33–53 KB, whose start the fuzzer
// chooses, gzip-compressed at a chosen level with chosen flushes and
// delivered in chosen pieces, with and without splicing: both outputs must
// be valid gzip (CRC and size checked) of the same page. A second run with
// the first one's page start remembered must give the same bytes.
func FuzzSplice(f *testing.F) {
	f.Add([]byte("<!DOCTYPE html><html><head><title>x</title>"), uint64(1), int8(6), uint16(4000), uint16(0))
	f.Add([]byte("<html><!-- <head> --><HEAD>"), uint64(2), int8(-2), uint16(1), uint16(7001))
	f.Add([]byte("<p>no head here, body follows"), uint64(3), int8(0), uint16(65535), uint16(300))
	f.Add([]byte("\xef\xbb\xbf<html><script>var a='<head>'</script><head>"), uint64(4), int8(9), uint16(17), uint16(33000))
	spliced, whole := testCodecs(f), func() *codecs {
		cfg := DefaultConfig()
		cfg.SpliceGzip = false
		c, _ := newCodecs(cfg)
		return c
	}()
	markup := []byte(`<script src="/__replay/gate.js"></script>`)
	f.Fuzz(func(t *testing.T, start []byte, seed uint64, level int8, piece uint16, flushEvery uint16) {
		if len(start) > 4096 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		doc := append(bytes.Clone(start), bigPage(rng, 33<<10+rng.IntN(20<<10))...)
		lvl := int(level)%9 - 2 // -2 … 6: Huffman only, default, stored, 1 … 6 (9 is slow and adds nothing here)
		if lvl < -2 {
			lvl = -2
		}
		var up bytes.Buffer
		zw, err := stdgzip.NewWriterLevel(&up, lvl)
		if err != nil {
			t.Fatal(err)
		}
		// Flushes start blocks: pages this small have no other boundary
		// past 32 KiB with compress/flate, which starts one every 16 K
		// symbols. A flush every byte or so would only make the run slow.
		every := 1000 + int(flushEvery)%30000
		for rest := doc; len(rest) > 0; {
			n := min(len(rest), every)
			zw.Write(rest[:n])
			rest = rest[n:]
			zw.Flush()
		}
		zw.Close()
		// Reads of a few bytes cost the re-encoding path a sync flush each;
		// TestSplice covers them.
		sizes := []int{int(piece) + 100, int(piece)/3 + 100}
		var got [2][]byte
		for i, c := range []*codecs{spliced, whole} {
			s := newStream(c, &chunkReader{data: up.Bytes(), sizes: sizes}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
			out, err := io.ReadAll(s)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			zr, err := stdgzip.NewReader(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("splice %v: %v", i == 0, err)
			}
			if got[i], err = io.ReadAll(zr); err != nil {
				t.Fatalf("splice %v: %v (cut at %d)", i == 0, err, s.cutAt)
			}
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Fatalf("spliced page (%d bytes) differs from the re-encoded one (%d bytes)", len(got[0]), len(got[1]))
		}
		// The same body twice with page starts remembered: the second
		// response may be sent ahead (pagestart.go), and comes out byte
		// for byte as the first.
		var ps pageStarts
		var outs [2][]byte
		for i := range outs {
			s := newStream(spliced, &chunkReader{data: up.Bytes(), sizes: sizes}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
			s.starts, s.startKey = &ps, "k"
			if outs[i], err = io.ReadAll(s); err != nil {
				t.Fatalf("run %d with page starts: %v", i+1, err)
			}
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Fatal("the second run with page starts differs from the first")
		}
	})
}

// gatedReader hands out at most limit bytes until open is set, in pieces
// of 500 bytes; reading further before that fails the test.
type gatedReader struct {
	t     *testing.T
	data  []byte
	limit int
	open  bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.data) == 0 {
		return 0, io.EOF
	}
	if !g.open && g.limit <= 0 {
		g.t.Fatal("the rewriter read on before it gave out the page's start and the tag")
	}
	n := min(len(p), len(g.data), 500)
	if !g.open {
		n = min(n, g.limit)
		g.limit -= n
	}
	copy(p, g.data[:n])
	g.data = g.data[n:]
	return n, nil
}

func (g *gatedReader) Close() error { return nil }

// TestSpliceTagLeavesEarly: from a gzip page, the page's start and the tag
// come out after a few KiB of it were decoded, not after the decoder's
// 32 KiB window filled (firstEager, searchEager).
func TestSpliceTagLeavesEarly(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(12, 13)), 300<<10)
	up := encodeBytes(t, encGzip, false, doc)
	g := &gatedReader{t: t, data: up, limit: 3000} // ~15 KiB of page
	s := newStream(testCodecs(t), g, encGzip, encGzip, false, []byte("<b>"), DefaultConfig().MaxHeadBytes)
	buf := make([]byte, 64<<10)
	n, err := s.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	g.open = true
	zr, err := gzip.NewReader(bytes.NewReader(buf[:n]))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(zr) // unexpected EOF: the stream goes on
	at := bytes.Index(doc, []byte("<head>")) + len("<head>")
	if want := string(doc[:at]) + "<b>"; string(first) != want {
		t.Fatalf("first output decodes to %q, want %q", first, want)
	}
	rest, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeBytes(t, encGzip, append(buf[:n:n], rest...)); !bytes.Equal(got[at+3:], doc[at:]) {
		t.Fatal("the rest of the page is wrong")
	}
}

// stdGzip compresses b with compress/gzip at level, one member.
func stdGzip(t testing.TB, b []byte, level int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := stdgzip.NewWriterLevel(&out, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// spliceRun rewrites a gzip body with splicing on and returns the output,
// the stream and the read error.
func spliceRun(t *testing.T, src io.ReadCloser) ([]byte, *stream, error) {
	t.Helper()
	s := newStream(testCodecs(t), src, encGzip, encGzip, false, []byte("<b>"), DefaultConfig().MaxHeadBytes)
	out, err := io.ReadAll(s)
	return out, s, err
}

// TestSpliceChecksTrailerBeforeCut: a page decoded to its end (never cut)
// has its gzip trailer checked, like the non-splicing path: a bit flipped
// in a stored block, a wrong size, a missing or short trailer, bytes after
// the member and a second member's header cut short all end the body with
// an error.
func TestSpliceChecksTrailerBeforeCut(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(21, 22)), 20<<10)
	stored := stdGzip(t, doc, stdgzip.NoCompression)
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0x20
	good := stdGzip(t, doc, 6)
	badSize := bytes.Clone(good)
	badSize[len(badSize)-1] ^= 1
	for name, up := range map[string][]byte{
		"flipped bit":   flipped,
		"wrong size":    badSize,
		"no trailer":    good[:len(good)-8],
		"short trailer": good[:len(good)-3],
		"garbage after": append(bytes.Clone(good), "garbage!!"...),
		// A second member cut off in its file name: not a clean end.
		"second member cut short":   append(bytes.Clone(good), 0x1f, 0x8b, 8, 1<<3, 0, 0, 0, 0, 0, 255, 'p', 'a'),
		"second member header only": append(bytes.Clone(good), 0x1f, 0x8b, 8, 1<<2, 0, 0, 0, 0, 0, 255, 4),
	} {
		_, s, err := spliceRun(t, &chunkReader{data: up, sizes: []int{3000}})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if s.cutAt != 0 {
			t.Errorf("%s: cut at %d", name, s.cutAt)
		}
	}
}

// TestSpliceMultiMember: a body of several gzip members whose first ends
// before the cut is decoded whole, as by gzip readers, and not cut.
func TestSpliceMultiMember(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	doc1, doc2 := bigPage(rng, 10<<10), bigPage(rng, 300<<10)
	up := append(stdGzip(t, doc1, 6), stdGzip(t, doc2, 6)...)
	out, s, err := spliceRun(t, &chunkReader{data: up, sizes: []int{3000}})
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(doc1, []byte("<head>")) + len("<head>")
	want := append(append(append(bytes.Clone(doc1[:at]), "<b>"...), doc1[at:]...), doc2...)
	if got := decodeBytes(t, encGzip, out); !bytes.Equal(got, want) || s.cutAt != 0 {
		t.Fatalf("decoded %d bytes, want %d; cut at %d", len(got), len(want), s.cutAt)
	}
}

// lastReadFails hands out data and, with its last bytes, an error; later
// reads say io.EOF, as some bodies do.
type lastReadFails struct {
	data []byte
	err  error
}

func (r *lastReadFails) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

func (r *lastReadFails) Close() error { return nil }

// TestSpliceKeepsErrorAtCut: an upstream error that arrived with the
// bytes buffered at the cut still fails the body.
func TestSpliceKeepsErrorAtCut(t *testing.T) {
	for _, size := range []int{36 << 10, 45 << 10, 50 << 10} {
		doc := bigPage(rand.New(rand.NewPCG(8, 9)), size)
		var b bytes.Buffer
		w, _ := stdgzip.NewWriterLevel(&b, 6)
		for rest := doc; len(rest) > 0; rest = rest[min(len(rest), 2000):] {
			w.Write(rest[:min(len(rest), 2000)])
			w.Flush() // many blocks: a cut comes soon after 32 KiB
		}
		w.Close()
		_, s, err := spliceRun(t, &lastReadFails{data: b.Bytes(), err: io.ErrUnexpectedEOF})
		if err == nil {
			t.Errorf("%d KiB page (cut at %d): no error", size>>10, s.cutAt)
		}
	}
}

// TestSpliceOnlyCheckedBodies: a body delimited by the connection's close
// (no Content-Length, not chunked) is not spliced: after a cut, its
// truncation could not be told from its end.
func TestSpliceOnlyCheckedBodies(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(30, 31)), 300<<10)
	up := stdGzip(t, doc, 6)
	rw := newTestRewriter(t, nil)
	for _, tc := range []struct {
		name   string
		length int64
		te     []string
		proto  int
		splice bool
	}{
		{"content-length", int64(len(up)), nil, 1, true},
		{"chunked", -1, []string{"chunked"}, 1, true},
		{"http/2", -1, nil, 2, true},
		{"close-delimited", -1, nil, 1, false},
	} {
		req := httptest.NewRequest(http.MethodGet, "http://shop.test/page", nil)
		resp := &http.Response{
			StatusCode: 200, Request: req, ContentLength: tc.length, TransferEncoding: tc.te, ProtoMajor: tc.proto,
			Header: http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip"}},
			Body:   io.NopCloser(bytes.NewReader(up)),
		}
		if !rw.Rewrite(resp) {
			t.Fatalf("%s: not rewritten", tc.name)
		}
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if st := resp.Body.(*stream); (st.cutAt != 0) != tc.splice {
			t.Errorf("%s: cut at %d", tc.name, st.cutAt)
		}
		if !bytes.Contains(decodeBytes(t, encGzip, out), []byte("<head><script")) {
			t.Errorf("%s: markup missing", tc.name)
		}
	}
}

// TestVaryWhenNotRewritten: an answer to a request whose Accept-Encoding
// we chose varies with Accept-Encoding even when it is not rewritten.
func TestVaryWhenNotRewritten(t *testing.T) {
	rw := newTestRewriter(t, nil)
	req := httptest.NewRequest(http.MethodGet, "http://shop.test/missing", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", "gzip")
	rw.PrepareRequest(req)
	resp := &http.Response{StatusCode: 404, Request: req, ContentLength: 5, Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader("gone."))}
	if rw.Rewrite(resp) {
		t.Fatal("a 404 was rewritten")
	}
	if resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Vary %q", resp.Header.Get("Vary"))
	}
	// A page whose CSP forbids every script is not rewritten either.
	req = httptest.NewRequest(http.MethodGet, "http://shop.test/strict", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", "gzip")
	rw.PrepareRequest(req)
	resp = &http.Response{StatusCode: 200, Request: req, ContentLength: int64(len(page)), Body: io.NopCloser(strings.NewReader(page)),
		Header: http.Header{"Content-Type": {"text/html"}, "Content-Security-Policy": {"script-src 'none'"}}}
	if rw.Rewrite(resp) {
		t.Fatal("a page with script-src 'none' was rewritten")
	}
	if resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("CSP 'none': Vary %q", resp.Header.Get("Vary"))
	}
}

// TestReadDeclaredKeepsSize: reading a declared body does not double the
// buffer (sizes where the capacity Grow rounds to leaves less than
// bytes.MinRead spare).
func TestReadDeclaredKeepsSize(t *testing.T) {
	for _, n := range []int{20935, 253652, 261844, 262124, 256 << 10} {
		var in bytes.Buffer
		if err := readDeclared(&in, bytes.NewReader(make([]byte, n)), int64(n)); err != nil || in.Len() != n {
			t.Fatalf("%d: read %d, %v", n, in.Len(), err)
		}
		if in.Cap() > n+n/8+bytes.MinRead {
			t.Errorf("%d-byte body: buffer grew to %d", n, in.Cap())
		}
	}
}
