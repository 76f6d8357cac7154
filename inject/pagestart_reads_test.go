package inject

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// errSecondReview is the upstream failure the tests below inject.
var errSecondReview = errors.New("second review: upstream broke off")

// secondReviewGzip compresses doc as gzip members split at cuts (an empty
// cut gives an empty member) with a sync flush at each of flushes.
func secondReviewGzip(t testing.TB, doc []byte, members []int, flushes []int) []byte {
	t.Helper()
	var out bytes.Buffer
	write := func(part []byte, off int) {
		zw, err := stdgzip.NewWriterLevel(&out, 6)
		if err != nil {
			t.Fatal(err)
		}
		at := 0
		for _, f := range flushes {
			if f-off > at && f-off < len(part) {
				zw.Write(part[at : f-off])
				zw.Flush()
				at = f - off
			}
		}
		zw.Write(part[at:])
		zw.Close()
	}
	prev := 0
	for _, m := range members {
		write(doc[prev:m], prev)
		prev = m
	}
	write(doc[prev:], prev)
	return out.Bytes()
}

type secondReviewCase struct {
	name     string
	doc, up  []byte
	remember []int // upstream pieces of the response whose start is remembered
}

func secondReviewCases(t testing.TB) []secondReviewCase {
	page := bigPage(rand.New(rand.NewPCG(71, 72)), 60<<10)
	body := page[bytes.Index(page, []byte("<body>")):]
	starts := map[string][]byte{
		"plain":      []byte("<html><head>"),
		"bom":        []byte("\xEF\xBB\xBF<html><head>"),
		"bom only":   []byte("\xEF\xBB\xBF<head>"),
		"long name":  []byte("<htmlx><head>"),
		"no head":    []byte("<html>"),
		"title":      []byte("<title>t</title><head>"),
		"head attrs": []byte("<HEAD lang=en>"),
	}
	var cases []secondReviewCase
	for sn, st := range starts {
		doc := append(bytes.Clone(st), body...)
		for _, shape := range []struct {
			name             string
			members, flushes []int
		}{
			{"one member", nil, nil},
			{"flush 1", nil, []int{1}},
			{"flush 1 2 3", nil, []int{1, 2, 3}},
			{"flush 3 5", nil, []int{3, 5}},
			{"flush 4", nil, []int{4}},
			{"empty member", []int{0}, nil},
			{"two empty members", []int{0, 0}, []int{2}},
			{"member 2", []int{2}, nil},
			{"member 3 flush 5", []int{3}, []int{5}},
		} {
			up := secondReviewGzip(t, doc, shape.members, shape.flushes)
			for _, rem := range [][]int{{16 << 10}, {10, 16 << 10}, {10, 6, 16 << 10}} {
				cases = append(cases, secondReviewCase{
					name:     fmt.Sprintf("%s/%s/%v", sn, shape.name, rem),
					doc:      doc,
					up:       up,
					remember: rem,
				})
			}
		}
	}
	return cases
}

// secondReviewRun reads a whole stream and returns its output and error.
func secondReviewRun(c *codecs, ps *pageStarts, src io.ReadCloser, markup []byte) (out []byte, ahead bool, err error) {
	s := newStream(c, src, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
	if ps != nil {
		s.starts, s.startKey = ps, "h/p"
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := s.Read(buf)
		out = append(out, buf[:n]...)
		if s.phase == phAhead || s.ahead != nil {
			ahead = true
		}
		if rerr == io.EOF {
			return out, ahead, nil
		}
		if rerr != nil {
			return out, ahead, rerr
		}
	}
}

// TestSecondReviewAheadMatchesSearch: for page starts that take one or
// several decoded reads (BOM, a tag name at a flush, empty or tiny first
// members), remembered from a response delivered in any pieces, every
// later response delivered in any pieces comes out byte for byte as the
// same response without page starts, and never fails its check.
func TestSecondReviewAheadMatchesSearch(t *testing.T) {
	c := testCodecs(t)
	markup := []byte(`<script src="/__replay/gate.js" async></script>`)
	aheads := 0
	for _, tc := range secondReviewCases(t) {
		var ps pageStarts
		if _, _, err := secondReviewRun(c, &ps, &chunkReader{data: tc.up, sizes: tc.remember}, markup); err != nil {
			t.Fatalf("%s: remembering run: %v", tc.name, err)
		}
		if ps.get("h/p") == nil {
			continue
		}
		for _, sizes := range [][]int{{16 << 10}, {64 << 10}, {4200, 1}, {10, 16 << 10}} {
			want, _, err := secondReviewRun(c, nil, &chunkReader{data: tc.up, sizes: sizes}, markup)
			if err != nil {
				t.Fatalf("%s %v: without page starts: %v", tc.name, sizes, err)
			}
			got, ahead, err := secondReviewRun(c, &ps, &chunkReader{data: tc.up, sizes: sizes}, markup)
			if err != nil {
				t.Fatalf("%s %v: with page starts (ahead %v): %v", tc.name, sizes, ahead, err)
			}
			if ahead {
				aheads++
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s %v: output with page starts (ahead %v) differs from the one without", tc.name, sizes, ahead)
			}
			if ps.get("h/p") == nil {
				t.Fatalf("%s %v: the start was forgotten", tc.name, sizes)
			}
		}
	}
	if aheads == 0 {
		t.Fatal("no response was sent ahead: the test does not test aheadStep")
	}
}

// TestSecondReviewAheadNeverEndsCleanlyAfterError: a response sent ahead
// whose upstream breaks off at any point fails; it never ends as if the
// page were complete. One that ends early with io.EOF within its first
// chunk fails too.
func TestSecondReviewAheadNeverEndsCleanlyAfterError(t *testing.T) {
	c := testCodecs(t)
	markup := []byte(`<b>`)
	checked := 0
	for i, tc := range secondReviewCases(t) {
		if i%5 != 0 {
			continue // a sample: every start and shape, fewer pieces
		}
		var ps pageStarts
		if _, _, err := secondReviewRun(c, &ps, &chunkReader{data: tc.up, sizes: tc.remember}, markup); err != nil {
			t.Fatal(err)
		}
		st := ps.get("h/p")
		if st == nil {
			continue
		}
		for _, upErr := range []error{errSecondReview, io.EOF, io.ErrUnexpectedEOF} {
			for cut := 10; cut < len(tc.up); cut += max(1, min(len(st.raw)/7, 97)) {
				if cut > len(st.raw)+64 {
					if upErr == io.EOF {
						// After the cut a clean early end is the
						// transport's to catch (splice.go).
						break
					}
					cut += 997
				}
				ps.put("h/p", st.raw, st.prefix, st.xml) // a failed check forgets it
				src := &chunkReader{data: tc.up[:cut], sizes: []int{16 << 10}, err: upErr}
				_, ahead, err := secondReviewRun(c, &ps, src, markup)
				if !ahead {
					continue
				}
				checked++
				if err == nil {
					t.Fatalf("%s: upstream %v after %d of %d bytes (start %d raw): the response ended cleanly", tc.name, upErr, cut, len(tc.up), len(st.raw))
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no response was sent ahead")
	}
}

// TestSecondReviewHTMLTypeNonASCII: the shortcuts compare ASCII only.
// strings.EqualFold folds U+017F (ſ) to 's' and U+212A (K) to 'k', so
// "text/html; charſet=utf-8", which mime.ParseMediaType rejects, must not
// be taken for HTML by the shortcut.
func TestSecondReviewHTMLTypeNonASCII(t *testing.T) {
	for _, v := range []string{
		"text/html; charſet=utf-8", "text/html;charſet=utf-8", "TEXT/HTML; CHARſET=UTF-8",
		"text/html; charset=utf-8", "text/html;CharSet=UTF-8", "text/html", "TEXT/html",
	} {
		mt, cs, ok := htmlType(v)
		wmt, wcs, wok := htmlTypeReference(v)
		if mt != wmt || cs != wcs || ok != wok {
			t.Errorf("htmlType(%q) = %q, %q, %v; want %q, %q, %v", v, mt, cs, ok, wmt, wcs, wok)
		}
	}
}

// TestSecondReviewHintsKeyBounded: the path hints, keyed like the page
// starts by host and path, are bounded in bytes too: 4096 paths of up to
// 64 KiB (the proxy's MaxHeaderBytes) would be 256 MiB.
func TestSecondReviewHintsKeyBounded(t *testing.T) {
	var h pathHints
	key := "h/" + strings.Repeat("a", 64<<10)
	h.set(key, hintLarge)
	if h.get(key) != hintNone {
		t.Fatal("a 64 KiB path hint was kept")
	}
	short := "h/" + strings.Repeat("a", maxStartKey-2)
	h.set(short, hintLarge)
	if h.get(short) != hintLarge {
		t.Fatal("a path hint within the bound was not kept")
	}
}

// TestSecondReviewTagLeavesEarlyAfterEmptyMember: a gzip body whose first
// member is empty (inflate.Reset for the next member drops the eager
// hand-outs) still gets its start and the tag out after a few KiB of the
// page were decoded, as TestSpliceTagLeavesEarly checks for one member;
// with and without a remembered start.
func TestSecondReviewTagLeavesEarlyAfterEmptyMember(t *testing.T) {
	doc := bigPage(rand.New(rand.NewPCG(12, 13)), 300<<10)
	var up bytes.Buffer
	zw := stdgzip.NewWriter(&up)
	zw.Close()
	up.Write(encodeBytes(t, encGzip, false, doc))
	c := testCodecs(t)
	var ps pageStarts
	at := bytes.Index(doc, []byte("<head>")) + len("<head>")
	for run := range 2 {
		g := &gatedReader{t: t, data: bytes.Clone(up.Bytes()), limit: 3000}
		s := newStream(c, g, encGzip, encGzip, false, []byte("<b>"), DefaultConfig().MaxHeadBytes)
		s.starts, s.startKey = &ps, "h/p"
		buf := make([]byte, 64<<10)
		n, err := s.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		g.open = true
		zr, err := stdgzip.NewReader(bytes.NewReader(buf[:n]))
		if err != nil {
			t.Fatal(err)
		}
		first, _ := io.ReadAll(zr) // unexpected EOF: the stream goes on
		if want := string(doc[:at]) + "<b>"; string(first) != want {
			t.Fatalf("run %d: first output decodes to %q, want %q", run, first, want)
		}
		rest, err := io.ReadAll(s)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got := decodeBytes(t, encGzip, append(buf[:n:n], rest...)); !bytes.Equal(got, withMarkup(doc, at, []byte("<b>"))) {
			t.Fatalf("run %d: output is not the page with the markup", run)
		}
	}
}
