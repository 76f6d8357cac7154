package viewer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// AssetPrefix is the URL path under which the bundle's hashed assets are
// served. It must match assetURL in viewer/web/build.mjs.
const AssetPrefix = "/viewer/assets/"

// Routes returns the admin listener patterns to send to the viewer handler.
// Mounting the handler on "GET /" instead also works: it answers 404 for
// paths it does not know.
func Routes() []string {
	return []string{"GET /{$}", "GET /consents", "GET /replays/{id}", "GET " + AssetPrefix}
}

// Option changes how New builds the handler.
type Option func(*options)

type options struct {
	bundle fs.FS
}

// WithBundle serves the viewer from bundle (laid out like viewer/web/dist)
// instead of the embedded build. Tests use it.
func WithBundle(bundle fs.FS) Option { return func(o *options) { o.bundle = bundle } }

// Manifest is viewer/web/dist/manifest.json, written by build.mjs.
type Manifest struct {
	// SourceHash is the SHA-256 of the web sources the bundle was built from.
	SourceHash string `json:"sourceHash"`
	// Pages are the HTML shells, e.g. "index.html".
	Pages []string `json:"pages"`
	// Entries map entry names ("player") to their hashed asset file.
	Entries map[string]string `json:"entries"`
}

// page is one HTML shell, held in memory.
type page struct {
	body []byte
	etag string
	csp  string
}

// asset is one content-hashed file and its gzip variant, if built.
type asset struct {
	body        []byte
	gz          []byte
	contentType string
}

// handler serves the viewer's pages and assets.
type handler struct {
	mux    *http.ServeMux
	pages  map[string]page
	assets map[string]asset
}

// Content Security Policies; see doc.go for why the player allows inline styles.
const (
	cspCommon = "default-src 'none'; script-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; " +
		"connect-src 'self'; frame-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
		"form-action 'none'; frame-ancestors 'none'"
	cspPage   = cspCommon + "; style-src 'self'"
	cspPlayer = cspCommon + "; style-src 'self' 'unsafe-inline'"
)

// assetCacheControl lets browsers keep content-hashed files forever.
const assetCacheControl = "public, max-age=31536000, immutable"

var replayIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// New returns the viewer's handler. It fails when the embedded bundle is
// missing or incomplete (viewer/web was not built).
func New(log zerolog.Logger, opts ...Option) (http.Handler, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.bundle == nil {
		sub, err := fs.Sub(embedded, "web/dist")
		if err != nil {
			return nil, fmt.Errorf("viewer: embedded bundle: %w", err)
		}
		o.bundle = sub
	}
	m, err := ReadManifest(o.bundle)
	if err != nil {
		return nil, err
	}
	h := &handler{mux: http.NewServeMux(), pages: map[string]page{}, assets: map[string]asset{}}
	if err := h.loadAssets(o.bundle, m); err != nil {
		return nil, err
	}
	for _, p := range []struct{ name, csp string }{
		{"index.html", cspPage}, {"consents.html", cspPage}, {"replay.html", cspPlayer},
	} {
		name, csp := p.name, p.csp
		body, err := fs.ReadFile(o.bundle, name)
		if err != nil {
			return nil, fmt.Errorf("viewer: bundle page %s: %w; %s", name, err, rebuildHint)
		}
		sum := sha256.Sum256(body)
		h.pages[name] = page{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, csp: csp}
	}

	h.mux.HandleFunc("GET /{$}", h.servePage("index.html"))
	h.mux.HandleFunc("GET /consents", h.servePage("consents.html"))
	replay := h.servePage("replay.html")
	h.mux.HandleFunc("GET /replays/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !replayIDPattern.MatchString(r.PathValue("id")) {
			notFound(w, "no such replay: replay ids are 32 lowercase hex characters")
			return
		}
		replay(w, r)
	})
	h.mux.HandleFunc("GET "+AssetPrefix+"{name}", h.serveAsset)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "no such page: the viewer is at /")
	})
	log.Debug().Str("source_hash", m.SourceHash).Int("assets", len(h.assets)).Msg("viewer: bundle loaded")
	return h, nil
}

const rebuildHint = "build the viewer with `npm ci && node build.mjs` in viewer/web (make web)"

// ReadManifest reads and checks manifest.json of a bundle.
func ReadManifest(bundle fs.FS) (Manifest, error) {
	var m Manifest
	raw, err := fs.ReadFile(bundle, "manifest.json")
	if errors.Is(err, fs.ErrNotExist) {
		return m, errors.New("viewer: the web bundle is missing (no manifest.json); " + rebuildHint)
	}
	if err != nil {
		return m, fmt.Errorf("viewer: read manifest: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("viewer: manifest.json: %w; %s", err, rebuildHint)
	}
	if m.SourceHash == "" || len(m.Pages) == 0 || len(m.Entries) == 0 {
		return m, errors.New("viewer: manifest.json is incomplete; " + rebuildHint)
	}
	return m, nil
}

func (h *handler) loadAssets(bundle fs.FS, m Manifest) error {
	entries, err := fs.ReadDir(bundle, "assets")
	if err != nil {
		return fmt.Errorf("viewer: bundle assets: %w; %s", err, rebuildHint)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".gz") {
			continue
		}
		ct := contentType(name)
		if ct == "" {
			continue // not something the pages load
		}
		body, err := fs.ReadFile(bundle, "assets/"+name)
		if err != nil {
			return fmt.Errorf("viewer: asset %s: %w", name, err)
		}
		a := asset{body: body, contentType: ct}
		if gz, err := fs.ReadFile(bundle, "assets/"+name+".gz"); err == nil {
			a.gz = gz
		}
		h.assets[name] = a
	}
	for entry, file := range m.Entries {
		if _, ok := h.assets[file]; !ok {
			return fmt.Errorf("viewer: bundle entry %s: asset %s missing; %s", entry, file, rebuildHint)
		}
	}
	return nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return ""
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) servePage(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := h.pages[name]
		hdr := w.Header()
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", p.csp)
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		// The shell names the current hashed assets: revalidate on every load.
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", p.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
	}
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("name")]
	if !ok {
		notFound(w, "no such asset: reload the page to get the current asset names")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", assetCacheControl)
	hdr.Set("Vary", "Accept-Encoding")
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed
// (or "*") without q=0.
func acceptsGzip(header string) bool {
	gzip, star := -1, -1 // -1 absent, 0 refused, 1 accepted
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		ok := 1
		for p := range strings.SplitSeq(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") && isZeroQ(strings.TrimSpace(v)) {
				ok = 0
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzip = ok
		case "*":
			star = ok
		}
	}
	if gzip >= 0 {
		return gzip == 1
	}
	return star == 1
}

// isZeroQ reports whether a qvalue is zero ("0", "0.", "0.000").
func isZeroQ(v string) bool {
	if v == "" || v[0] != '0' {
		return false
	}
	return strings.Trim(v[1:], ".0") == "" && strings.Count(v, ".") <= 1
}

func notFound(w http.ResponseWriter, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Del("ETag")
	w.WriteHeader(http.StatusNotFound)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}
