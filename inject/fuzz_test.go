package inject

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/net/html"
)

var rawTextNames = map[string]bool{
	"iframe": true, "noembed": true, "noframes": true, "noscript": true, "plaintext": true,
	"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
}

// validInsertions is the oracle: the offsets where markup may go according
// to golang.org/x/net/html's tokenizer. Only token boundaries qualify, and
// a text token may also be split after its leading whitespace; the offset
// right after a raw-text start tag (inside the element) never qualifies.
func validInsertions(doc []byte) map[int]bool {
	valid := map[int]bool{}
	z := html.NewTokenizer(bytes.NewReader(doc))
	off, prevRaw := 0, false
	bom := bytes.HasPrefix(doc, []byte("\xEF\xBB\xBF"))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !prevRaw {
				valid[off] = true // after the last token
			}
			return valid
		}
		raw := z.Raw()
		if !prevRaw {
			valid[off] = true
			if tt == html.TextToken {
				i := 0
				if off == 0 && bom {
					i = 3
					valid[3] = true
				}
				for ; i < len(raw) && isSpace(raw[i]); i++ {
					valid[off+i+1] = true
				}
			}
		}
		name, _ := z.TagName()
		prevRaw = (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && rawTextNames[string(name)]
		off += len(raw)
	}
}

// FuzzInject: random HTML, random chunking and encoding. The decoded
// output must equal the input with exactly one insertion at a valid point,
// or the response must be unchanged byte for byte.
func FuzzInject(f *testing.F) {
	for _, tc := range scanCases {
		if !tc.xml {
			f.Add([]byte(tc.in), uint64(len(tc.in)), uint8(0))
		}
	}
	f.Add([]byte(`<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>`), uint64(7), uint8(1))
	f.Add([]byte(`<html><script><!--<script>--></script><head>`), uint64(3), uint8(2))
	f.Add([]byte(`<title>a</title><p>`), uint64(99), uint8(3))
	f.Add([]byte(`<html><head>x`), uint64(1), uint8(4))

	c := testCodecs(f)
	f.Fuzz(func(t *testing.T, doc []byte, seed uint64, encSel uint8) {
		checkInject(t, c, doc, seed, encSel)
	})
}

// checkInject is the fuzz property for one document.
func checkInject(t *testing.T, c *codecs, doc []byte, seed uint64, encSel uint8) {
	t.Helper()
	markup := DefaultMarkup("/__replay")("")
	e := encoding(encSel % 4)
	raw := encSel&4 != 0 && e == encDeflate
	body := encodeBytes(t, e, raw, doc)
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	sizes := make([]int, 1+rng.IntN(8))
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(1+rng.IntN(64))
	}
	length := int64(-1)
	if e == encIdentity && seed&1 != 0 && len(body) > 0 {
		length = int64(len(body)) // a declared small page: rewritten whole
	}
	resp := &http.Response{
		StatusCode: 200, ContentLength: length,
		Header:  http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body:    &chunkReader{data: body, sizes: sizes},
		Request: &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}},
	}
	if e != encIdentity {
		resp.Header.Set("Content-Encoding", e.String())
	}
	rw := &Rewriter{cfg: DefaultConfig(), markup: DefaultMarkup("/__replay"), codecs: c, statuses: map[int]bool{200: true}, csp: cspPolicy{ourSource: "'self'"}}
	if !rw.Rewrite(resp) {
		t.Fatal("eligible response not rewritten")
	}
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	inserted, at := false, 0
	switch s := resp.Body.(type) {
	case *stream:
		inserted, at = s.inserted, int(s.insertAt)
	case *wholeBody:
		inserted, at = s.insertAt >= 0, s.insertAt
		if resp.ContentLength != int64(len(out)) {
			t.Fatalf("declared %d bytes, sent %d", resp.ContentLength, len(out))
		}
	default:
		t.Fatalf("body is a %T", resp.Body)
	}
	if !inserted {
		if !bytes.Equal(out, body) {
			t.Fatalf("not inserted but output differs from input for %q", doc)
		}
		return
	}
	got := decodeBytes(t, e, out)
	want := append(append(append([]byte(nil), doc[:at]...), markup...), doc[at:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("output is not the input with one insertion at %d:\ngot  %q\nwant %q", at, got, want)
	}
	if !validInsertions(doc)[at] {
		t.Fatalf("insertion at %d is not a valid point in %q", at, doc)
	}
}

// fragments are the pieces randomDoc assembles: the constructs the scanner
// must get right, in random order.
var fragments = []string{
	"<head>", "<HEAD>", "<head ", "</head>", "<html>", "<!doctype html>", "<body>", "<div>", "<p>",
	"<!--", "-->", "--!>", "-", "<!-->", "<!", "<?", "?>", "<![CDATA[", "]]>",
	"<script>", "</script>", "</script ", "<SCRIPT>", "<!--<script>", "<script", "<style>", "</style>",
	"<title>", "</title>", "<textarea>", "<noscript>", "</noscript>", "<template>", "</template>",
	"<meta charset=utf-8>", "<link", " href=", "\"", "'", ">", "<", "/", "=", " ", "\n", "x", "a=\"<head>\"",
	"\xEF\xBB\xBF", "<header>", "<headx>", "</", "</p>", "<base>",
}

func randomDoc(rng *rand.Rand) []byte {
	var b []byte
	n := rng.IntN(14)
	for range n {
		b = append(b, fragments[rng.IntN(len(fragments))]...)
	}
	return b
}

// TestInjectRandomDocs runs the fuzz property over documents assembled from
// HTML fragments, which random bytes rarely hit.
func TestInjectRandomDocs(t *testing.T) {
	c := testCodecs(t)
	n := 6000
	if testing.Short() {
		n = 600
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		checkInject(t, c, randomDoc(rng), uint64(i), uint8(i%8))
	}
}
