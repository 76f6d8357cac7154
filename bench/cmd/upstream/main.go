// Command upstream is the benchmark's origin site: deterministic generated
// HTML pages of about 20 KB, 150 KB, 2 MB and 10 MB and a 100 KB script,
// each precompressed with gzip (level 6) and br (quality 5) and served in the
// encoding the request's Accept-Encoding prefers (br, then gzip, then
// identity), with Vary, Content-Length, Last-Modified and a strong
// per-encoding ETag, as a static file server sends them.
//
// It does nothing per request but pick a prebuilt byte slice, so every peer
// in the benchmark measures its own cost, not the origin's.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/andybalholm/brotli"
)

// spec names one generated resource.
type spec struct {
	path, contentType string
	size              int
	script            bool
}

var specs = []spec{
	{"/page-20k.html", "text/html; charset=utf-8", 20 << 10, false},
	{"/page-150k.html", "text/html; charset=utf-8", 150 << 10, false},
	{"/page-2m.html", "text/html; charset=utf-8", 2 << 20, false},
	{"/page-10m.html", "text/html; charset=utf-8", 10 << 20, false},
	{"/static/app.js", "application/javascript; charset=utf-8", 100 << 10, true},
}

// variant is one encoding of a resource.
type variant struct {
	encoding string // "" for identity
	body     []byte
	etag     string
	length   string
}

// resource is a generated body with its precompressed variants.
type resource struct {
	contentType string
	cacheCtl    string
	identity    variant
	gzip        variant
	br          variant
}

// ManifestEntry describes a resource for the benchmark report.
type ManifestEntry struct {
	Path     string `json:"path"`
	Type     string `json:"type"`
	Identity int    `json:"identity"`
	Gzip     int    `json:"gzip"`
	Br       int    `json:"br"`
}

func build(s spec, seed uint64) (*resource, error) {
	var body []byte
	if s.script {
		body = generateScript(seed, s.size)
	} else {
		body = generatePage(seed, s.size)
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:8])
	r := &resource{contentType: s.contentType, cacheCtl: "no-cache"}
	if s.script {
		r.cacheCtl = "public, max-age=31536000, immutable"
	}
	r.identity = newVariant("", body, `"`+tag+`"`)

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, 6)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	r.gzip = newVariant("gzip", gz.Bytes(), `"`+tag+`-gzip"`)

	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 5)
	if _, err := bw.Write(body); err != nil {
		return nil, err
	}
	if err := bw.Close(); err != nil {
		return nil, err
	}
	r.br = newVariant("br", br.Bytes(), `"`+tag+`-br"`)
	return r, nil
}

// lastModified dates every resource: the files were "built" then.
var lastModified = []string{"Sat, 28 Nov 2026 00:00:00 GMT"}

func newVariant(enc string, body []byte, etag string) variant {
	return variant{encoding: enc, body: body, etag: etag, length: strconv.Itoa(len(body))}
}

// choose picks the variant for an Accept-Encoding header: br if acceptable,
// else gzip, else identity. "*" accepts whatever is not explicitly refused.
func (r *resource) choose(accept string) *variant {
	q := parseAcceptEncoding(accept)
	ok := func(name string) bool {
		if v, found := q[name]; found {
			return v > 0
		}
		v, found := q["*"]
		return found && v > 0
	}
	switch {
	case ok("br"):
		return &r.br
	case ok("gzip"):
		return &r.gzip
	}
	return &r.identity
}

// parseAcceptEncoding maps each coding to its q-value (1 when absent).
func parseAcceptEncoding(h string) map[string]float64 {
	q := make(map[string]float64, 4)
	for part := range strings.SplitSeq(h, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		v := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, val, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					v = f
				}
			}
		}
		q[name] = v
	}
	return q
}

// site serves the generated resources.
type site struct {
	resources map[string]*resource
	index     []byte
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(s.index)
		return
	}
	res, ok := s.resources[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	v := res.choose(r.Header.Get("Accept-Encoding"))
	h := w.Header()
	h["Content-Type"] = []string{res.contentType}
	h["Vary"] = []string{"Accept-Encoding"}
	h["Etag"] = []string{v.etag}
	h["Last-Modified"] = lastModified
	h["Cache-Control"] = []string{res.cacheCtl}
	if v.encoding != "" {
		h["Content-Encoding"] = []string{v.encoding}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, v.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{v.length}
	if r.Method == http.MethodHead {
		return
	}
	// Write in 32 KB pieces, as http.ServeContent and most servers do: one
	// 10 MB write makes the kernel fill the whole loopback window before the
	// reader wakes, which delays every peer's first byte by the body size.
	for b := v.body; len(b) > 0; {
		n := min(len(b), writeChunk)
		if _, err := w.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}

// writeChunk is the size of each body write.
const writeChunk = 32 << 10

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "listen address")
	manifest := flag.String("manifest", "", "write a JSON manifest of the resources and their sizes to this file")
	seed := flag.Uint64("seed", 42, "seed of the generated content")
	flag.Parse()

	s := &site{resources: make(map[string]*resource, len(specs))}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		entries []ManifestEntry
		errs    []error
	)
	for i, sp := range specs {
		wg.Go(func() {
			res, err := build(sp, *seed+uint64(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", sp.path, err))
				return
			}
			s.resources[sp.path] = res
			entries = append(entries, ManifestEntry{sp.path, sp.contentType, len(res.identity.body), len(res.gzip.body), len(res.br.body)})
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		log.Fatal(errs)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Identity < entries[j].Identity })
	var idx strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&idx, "%s\t%d identity\t%d gzip\t%d br\n", e.Path, e.Identity, e.Gzip, e.Br)
	}
	s.index = []byte(idx.String())
	if *manifest != "" {
		b, _ := json.MarshalIndent(entries, "", "  ")
		if err := os.WriteFile(*manifest, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}

	srv := &http.Server{Addr: *listen, Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	log.Printf("upstream listening on %s\n%s", *listen, s.index)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
