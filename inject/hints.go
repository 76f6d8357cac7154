package inject

import (
	"net/http"
	"sync"
)

// Asking the upstream for gzip
//
// On loopback, asking the upstream for an uncompressed page is usually
// cheapest: nobody decodes, and replaygate compresses at an on-the-fly
// level. A large page the upstream keeps precompressed (nginx
// gzip_static, Caddy's precompressed files, a CDN-built static site) is
// the exception: asked for gzip, the upstream sends its stored bytes, and
// splicing (splice.go) re-encodes only the page's first 32 KiB or so.
//
// pathHints remembers such pages. A page that came uncompressed with a
// Content-Length above smallBody marks its path large; from then on
// PrepareRequest asks for gzip on that path (if the client accepts gzip).
// If the upstream answers that with gzip that does not look precompressed,
// it compresses on the fly: its work would replace ours at a slower level,
// so the path goes back to identity for good. Precompressed gzip comes
// from a file: with a Content-Length and a Last-Modified date, as every
// static file server sends them. Gzip of unknown length is compressed on
// the fly (nginx gzip, Express, Rack::Deflater); gzip with a length but
// no date is usually an application that buffers and compresses the page
// (Django's GZipMiddleware). A precompressed answer keeps the path on
// gzip, as long as splicing pays:
// if the cut came past half the page (a <head> far into the page, or
// stored blocks, which are cut only between blocks), decoding and
// re-encoding costs more than compressing the uncompressed page, and the
// path goes back to identity for good too.
//
// The threshold stays at smallBody although a page of 100 KiB would be
// spliced more cheaply than compressed: an application that buffers and
// compresses its pages and also sends a Last-Modified date cannot be told
// from a precompressed file, and it would spend its own CPU on every such
// page, at a slower level than ours.
//
// Host and path (never the query string, at most maxStartKey bytes) are
// kept in memory only, at most maxHints of them; when full, an arbitrary
// sixteenth is dropped.

// maxHints bounds the paths remembered.
const maxHints = 4096

type hint uint8

const (
	hintNone     hint = iota
	hintLarge         // ask for gzip
	hintIdentity      // gzip does not pay for this path: ask for identity
)

// precompressed reports whether a gzip answer looks like a file stored
// compressed rather than a page compressed for this request.
func precompressed(resp *http.Response) bool {
	return resp.ContentLength >= 0 && resp.Header.Get("Last-Modified") != ""
}

// hintKey is the host and path of an upstream request.
func hintKey(req *http.Request) string { return req.Host + req.URL.Path }

type pathHints struct {
	mu sync.Mutex
	m  map[string]hint
}

func (h *pathHints) get(path string) hint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[path]
}

// set records v for path; a path found not to pay stays so. A path
// longer than maxStartKey (the page starts' bound) is not recorded, so
// that the memory kept is bounded in bytes, not only in paths.
func (h *pathHints) set(path string, v hint) {
	if len(path) > maxStartKey {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]hint)
	}
	if old, ok := h.m[path]; ok {
		if old != hintIdentity {
			h.m[path] = v
		}
		return
	}
	if len(h.m) >= maxHints {
		drop := maxHints / 16
		for k := range h.m {
			delete(h.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	h.m[path] = v
}
