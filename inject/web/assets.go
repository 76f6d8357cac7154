package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/rs/zerolog"
)

//go:embed all:dist
var distFS embed.FS

// BuildCommand is what rebuilds dist/ from the sources.
const BuildCommand = "cd inject/web && npm ci && node build.mjs"

// Built-in selectors; configured ones are appended, never substituted.
const (
	builtinMask   = ".replay-mask,[data-replay-mask],.sentry-mask,[data-sentry-mask],.rr-mask"
	builtinUnmask = ".replay-unmask,[data-replay-unmask],.sentry-unmask,[data-sentry-unmask]"
	builtinBlock  = "img,picture,svg,video,audio,canvas,embed,object,iframe,frame,.replay-block,[data-replay-block],.sentry-block,[data-sentry-block],.rr-block"
	builtinIgnore = ".replay-ignore,[data-replay-ignore],.sentry-ignore,[data-sentry-ignore],.rr-ignore"
)

const (
	gatePlaceholder     = `"@@REPLAYGATE_GATE_CONFIG@@"`
	recorderPlaceholder = `"@@REPLAYGATE_RECORDER_CONFIG@@"`
	contentType         = "text/javascript; charset=utf-8"
	shortCache          = "public, max-age=300"
	immutableCache      = "public, max-age=31536000, immutable"
)

var (
	prefixRE        = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)
	policyVersionRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// Assets serves gate.js and recorder.js with the active settings embedded.
// It is safe for concurrent use; its content never changes after New.
type Assets struct {
	prefix   string
	byName   map[string]*asset
	gate     *asset
	recorder *asset
	log      zerolog.Logger
}

// asset is one bundle in all the encodings it is served in.
type asset struct {
	name      string // "gate" or "recorder"
	hash      string // first 16 hex digits of the SHA-256 of identity
	identity  []byte
	gzip      []byte
	brotli    []byte
	immutable bool
}

// Sizes of one served bundle in bytes.
type Sizes struct {
	Identity, Gzip, Brotli int
}

// manifest is dist/manifest.json as written by build.mjs.
type manifest struct {
	SourceHash string `json:"sourceHash"`
	Esbuild    string `json:"esbuild"`
}

// recorderSettings is the JSON embedded into recorder.js (see src/types.ts).
type recorderSettings struct {
	Prefix          string   `json:"prefix"`
	MaskAllText     bool     `json:"maskAllText"`
	MaskAllInputs   bool     `json:"maskAllInputs"`
	MaskSelector    string   `json:"maskSelector"`
	UnmaskSelector  string   `json:"unmaskSelector"`
	BlockSelector   string   `json:"blockSelector"`
	IgnoreSelector  string   `json:"ignoreSelector"`
	QueryAllow      []string `json:"queryAllow"`
	SampleRate      float64  `json:"sampleRate"`
	IdleTimeoutMs   int64    `json:"idleTimeoutMs"`
	MaxDurationMs   int64    `json:"maxDurationMs"`
	CaptureConsole  bool     `json:"captureConsole"`
	CaptureNetwork  bool     `json:"captureNetwork"`
	BatchIntervalMs int64    `json:"batchIntervalMs"`
	BatchBytes      int      `json:"batchBytes"`
	MouseGapMs      int64    `json:"mouseGapMs"`
}

// gateSettings is the JSON embedded into gate.js (see src/types.ts).
type gateSettings struct {
	Prefix          string                `json:"prefix"`
	PolicyVersion   string                `json:"policyVersion"`
	Recorder        string                `json:"recorder"`
	NoticeURL       string                `json:"noticeUrl"`
	PrivacyChoices  bool                  `json:"privacyChoices"`
	DefaultLanguage string                `json:"defaultLanguage"`
	Texts           map[string]BannerText `json:"texts"`
}

// New validates cfg, embeds the settings into the bundles, compresses them
// and returns the handler for {prefix}/gate.js and {prefix}/recorder.js.
// prefix is the public path prefix (e.g. "/__replay"); policyVersion is the
// consent policy version the gate compares with the rg_consent_state cookie.
func New(cfg Config, prefix string, policyVersion string, log zerolog.Logger) (*Assets, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("prefix: %q must start with / and must not end with / (e.g. /__replay)", prefix)
	}
	if !policyVersionRE.MatchString(policyVersion) {
		return nil, fmt.Errorf("policy_version: %q must be 1-64 letters, digits, _ . or -", policyVersion)
	}
	dist, err := fs.Sub(distFS, "dist")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if _, err := readManifest(dist); err != nil {
		return nil, err
	}

	r := cfg.Recording
	recJSON, err := json.Marshal(recorderSettings{
		Prefix:          prefix,
		MaskAllText:     r.MaskAllText,
		MaskAllInputs:   r.MaskAllInputs,
		MaskSelector:    joinSelectors(builtinMask, r.MaskSelectors),
		UnmaskSelector:  joinSelectors(builtinUnmask, r.UnmaskSelectors),
		BlockSelector:   joinSelectors(builtinBlock, r.BlockSelectors),
		IgnoreSelector:  joinSelectors(builtinIgnore, r.IgnoreSelectors),
		QueryAllow:      append([]string{}, r.QueryAllowList...),
		SampleRate:      r.SampleRate,
		IdleTimeoutMs:   r.IdleTimeout.Milliseconds(),
		MaxDurationMs:   r.MaxDuration.Milliseconds(),
		CaptureConsole:  r.CaptureConsole,
		CaptureNetwork:  r.CaptureNetwork,
		BatchIntervalMs: r.BatchInterval.Milliseconds(),
		BatchBytes:      r.BatchBytes,
		MouseGapMs:      r.MouseMoveGap.Milliseconds(),
	})
	if err != nil {
		return nil, fmt.Errorf("web: encode recorder settings: %w", err)
	}
	rec, err := buildAsset(dist, "recorder", recorderPlaceholder, recJSON)
	if err != nil {
		return nil, err
	}
	gateJSON, err := json.Marshal(gateSettings{
		Prefix:          prefix,
		PolicyVersion:   policyVersion,
		Recorder:        prefix + "/recorder." + rec.hash + ".js",
		NoticeURL:       cfg.Banner.NoticeURL,
		PrivacyChoices:  cfg.Banner.PrivacyChoices,
		DefaultLanguage: cfg.Banner.DefaultLanguage,
		Texts:           cfg.Banner.effectiveTexts(),
	})
	if err != nil {
		return nil, fmt.Errorf("web: encode gate settings: %w", err)
	}
	gate, err := buildAsset(dist, "gate", gatePlaceholder, gateJSON)
	if err != nil {
		return nil, err
	}

	a := &Assets{prefix: prefix, byName: map[string]*asset{}, gate: gate, recorder: rec, log: log}
	for _, x := range []*asset{gate, rec} {
		a.byName[x.name+".js"] = x
		hashed := *x
		hashed.immutable = true
		a.byName[x.name+"."+x.hash+".js"] = &hashed
	}
	log.Info().Str("gate", a.GatePath()).Str("recorder", a.RecorderPath()).
		Int("gate_gzip_bytes", len(gate.gzip)).Int("recorder_gzip_bytes", len(rec.gzip)).
		Msg("web: browser bundles ready")
	return a, nil
}

func joinSelectors(builtin string, extra []string) string {
	parts := append([]string{builtin}, extra...)
	return strings.Join(parts, ",")
}

// readManifest checks that build.mjs has produced a bundle.
func readManifest(dist fs.FS) (manifest, error) {
	var m manifest
	b, err := fs.ReadFile(dist, "manifest.json")
	if err != nil {
		return m, fmt.Errorf("web: browser bundle missing (dist/manifest.json): run `%s` before building Go", BuildCommand)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.SourceHash == "" {
		return m, fmt.Errorf("web: dist/manifest.json is damaged: run `%s`", BuildCommand)
	}
	return m, nil
}

// buildAsset embeds settings (a JSON object) into the bundle as a JS string
// literal for JSON.parse, then hashes and compresses the result.
func buildAsset(dist fs.FS, name, placeholder string, settings []byte) (*asset, error) {
	src, err := fs.ReadFile(dist, name+".js")
	if err != nil {
		return nil, fmt.Errorf("web: browser bundle missing (dist/%s.js): run `%s`", name, BuildCommand)
	}
	if n := bytes.Count(src, []byte(placeholder)); n != 1 {
		return nil, fmt.Errorf("web: dist/%s.js has %d settings placeholders, want 1: rebuild with `%s`", name, n, BuildCommand)
	}
	// json.Marshal of a string is a valid JS string literal, and escapes <, >, & and U+2028/9.
	literal, err := json.Marshal(string(settings))
	if err != nil {
		return nil, fmt.Errorf("web: quote %s settings: %w", name, err)
	}
	body := bytes.Replace(src, []byte(placeholder), literal, 1)
	sum := sha256.Sum256(body)
	x := &asset{name: name, hash: hex.EncodeToString(sum[:8]), identity: body}
	if x.gzip, err = compressGzip(body); err != nil {
		return nil, fmt.Errorf("web: gzip %s.js: %w", name, err)
	}
	if x.brotli, err = compressBrotli(body); err != nil {
		return nil, fmt.Errorf("web: brotli %s.js: %w", name, err)
	}
	return x, nil
}

func compressGzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func compressBrotli(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GatePath is the content-hashed, immutable URL path of gate.js; the
// injector may reference it instead of {prefix}/gate.js.
func (a *Assets) GatePath() string { return a.prefix + "/gate." + a.gate.hash + ".js" }

// RecorderPath is the content-hashed URL path of recorder.js (the gate loads it).
func (a *Assets) RecorderPath() string { return a.prefix + "/recorder." + a.recorder.hash + ".js" }

// GateSizes reports the served sizes of gate.js per encoding.
func (a *Assets) GateSizes() Sizes { return a.gate.sizes() }

// RecorderSizes reports the served sizes of recorder.js per encoding.
func (a *Assets) RecorderSizes() Sizes { return a.recorder.sizes() }

func (x *asset) sizes() Sizes {
	return Sizes{Identity: len(x.identity), Gzip: len(x.gzip), Brotli: len(x.brotli)}
}

// ServeHTTP serves GET and HEAD for {prefix}/gate.js, {prefix}/recorder.js
// and their content-hashed aliases; anything else under the prefix is 404.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, a.prefix+"/")
	x := a.byName[name]
	if !ok || x == nil {
		writeError(w, http.StatusNotFound, "no such asset; use "+a.prefix+"/gate.js or "+a.prefix+"/recorder.js")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "use GET or HEAD")
		return
	}
	body, encoding := x.identity, ""
	switch pickEncoding(r.Header.Values("Accept-Encoding")) {
	case "br":
		body, encoding = x.brotli, "br"
	case "gzip":
		body, encoding = x.gzip, "gzip"
	}
	etag := `"` + x.hash + `"`
	if encoding != "" {
		etag = `"` + x.hash + "-" + encoding + `"`
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	h.Set("ETag", etag)
	if x.immutable {
		h.Set("Cache-Control", immutableCache)
	} else {
		h.Set("Cache-Control", shortCache)
	}
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(body); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		a.log.Debug().Str("asset", x.name).Err(err).Msg("web: write asset")
	}
}

// etagMatch implements the weak comparison of If-None-Match.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// pickEncoding chooses "br", "gzip" or "" (identity) from Accept-Encoding
// values, honouring q-values; on equal q brotli wins (smaller).
func pickEncoding(values []string) string {
	qBr, qGzip, qAny := -1.0, -1.0, -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			switch name {
			case "br":
				qBr = max(qBr, q)
			case "gzip", "x-gzip":
				qGzip = max(qGzip, q)
			case "*":
				qAny = max(qAny, q)
			}
		}
	}
	if qBr < 0 {
		qBr = qAny
	}
	if qGzip < 0 {
		qGzip = qAny
	}
	switch {
	case qBr > 0 && qBr >= qGzip:
		return "br"
	case qGzip > 0:
		return "gzip"
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
