package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Rewriter changes upstream traffic on the way through; inject.Rewriter is
// one.
type Rewriter interface {
	// PrepareRequest may adjust the request sent upstream.
	PrepareRequest(req *http.Request)
	// Rewrite may replace resp.Body and adjust headers; it reports whether
	// it did. A body of known length keeps a Content-Length header with
	// that length and goes out with it; a streamed body has none, and the
	// response headers then go out with its first bytes, or alone if those
	// take longer than a millisecond (headerHold); a body that fails
	// before either happened becomes a 502. A body with an UpstreamErr()
	// error method says the upstream body already failed: the front
	// answers 502 (or 504) instead.
	Rewrite(resp *http.Response) bool
}

// Front is the public listener's handler.
type Front struct {
	upstream  *url.URL
	prefix    string
	own       []string // cookie names kept from the upstream
	endpoints http.Handler
	rewriter  Rewriter
	trust     Trust
	cfg       Config
	engine    *goproxy.ProxyHttpServer
	transport *http.Transport
	log       zerolog.Logger
	m         *metrics
	hold      time.Duration // headerHold; tests lengthen it
	access    *accessLog
	// RedactPath, when set, cleans a request path before it is logged.
	RedactPath func(string) string
}

// Options are Front's collaborators.
type Options struct {
	// Prefix is where Endpoints live, e.g. "/__replay".
	Prefix string
	// Endpoints serves every request under Prefix; they never reach the
	// upstream. Nil answers 404.
	Endpoints http.Handler
	// Rewriter, when set, sees each upstream request and response.
	Rewriter Rewriter
	// Registerer, when set, gets the front's metrics
	// (replaygate_proxy_*).
	Registerer prometheus.Registerer
	// OwnCookies are the names of replaygate's own cookies (the signed
	// consent and its companion): requests to the upstream go without
	// them, so the site never sees the visitor's consent subject.
	OwnCookies []string
}

type ctxKey struct{}

// requestState travels from the front handler to the engine's hooks.
type requestState struct {
	canHijack bool
	// rewritten is set when the rewriter streams the response: its first
	// body bytes wait for the rewriter (decode, search, re-encode), so the
	// headers do not wait for them longer than headerHold.
	rewritten bool
	// contentLength is the response's Content-Length, which the engine
	// drops whenever the body is replaced; the writer puts it back.
	contentLength string
	// bodyErr is the error that broke off reading the upstream body; the
	// response is then aborted, never ended as if it were complete.
	bodyErr error
}

// New builds the front handler for upstream.
func New(cfg Config, upstream *url.URL, opts Options, log zerolog.Logger) (*Front, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	trust, err := NewTrust(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	f := &Front{
		upstream:  upstream,
		prefix:    strings.TrimSuffix(opts.Prefix, "/"),
		endpoints: opts.Endpoints,
		own:       opts.OwnCookies,
		rewriter:  opts.Rewriter,
		trust:     trust,
		cfg:       cfg,
		transport: NewTransport(cfg),
		log:       log,
		hold:      headerHold,
	}
	if f.m, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("proxy: metrics: %w", err)
	}
	f.engine = f.newEngine()
	f.access = &accessLog{log: log, redact: f.redact}
	return f, nil
}

// Trust returns the proxy trust settings (for Secure cookies, client IPs).
func (f *Front) Trust() Trust { return f.trust }

// Close releases idle upstream connections and writes the access log
// lines still queued; lines of requests that end later are written at once.
func (f *Front) Close() {
	f.transport.CloseIdleConnections()
	f.access.close()
}

// NewTransport returns the tuned transport used for the upstream: bounded
// dial, TLS and header waits, a large idle pool, no proxy from the
// environment, and no transparent decompression (the injector decides).
func NewTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

func (f *Front) newEngine() *goproxy.ProxyHttpServer {
	e := goproxy.NewProxyHttpServer()
	e.Tr = f.transport
	e.KeepAcceptEncoding = true
	e.Logger = discardLogger{}
	// Every request reaching the engine has been made absolute by Front;
	// a relative one would be a bug, never a reason to serve something.
	e.NonproxyHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadGateway, "upstream unavailable")
	})
	e.ConnectDial = func(string, string) (net.Conn, error) { return nil, errors.New("proxy: CONNECT refused") }
	e.OnResponse().DoFunc(f.onResponse)
	return e
}

// ServeHTTP routes r: CONNECT is refused, the prefix goes to the endpoints,
// everything else to the upstream and nowhere else.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w, hold: f.hold}
	route := "upstream"
	defer func() {
		rw.release()
		rw.closeHijacked()
		f.logAccess(r, rw, start)
		f.m.request(route, rw.status, rw.aborted, time.Since(start))
	}()

	switch {
	case r.Method == http.MethodConnect:
		route = "refused"
		rw.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		writeError(rw, http.StatusMethodNotAllowed, "CONNECT is not supported: this is a reverse proxy")
	case f.isOwnPath(r.URL.Path):
		route = "own"
		if f.endpoints == nil {
			writeError(rw, http.StatusNotFound, "not found")
			return
		}
		f.endpoints.ServeHTTP(rw, r)
	default:
		f.engine.ServeHTTP(rw, f.outgoing(rw, r))
		if err := rw.state.bodyErr; err != nil {
			left := r.Context().Err() != nil // the visitor went away
			if !left && rw.discardHeld() {
				// The body failed before its first bytes, while the
				// headers were held: nothing was sent, so the visitor
				// gets a clean 502 (or 504) rather than a broken
				// connection.
				status, msg, _ := upstreamError(err)
				f.m.failure("body_broke_off")
				f.log.Warn().Err(err).Str("path", f.redact(r.URL.Path)).Int("status", status).Msg("upstream body failed before anything was sent")
				writeError(rw, status, msg)
				return
			}
			// The engine ended the response normally; a chunked body would
			// look complete to the client. Abort the connection instead.
			rw.aborted = true
			if left {
				f.m.failure("canceled")
			} else {
				f.m.failure("body_broke_off")
			}
			f.log.Debug().Err(err).Str("path", f.redact(r.URL.Path)).Msg("upstream body broke off: response aborted")
			panic(http.ErrAbortHandler)
		}
	}
}

func (f *Front) isOwnPath(p string) bool {
	return p == f.prefix || strings.HasPrefix(p, f.prefix+"/")
}

// outgoing builds the upstream request: always the configured upstream,
// whatever host an absolute-form request line named.
func (f *Front) outgoing(w *responseWriter, r *http.Request) *http.Request {
	state := &requestState{canHijack: canHijack(w.ResponseWriter)}
	w.state = state
	ctx := context.WithValue(r.Context(), ctxKey{}, state)
	if r.ProtoAtLeast(1, 1) {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
				if code != http.StatusEarlyHints {
					return nil
				}
				h := w.Header()
				for k, vs := range header {
					h[k] = append(h[k], vs...)
				}
				w.WriteHeader(code)
				clear(h)
				return nil
			},
		})
	}
	out := r.WithContext(ctx)
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.URL = &url.URL{
		Scheme:   f.upstream.Scheme,
		Host:     f.upstream.Host,
		Path:     joinPath(f.upstream.Path, r.URL.Path),
		RawQuery: r.URL.RawQuery,
	}
	if r.URL.RawPath != "" {
		out.URL.RawPath = joinPath(f.upstream.EscapedPath(), r.URL.RawPath)
	}
	if !f.cfg.PreserveHost || r.Host == "" {
		out.Host = f.upstream.Host
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	out.Close = false
	upgrade := r.ProtoMajor == 1 && isUpgrade(r.Header) && state.canHijack
	removeHopHeaders(out.Header, upgrade)
	dropCookies(out.Header, f.own)
	if headerHasToken(r.Header, "Te", "trailers") {
		out.Header.Set("Te", "trailers")
	}
	f.trust.setForwarded(out, r)
	if f.rewriter != nil {
		f.rewriter.PrepareRequest(out)
	}
	return out
}

// dropCookies removes the named cookies from h's Cookie headers, and the
// headers left empty. Lines without them stay as they are.
func dropCookies(h http.Header, names []string) {
	values := h["Cookie"]
	if len(names) == 0 || len(values) == 0 {
		return
	}
	kept := values[:0:0]
	changed := false
	for _, v := range values {
		var parts []string
		dropped := false
		for part := range strings.SplitSeq(v, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if slices.Contains(names, strings.TrimSpace(name)) {
				dropped = true
			} else if part != "" {
				parts = append(parts, part)
			}
		}
		switch {
		case !dropped:
			kept = append(kept, v)
		case len(parts) > 0:
			kept = append(kept, strings.Join(parts, "; "))
		}
		changed = changed || dropped
	}
	switch {
	case !changed:
	case len(kept) == 0:
		h.Del("Cookie")
	default:
		h["Cookie"] = kept
	}
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(p, "/")
}

// onResponse runs in the engine for every upstream answer (or failure).
func (f *Front) onResponse(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
	if resp == nil {
		return f.failure(ctx.Req, ctx.Error)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		state, _ := ctx.Req.Context().Value(ctxKey{}).(*requestState)
		if state == nil || !state.canHijack {
			_ = resp.Body.Close()
			return f.failure(ctx.Req, errors.New("proxy: upgrade on a connection that cannot be hijacked"))
		}
		return resp
	}
	removeHopHeaders(resp.Header, false)
	state, _ := ctx.Req.Context().Value(ctxKey{}).(*requestState)
	if f.rewriter != nil && f.rewriter.Rewrite(resp) {
		if fb, ok := resp.Body.(interface{ UpstreamErr() error }); ok {
			// The rewriter read the body whole and it broke off: nothing
			// has been sent yet, so the visitor gets a clean 502.
			_ = resp.Body.Close()
			return f.failure(ctx.Req, fb.UpstreamErr())
		}
		if state != nil {
			state.rewritten = resp.Header.Get("Content-Length") == "" // streamed, not rewritten whole
		}
	}
	if state != nil && resp.Body != nil && resp.Body != http.NoBody {
		if len(resp.Trailer) == 0 {
			state.contentLength = resp.Header.Get("Content-Length")
		}
		resp.Body = &watchedBody{ReadCloser: resp.Body, state: state}
	}
	return resp
}

// failure turns an upstream error into a generic 502 or 504; the error
// text goes to the log, never to the visitor.
func (f *Front) failure(req *http.Request, err error) *http.Response {
	status, msg, reason := upstreamError(err)
	ev := f.log.Warn()
	if reason == "canceled" {
		ev = f.log.Debug()
	}
	f.m.failure(reason)
	ev.Err(err).Str("method", req.Method).Str("path", f.redact(req.URL.Path)).Int("status", status).Msg("upstream request failed")
	body := `{"error":"` + msg + `"}` + "\n"
	return &http.Response{
		StatusCode:    status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// upstreamError maps an upstream failure to the visitor's status and
// message and to the metric's reason.
func upstreamError(err error) (status int, msg, reason string) {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return http.StatusBadGateway, "upstream unavailable", "canceled"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return http.StatusGatewayTimeout, "upstream timed out", "timeout"
	}
	return http.StatusBadGateway, "upstream unavailable", "unavailable"
}

func (f *Front) redact(p string) string {
	if f.RedactPath != nil {
		return f.RedactPath(p)
	}
	return p
}

func (f *Front) logAccess(r *http.Request, w *responseWriter, start time.Time) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	f.access.add(accessEntry{
		method: r.Method, path: r.URL.Path, status: status, bytes: w.bytes,
		dur: time.Since(start), aborted: w.aborted,
	})
}

// writeError answers with a short JSON error.
func writeError(w http.ResponseWriter, status int, msg string) {
	body := `{"error":"` + msg + `"}` + "\n"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
