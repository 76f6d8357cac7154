package inject

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// reviewRun rewrites up (gzip) through a stream remembering page starts in
// ps under key, and returns the output, whether it was sent ahead and the
// read error.
func reviewRun(c *codecs, ps *pageStarts, key string, xml bool, up []byte, sizes []int, markup []byte) (out []byte, ahead bool, err error) {
	s := newStream(c, &chunkReader{data: up, sizes: sizes}, encGzip, encGzip, xml, markup, DefaultConfig().MaxHeadBytes)
	s.starts, s.startKey = ps, key
	buf := make([]byte, 64<<10)
	n, err := s.Read(buf)
	out = bytes.Clone(buf[:n])
	ahead = s.phase == phAhead
	if err != nil {
		return out, ahead, err
	}
	rest, err := io.ReadAll(s)
	return append(out, rest...), ahead, err
}

func withMarkup(doc []byte, at int, markup []byte) []byte {
	return append(append(bytes.Clone(doc[:at]), markup...), doc[at:]...)
}

// TestReviewAheadFirstChunkOverTwoReads: when the first decoded read holds
// nothing the search may release (a UTF-8 BOM or the start of a tag name
// that the upstream flushed on its own, or nothing at all: an empty first
// gzip member), the search reads on and finds the insertion point in a
// later read with nothing emitted before, so the start is remembered.
// Every later response of the page must come out as the first one did,
// not fail with errAhead.
func TestReviewAheadFirstChunkOverTwoReads(t *testing.T) {
	markup := []byte(`<script src="/__replay/gate.js" async></script>`)
	page := append([]byte("<!DOCTYPE html><html><head><title>x</title></head><body>"), bytes.Repeat([]byte("<p>hello world</p>\n"), 5000)...)
	bom := append([]byte("\xEF\xBB\xBF"), page...)
	flushed := func(doc []byte, at int) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(doc[:at])
		zw.Flush()
		zw.Write(doc[at:])
		zw.Close()
		return b.Bytes()
	}
	var empty bytes.Buffer
	zw := gzip.NewWriter(&empty)
	zw.Close()
	empty.Write(stdGzip(t, page, 6))
	for _, tc := range []struct {
		name    string
		doc, up []byte
	}{
		{"bom then flush", bom, flushed(bom, 3)},
		{"tag name then flush", page, flushed(page, 1)},
		{"empty first member", page, empty.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCodecs(t)
			var ps pageStarts
			sizes := []int{16 << 10}
			out1, _, err := reviewRun(c, &ps, "h/p", false, tc.up, sizes, markup)
			if err != nil {
				t.Fatalf("first response: %v", err)
			}
			if ps.get("h/p") == nil {
				t.Fatal("start not remembered: the test does not test the ahead path")
			}
			for i := 2; i <= 3; i++ {
				out, _, err := reviewRun(c, &ps, "h/p", false, tc.up, sizes, markup)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if !bytes.Equal(out, out1) {
					t.Fatalf("response %d differs from the first", i)
				}
			}
			at := bytes.Index(tc.doc, []byte("<head>")) + len("<head>")
			if got := decodeBytes(t, encGzip, out1); !bytes.Equal(got, withMarkup(tc.doc, at, markup)) {
				t.Fatal("output is not the page with the markup")
			}
		})
	}
}

// TestReviewAheadXMLSamePath: the same bytes served at the same path as
// text/html and as application/xhtml+xml have different insertion points
// (<title/> is empty only in XML). The XHTML response must come out as
// itself, not fail.
func TestReviewAheadXMLSamePath(t *testing.T) {
	markup := []byte(`<b>`)
	page := bigPage(rand.New(rand.NewPCG(54, 55)), 100<<10)
	doc := append([]byte(`<html><title/><head><title>T</title></head>`), page[bytes.Index(page, []byte("<body>")):]...)
	up := stdGzip(t, doc, 6)
	c := testCodecs(t)
	var ps pageStarts
	sizes := []int{16 << 10}
	if _, _, err := reviewRun(c, &ps, "k", false, up, sizes, markup); err != nil {
		t.Fatal(err)
	}
	want, _, err := reviewRun(c, nil, "", true, up, sizes, markup)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		out, _, err := reviewRun(c, &ps, "k", true, up, sizes, markup)
		if err != nil {
			t.Fatalf("xhtml response %d: %v", i, err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("xhtml response %d differs from one without page starts", i)
		}
	}
}

// TestReviewAheadMismatchForgets: a start that failed its check is not
// sent again: the next response of the page comes out right.
func TestReviewAheadMismatchForgets(t *testing.T) {
	markup := []byte(`<b>`)
	doc := bigPage(rand.New(rand.NewPCG(56, 57)), 100<<10)
	up := stdGzip(t, doc, 6)
	c := testCodecs(t)
	var ps pageStarts
	sizes := []int{16 << 10}
	want, _, err := reviewRun(c, &ps, "k", false, up, sizes, markup)
	if err != nil {
		t.Fatal(err)
	}
	old := ps.get("k")
	ps.m["k"] = &pageStart{raw: old.raw, prefix: bytes.ToUpper(old.prefix), xml: old.xml}
	if _, _, err := reviewRun(c, &ps, "k", false, up, sizes, markup); !errors.Is(err, errAhead) {
		t.Fatalf("error %v, want %v", err, errAhead)
	}
	out, _, err := reviewRun(c, &ps, "k", false, up, sizes, markup)
	if err != nil {
		t.Fatalf("the response after a failed check: %v", err)
	}
	if !bytes.Equal(out, want) {
		t.Fatal("the response after a failed check differs")
	}
}

// TestReviewPageStartsKeyBounded: page starts are bounded in bytes, not
// only in number: a path of 64 KiB is not kept.
func TestReviewPageStartsKeyBounded(t *testing.T) {
	var ps pageStarts
	key := "h/" + strings.Repeat("a", 64<<10)
	ps.put(key, []byte{1}, []byte("<html>"), false)
	if ps.get(key) != nil {
		t.Fatal("a 64 KiB key was kept")
	}
}

// TestReviewAheadConcurrent: responses of two pages rewritten at once with
// shared page starts (go test -race) each come out as their own page.
func TestReviewAheadConcurrent(t *testing.T) {
	markup := []byte(`<b>`)
	c := testCodecs(t)
	var ps pageStarts
	docs := [][]byte{bigPage(rand.New(rand.NewPCG(58, 59)), 80<<10), bigPage(rand.New(rand.NewPCG(60, 61)), 80<<10)}
	var ups, wants [2][]byte
	for i, d := range docs {
		ups[i] = stdGzip(t, d, 6)
		at := bytes.Index(d, []byte("<head>")) + len("<head>")
		wants[i] = withMarkup(d, at, markup)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				p := (g + i) % 2
				out, _, err := reviewRun(c, &ps, "k", false, ups[p], []int{16 << 10}, markup)
				if err != nil {
					errs <- err
					return
				}
				zr, err := gzip.NewReader(bytes.NewReader(out))
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, wants[p]) {
					errs <- errors.New("output is not its own page")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
