package inject

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// aheadRun rewrites the gzip body up in reads of the given sizes with
// page starts remembered in ps under key, and returns the first read's
// output, the whole output, and whether the start was sent ahead.
func aheadRun(t *testing.T, c *codecs, ps *pageStarts, key string, up []byte, sizes []int, markup []byte) (first, out []byte, ahead bool) {
	t.Helper()
	s := newStream(c, &chunkReader{data: up, sizes: sizes}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
	s.starts, s.startKey = ps, key
	buf := make([]byte, 64<<10)
	n, err := s.Read(buf)
	if err != nil {
		t.Fatalf("first read: %v", err)
	}
	first = bytes.Clone(buf[:n])
	ahead = s.phase == phAhead
	rest, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return first, append(first, rest...), ahead
}

// TestStartSentAhead: the second response of a page whose body starts with
// the same bytes gets its start and the tag from the first read, before
// anything is decoded, and its output is byte for byte the first
// response's; pages of other encoders and other pages under the same key
// are not sent ahead, and each output decodes to its own page.
func TestStartSentAhead(t *testing.T) {
	markup := []byte(`<script src="/__replay/gate.js" async></script>`)
	doc := bigPage(rand.New(rand.NewPCG(40, 41)), 300<<10)
	other := bigPage(rand.New(rand.NewPCG(42, 43)), 300<<10)
	at := bytes.Index(doc, []byte("<head>")) + len("<head>")
	for _, g := range gzippers() {
		t.Run(g.name, func(t *testing.T) {
			c := testCodecs(t)
			var ps pageStarts
			up := g.fn(t, doc)
			sizes := []int{8 << 10, 3000, 32 << 10}
			_, out1, ahead1 := aheadRun(t, c, &ps, "h/page", up, sizes, markup)
			if ahead1 {
				t.Fatal("first response sent ahead with nothing remembered")
			}
			first, out2, ahead2 := aheadRun(t, c, &ps, "h/page", up, sizes, markup)
			stored := g.name != "std-stored" // stored blocks hand out more than 2 KiB at once
			if ahead2 != stored {
				t.Fatalf("second response sent ahead: %v, want %v", ahead2, stored)
			}
			if !bytes.Equal(out1, out2) {
				t.Fatal("the second output differs from the first")
			}
			want := append(append(bytes.Clone(doc[:at]), markup...), doc[at:]...)
			if got := decodeBytes(t, encGzip, out2); !bytes.Equal(got, want) {
				t.Fatal("output is not the page with the markup after <head>")
			}
			zr, err := gzip.NewReader(bytes.NewReader(first))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(zr); string(got) != string(doc[:at])+string(markup) { // unexpected EOF: the stream goes on
				t.Fatalf("first read decodes to %q", got)
			}

			// Another page under the same key is not sent ahead, and comes
			// out as itself.
			_, out3, ahead3 := aheadRun(t, c, &ps, "h/page", g.fn(t, other), sizes, markup)
			if ahead3 {
				t.Fatal("another page sent ahead")
			}
			at3 := bytes.Index(other, []byte("<head>")) + len("<head>")
			want3 := append(append(bytes.Clone(other[:at3]), markup...), other[at3:]...)
			if got := decodeBytes(t, encGzip, out3); !bytes.Equal(got, want3) {
				t.Fatal("the other page's output is wrong")
			}
		})
	}
}

// TestStartAheadSameStartOtherRest: a page whose first 150 KB are those of
// the remembered one but whose rest differs is sent ahead (its first
// bytes are the same: the encoder ends a block every 5,000 bytes) and comes
// out as itself.
func TestStartAheadSameStartOtherRest(t *testing.T) {
	markup := []byte(`<b>`)
	rng := rand.New(rand.NewPCG(44, 45))
	doc := bigPage(rng, 300<<10)
	changed := append(bytes.Clone(doc[:150<<10]), bigPage(rng, 200<<10)...)
	c := testCodecs(t)
	var ps pageStarts
	sizes := []int{16 << 10}
	gz := gzippers()[2].fn // compress/flate, level 9, a flush every 5,000 bytes
	aheadRun(t, c, &ps, "k", gz(t, doc), sizes, markup)
	up := gz(t, changed)
	_, out, ahead := aheadRun(t, c, &ps, "k", up, sizes, markup)
	if !ahead {
		t.Fatal("a page with the same first bytes was not sent ahead")
	}
	at := bytes.Index(changed, []byte("<head>")) + len("<head>")
	want := append(append(bytes.Clone(changed[:at]), markup...), changed[at:]...)
	if got := decodeBytes(t, encGzip, out); !bytes.Equal(got, want) {
		t.Fatal("output is not the changed page with the markup")
	}
}

// TestStartAheadChecked: if the decoded start were not the one sent ahead
// (a remembered start altered here; inflating cannot produce it), the
// response fails instead of going on with another page's start.
func TestStartAheadChecked(t *testing.T) {
	markup := []byte(`<b>`)
	doc := bigPage(rand.New(rand.NewPCG(46, 47)), 100<<10)
	up := stdGzip(t, doc, 6)
	c := testCodecs(t)
	var ps pageStarts
	aheadRun(t, c, &ps, "k", up, []int{16 << 10}, markup)
	old := ps.get("k")
	if old == nil {
		t.Fatal("nothing remembered")
	}
	for _, tc := range []struct {
		name   string
		prefix []byte
	}{
		{"other bytes", bytes.ToUpper(old.prefix)},
		{"shorter", old.prefix[:len(old.prefix)-1]},
		{"longer", append(bytes.Clone(old.prefix), 'x')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps.m["k"] = &pageStart{raw: old.raw, prefix: tc.prefix}
			s := newStream(c, &chunkReader{data: up, sizes: []int{16 << 10}}, encGzip, encGzip, false, markup, DefaultConfig().MaxHeadBytes)
			s.starts, s.startKey = &ps, "k"
			_, err := io.ReadAll(s)
			if !errors.Is(err, errAhead) {
				t.Fatalf("read error %v, want %v", err, errAhead)
			}
		})
	}
}

func TestPageStartsBounded(t *testing.T) {
	var ps pageStarts
	for i := range 3 * maxStarts {
		ps.put(fmt.Sprintf("/p/%d", i), []byte{1, 2, 3}, []byte("<html>"), false)
		if len(ps.m) > maxStarts {
			t.Fatalf("%d paths kept", len(ps.m))
		}
	}
	ps.put("/big", make([]byte, maxStartRaw+1), nil, false)
	ps.put("/long", nil, make([]byte, storedStart+1), false)
	if ps.get("/big") != nil || ps.get("/long") != nil {
		t.Fatal("an oversized start was kept")
	}
}
