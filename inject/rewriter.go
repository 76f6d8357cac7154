package inject

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Rewriter decides which responses get the markup and rewrites them. It is
// safe for concurrent use.
type Rewriter struct {
	cfg      Config
	markup   Markup
	log      zerolog.Logger
	codecs   *codecs
	csp      cspPolicy
	statuses map[int]bool
	hints    pathHints  // pages worth asking for gzip (hints.go)
	starts   pageStarts // first chunks of spliced pages (pagestart.go)
}

// New validates cfg and returns a Rewriter that injects markup. With a
// non-nil reg it registers its metrics (replaygate_inject_*) there.
func New(cfg Config, markup Markup, log zerolog.Logger, reg prometheus.Registerer) (*Rewriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("inject: %w", err)
	}
	if markup == nil {
		return nil, fmt.Errorf("inject: markup is nil; pass DefaultMarkup(prefix)")
	}
	c, err := newCodecs(cfg)
	if err != nil {
		return nil, fmt.Errorf("inject: %w", err)
	}
	if c.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("inject: metrics: %w", err)
	}
	r := &Rewriter{
		cfg:      cfg,
		markup:   markup,
		log:      log.With().Str("component", "inject").Logger(),
		codecs:   c,
		statuses: make(map[int]bool, len(cfg.Statuses)),
	}
	for _, s := range cfg.Statuses {
		r.statuses[s] = true
	}
	r.csp = cspPolicy{ourSource: "'self'", overrideNone: cfg.OverrideScriptNone}
	if cfg.PublicOrigin != "" {
		r.csp.ourSource = strings.TrimSuffix(cfg.PublicOrigin, "/") + cfg.Prefix + "/"
	}
	return r, nil
}

// clientEncodingKey carries a negotiation from PrepareRequest to Rewrite.
type clientEncodingKey struct{}

// negotiation is what PrepareRequest changed.
type negotiation struct {
	clientAE  string // the client's Accept-Encoding
	askedGzip bool   // the upstream was asked for gzip, not identity
}

// PrepareRequest asks the upstream for an uncompressed body on requests
// that are likely to return an HTML page (GET with an Accept naming
// text/html or application/xhtml+xml, on a path that is not excluded), when
// Config.UpstreamIdentity is set. Rewrite then compresses the rewritten
// page for the client itself; decoding the upstream's compression first
// would only add work (BENCH_NOTES.md). Other requests are not touched, so
// assets keep the upstream's compression; a request whose client refuses
// identity is not touched either, so any non-HTML answer still reaches the
// client in an encoding it accepted.
//
// Paths known to hold large precompressed pages are asked for gzip
// instead, when the client accepts it and Config.SpliceGzip is set
// (hints.go).
//
// The outgoing request's context is replaced (same parent) to remember
// the client's Accept-Encoding; call it before the request is sent.
func (r *Rewriter) PrepareRequest(req *http.Request) {
	if !r.cfg.Enabled || !r.cfg.UpstreamIdentity || req == nil || req.Method != http.MethodGet ||
		req.URL == nil || r.excluded(req.URL.Path) || !acceptsHTML(req.Header.Values("Accept")) {
		return
	}
	ae := strings.Join(req.Header.Values("Accept-Encoding"), ",")
	if strings.TrimSpace(ae) == "" || !acceptable(ae, "identity") {
		return
	}
	n := negotiation{clientAE: ae}
	n.askedGzip = r.cfg.SpliceGzip && acceptable(ae, "gzip") && r.hints.get(hintKey(req)) == hintLarge
	*req = *req.WithContext(context.WithValue(req.Context(), clientEncodingKey{}, n))
	if n.askedGzip {
		req.Header.Set("Accept-Encoding", "gzip")
		return
	}
	req.Header.Set("Accept-Encoding", "identity")
}

// Rewrite decides whether resp gets the markup and, if so, replaces
// resp.Body by a streaming rewriter and fixes the headers. It reports
// whether it did. A response it does not rewrite is left untouched.
func (r *Rewriter) Rewrite(resp *http.Response) bool {
	reason, mt := r.ineligible(resp)
	if reason != "" {
		r.codecs.m.skip(reason)
		if resp != nil && resp.Request != nil && resp.Request.Context().Value(clientEncodingKey{}) != nil {
			// The upstream was asked for a coding of our choosing.
			addVary(resp.Header, "Accept-Encoding")
		}
		if e := r.log.Debug(); e.Enabled() {
			e.Str("reason", reason).Int("status", statusOf(resp)).Msg("not injected")
		}
		return false
	}
	h := resp.Header
	inEnc, _ := parseEncoding(h.Values("Content-Encoding"))
	outEnc := inEnc
	neg, negotiated := resp.Request.Context().Value(clientEncodingKey{}).(negotiation)
	if negotiated && inEnc == encIdentity {
		outEnc = pickEncoding(neg.clientAE)
	}
	if negotiated && r.cfg.SpliceGzip {
		switch {
		case inEnc == encIdentity && resp.ContentLength > smallBody:
			r.hints.set(hintKey(resp.Request), hintLarge)
		case inEnc == encGzip && neg.askedGzip && !precompressed(resp):
			r.hints.set(hintKey(resp.Request), hintIdentity)
		}
	}

	edit := r.csp.plan(h)
	if edit.blocked {
		r.codecs.m.skip("csp forbids scripts")
		if negotiated {
			addVary(h, "Accept-Encoding") // the upstream was asked for a coding of our choosing
		}
		r.log.Debug().Msg("not injected: enforced CSP forbids all scripts (override_script_none is off)")
		return false
	}
	edit.apply(h)

	// A small uncompressed page of known length is rewritten whole, with a
	// pooled private compressor, and keeps a Content-Length (rewriteWhole).
	small := inEnc == encIdentity && resp.ContentLength >= 0 && resp.ContentLength <= smallBody
	declared := resp.ContentLength
	h.Del("Content-Length")
	resp.ContentLength = -1
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et)
	}
	// Digests of the original bytes are wrong now; ranges of the original
	// cannot be spliced into the rewritten page.
	for _, k := range []string{"Content-Md5", "Content-Digest", "Repr-Digest", "Digest", "Accept-Ranges"} {
		h.Del(k)
	}
	if outEnc != inEnc {
		h.Set("Content-Encoding", outEnc.String())
	}
	if outEnc != inEnc || (negotiated && neg.askedGzip) {
		addVary(h, "Accept-Encoding")
	}
	resp.Uncompressed = false
	xml := mt == "application/xhtml+xml"
	r.codecs.m.rewritten(small)
	if small {
		r.rewriteWhole(resp, declared, outEnc, xml, r.markup(edit.nonce))
		return true
	}
	st := newStream(r.codecs, resp.Body, inEnc, outEnc, xml, r.markup(edit.nonce), r.cfg.MaxHeadBytes)
	// After a cut a truncated body must fail rather than end: splice only
	// bodies whose end the transport checks.
	st.spliceable = st.spliceable && (declared >= 0 || resp.ProtoMajor >= 2 || slices.Contains(resp.TransferEncoding, "chunked"))
	if negotiated && neg.askedGzip && st.spliceable {
		key := hintKey(resp.Request)
		st.starts, st.startKey = &r.starts, key
		st.onEnd = func(decoded, cutAt int64) {
			if cutAt == 0 || cutAt > decoded/2 {
				r.hints.set(key, hintIdentity)
			}
		}
	}
	resp.Body = st
	return true
}

// rewriteWhole replaces the body of a small page by its rewritten bytes
// and declares their length. If the upstream body fails, the response
// body fails the same way (and says so through UpstreamErr), so the
// client never gets a truncated page that looks complete.
func (r *Rewriter) rewriteWhole(resp *http.Response, declared int64, outEnc encoding, xml bool, markup []byte) {
	body, err := r.codecs.rewriteWhole(resp.Body, declared, outEnc, xml, markup, r.cfg.MaxHeadBytes)
	_ = resp.Body.Close() // read to the end (or failed): the connection can be reused
	if err != nil {
		r.log.Debug().Err(err).Msg("upstream body failed")
		resp.Body = failedBody{err}
		return
	}
	resp.Body = body
	resp.ContentLength = int64(body.rd.Len())
	resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
}

// failedBody reports an upstream read error on the first Read. The proxy
// sees UpstreamErr before it sends anything and answers 502 instead.
type failedBody struct{ err error }

func (b failedBody) Read([]byte) (int, error) { return 0, b.err }
func (b failedBody) Close() error             { return nil }

// UpstreamErr is the error that broke off the upstream body.
func (b failedBody) UpstreamErr() error { return b.err }

// ineligible returns why resp must not be rewritten, or "" and its media
// type.
func (r *Rewriter) ineligible(resp *http.Response) (reason, mediaType string) {
	switch {
	case !r.cfg.Enabled:
		return "disabled", ""
	case resp == nil || resp.Request == nil || resp.Request.URL == nil:
		return "no request", ""
	case resp.Request.Method != http.MethodGet:
		return "method", ""
	case !r.statuses[resp.StatusCode]:
		return "status", ""
	case resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0:
		return "empty body", ""
	case resp.Header.Get("Content-Range") != "":
		return "partial content", ""
	}
	h := resp.Header
	mt, charset, ok := htmlType(h.Get("Content-Type"))
	if !ok {
		return "content type", ""
	}
	if cs := strings.ToLower(charset); strings.HasPrefix(cs, "utf-16") ||
		strings.HasPrefix(cs, "utf-32") || strings.HasPrefix(cs, "iso-2022") {
		// Not ASCII-compatible: our ASCII markup would corrupt the page.
		return "charset", ""
	}
	if hasToken(h.Values("Cache-Control"), "no-transform") {
		return "no-transform", ""
	}
	if d := h.Get("Content-Disposition"); d != "" {
		if t, _, err := mime.ParseMediaType(d); err != nil || t != "inline" {
			return "content disposition", ""
		}
	}
	if r.excluded(resp.Request.URL.Path) {
		return "excluded path", ""
	}
	if _, ok := parseEncoding(h.Values("Content-Encoding")); !ok {
		return "content encoding", ""
	}
	return "", mt
}

// htmlType returns the media type and charset of an HTML or XHTML
// Content-Type, or false for any other or an invalid one. The usual
// spellings are recognised without parsing (a response's first byte
// waits for this).
func htmlType(v string) (mediaType, charset string, ok bool) {
	switch {
	case equalFoldASCII(v, "text/html"):
		return "text/html", "", true
	case equalFoldASCII(v, "text/html; charset=utf-8") || equalFoldASCII(v, "text/html;charset=utf-8"):
		return "text/html", v[len(v)-len("utf-8"):], true
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
		return "", "", false
	}
	return mt, params["charset"], true
}

// equalFoldASCII reports whether v is lower, an ASCII string, up to ASCII
// case. Unlike strings.EqualFold it does not fold "ſ" to "s" or "K" (the
// Kelvin sign) to "k", which mime.ParseMediaType rejects in a token.
func equalFoldASCII(v, lower string) bool {
	if len(v) != len(lower) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func (r *Rewriter) excluded(path string) bool {
	for _, p := range r.cfg.ExcludePaths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return strings.HasPrefix(path, r.cfg.Prefix+"/")
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// hasToken reports whether a comma-separated header holds token t
// (case-insensitive, parameters ignored).
func hasToken(values []string, t string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(part, "=")
			if strings.EqualFold(strings.TrimSpace(name), t) {
				return true
			}
		}
	}
	return false
}

func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			p := strings.TrimSpace(part)
			if p == "*" || strings.EqualFold(p, field) {
				return
			}
		}
	}
	h.Add("Vary", field)
}

func acceptsHTML(accept []string) bool {
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, q := qualityOf(part)
			if q > 0 && (mt == "text/html" || mt == "application/xhtml+xml") {
				return true
			}
		}
	}
	return false
}

// qualityOf splits "gzip;q=0.5" into ("gzip", 0.5); no q means 1.
func qualityOf(part string) (string, float64) {
	name, params, _ := strings.Cut(part, ";")
	q := 1.0
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 {
				f = 0
			}
			q = f
		}
	}
	return strings.ToLower(strings.TrimSpace(name)), q
}

// acceptable reports whether Accept-Encoding value ae admits coding
// (RFC 9110 12.5.3: identity is acceptable unless refused explicitly or
// by "*;q=0").
func acceptable(ae, coding string) bool {
	star := -1.0
	for _, part := range strings.Split(ae, ",") {
		name, q := qualityOf(part)
		if name == coding || (coding == "gzip" && name == "x-gzip") {
			return q > 0
		}
		if name == "*" {
			star = q
		}
	}
	if star >= 0 {
		return star > 0
	}
	return coding == "identity"
}

// pickEncoding chooses the client encoding for a page we compress
// ourselves: gzip first because it is several times cheaper than brotli
// for a similar ratio at on-the-fly levels (BENCH_NOTES.md).
func pickEncoding(ae string) encoding {
	for _, e := range []encoding{encGzip, encBrotli, encDeflate} {
		if acceptable(ae, e.String()) {
			return e
		}
	}
	return encIdentity
}
