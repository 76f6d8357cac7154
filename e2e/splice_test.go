package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// bigStaticCards is how many cards the precompressed test page has.
const bigStaticCards = 6000

// bigStatic is a ~700 KB page kept both plain and gzip-compressed, as a
// static server with precompressed files (nginx gzip_static) keeps it.
var bigStatic = sync.OnceValues(func() ([]byte, []byte) {
	var b strings.Builder
	b.WriteString("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Catalogue</title></head><body><main>\n")
	for i := 0; i < bigStaticCards; i++ {
		fmt.Fprintf(&b, "<div class=\"card\" data-i=\"%d\"><a href=\"/p/%d\">Product %d</a> <span>%d.%02d €</span></div>\n", i, i*7919%100003, i, i%500, i%100)
	}
	b.WriteString("<p id=\"last\">end of catalogue</p></main></body></html>\n")
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, 6)
	_, _ = w.Write([]byte(b.String()))
	_ = w.Close()
	return []byte(b.String()), z.Bytes()
})

// bigStaticGzip counts the times the page was sent compressed.
var bigStaticGzip atomic.Int64

func serveBigStatic(w http.ResponseWriter, r *http.Request) {
	plain, gz := bigStatic()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept-Encoding")
	w.Header().Set("Last-Modified", "Sat, 28 Nov 2026 00:00:00 GMT") // a file
	body := plain
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		body = gz
		w.Header().Set("Content-Encoding", "gzip")
		bigStaticGzip.Add(1)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// TestSplicedPageInBrowser loads a large page that the site keeps
// precompressed. The first load comes uncompressed from the site;
// later loads are asked for gzip and spliced (inject/splice.go). Chromium
// must decode every load, gzip CRC included, to the whole page with the
// gate in it.
func TestSplicedPageInBrowser(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	before := bigStaticGzip.Load()
	for i := 0; i < 3; i++ {
		do(t, ctx, chromedp.Navigate(s.URL+"/big-static.html"))
		got := eval[string](t, ctx, `[document.querySelectorAll('.card').length,
			document.getElementById('last') && document.getElementById('last').textContent,
			document.querySelectorAll('script[src="`+prefix+`/gate.js"]').length].join('|')`)
		if want := fmt.Sprintf("%d|end of catalogue|1", bigStaticCards); got != want {
			t.Fatalf("load %d: page has %q, want %q", i+1, got, want)
		}
	}
	if n := bigStaticGzip.Load() - before; n < 2 {
		t.Fatalf("the site sent the page compressed %d times in 3 loads, want at least 2 (spliced)", n)
	}
	// The same page fetched directly ends with the site's own compressed
	// bytes: it was spliced, not re-encoded.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/big-static.html", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_, gz := bigStatic()
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.HasSuffix(out[:len(out)-8], gz[len(gz)-4096:len(gz)-8]) {
		t.Fatalf("page not spliced (Content-Encoding %q, %d bytes)", resp.Header.Get("Content-Encoding"), len(out))
	}
	// Chromium does not check the gzip trailer; compress/gzip does.
	zr, err := gzip.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("spliced page: %v", err)
	}
	plain, _ := bigStatic()
	if !bytes.Contains(page, []byte(prefix+"/gate.js")) || len(page) <= len(plain) || !bytes.HasSuffix(page, plain[len(plain)-100000:]) {
		t.Fatalf("spliced page decodes to %d bytes without the gate or the page's end", len(page))
	}
}
