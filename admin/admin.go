package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/store"
)

// Replays is the part of the replay store the admin API uses;
// *store.Store implements it.
type Replays interface {
	List(ctx context.Context) ([]store.Meta, error)
	Get(ctx context.Context, id string) (store.Meta, error)
	WriteEvents(ctx context.Context, id string, w io.Writer) error
	Delete(ctx context.Context, id string) error
	EraseSubjectCount(ctx context.Context, subject string) (int, error)
}

// ConsentExporter writes the consent proof records as {"consents":[…]}, of
// one subject or of everyone when subject is ""; *policy.Consent implements it.
type ConsentExporter interface {
	ExportJSON(w io.Writer, subject string) error
}

// Deps are the live objects the admin API serves.
type Deps struct {
	// Replays is the replay store. Required.
	Replays Replays
	// Consents exports the consent proof log; nil answers 404.
	Consents ConsentExporter
	// Gatherer is served on /metrics; nil answers 404.
	Gatherer prometheus.Gatherer
	// Ready reports readiness for /readyz; nil means always ready. Its
	// error text is shown, unauthenticated, on /readyz: keep it a short
	// reason such as "spool: full", without paths or addresses.
	Ready func() error
	// Viewer serves the viewer UI: every GET outside /api/, /metrics,
	// /healthz and /readyz reaches it — its pages (/, /replays/{id} with
	// the id already validated, …) and assets — and it answers 404 itself
	// for paths it does not know. These requests are not authenticated:
	// viewer pages must be static shells that fetch every recording and
	// consent record from the API with the bearer token. nil means no
	// viewer.
	Viewer http.Handler
}

// api holds the admin handlers' state.
type api struct {
	deps  Deps
	log   zerolog.Logger
	token [32]byte // sha256 of the token
}

// New returns the admin listener's handler. cfg.Token must be set (the
// caller generates one with NewToken when the configuration has none).
func New(cfg Config, deps Deps, log zerolog.Logger) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, errors.New("admin: " + err.Error())
	}
	if cfg.Token == "" {
		return nil, errors.New("admin: token is empty; generate one with admin.NewToken")
	}
	if deps.Replays == nil {
		return nil, errors.New("admin: Deps.Replays is required")
	}
	a := &api{deps: deps, log: log, token: sha256.Sum256([]byte(cfg.Token))}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.requireToken(a.metricsHandler()))

	gz := gzhttp.GzipHandler
	mux.Handle("GET /api/replays", a.requireToken(gz(http.HandlerFunc(a.listReplays))))
	mux.Handle("GET /api/replays/{id}", a.requireToken(gz(a.withID(a.getReplay))))
	mux.Handle("GET /api/replays/{id}/events", a.requireToken(gz(a.withID(a.replayEvents))))
	mux.Handle("DELETE /api/replays/{id}", a.requireToken(a.withID(a.deleteReplay)))
	mux.Handle("GET /api/consents", a.requireToken(gz(http.HandlerFunc(a.consents))))
	mux.Handle("DELETE /api/subjects/{subject}", a.requireToken(http.HandlerFunc(a.eraseSubject)))

	// Unknown API paths answer JSON 404 even with a viewer mounted on GET /.
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	if deps.Viewer != nil {
		mux.Handle("GET /", deps.Viewer)
		mux.Handle("GET /replays/{id}", a.withID(deps.Viewer.ServeHTTP))
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if _, pattern := mux.Handler(r); pattern == "" {
			// Unknown path or method: the mux writes text; answer JSON.
			w = &jsonErrorWriter{ResponseWriter: w}
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// setSecurityHeaders sets the defaults of every admin response; the viewer
// may replace the CSP and caching of its own pages and assets.
func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	if a.deps.Ready != nil {
		if err := a.deps.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *api) metricsHandler() http.Handler {
	if a.deps.Gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "metrics are not enabled")
		})
	}
	return promhttp.HandlerFor(a.deps.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// withID answers 400 unless the {id} path value is a replay id.
func (a *api) withID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !store.ValidID(r.PathValue("id")) {
			writeError(w, http.StatusBadRequest, "replay id must be 32 lowercase hex digits")
			return
		}
		next(w, r)
	}
}

// listReplays lists every replay, newest first; ?subject= keeps one
// visitor's (for access requests).
func (a *api) listReplays(w http.ResponseWriter, r *http.Request) {
	subject := r.URL.Query().Get("subject")
	if subject != "" && !validSubject(subject) {
		writeError(w, http.StatusBadRequest, "subject must be 1-128 letters, digits, '.', '_' or '-'")
		return
	}
	metas, err := a.deps.Replays.List(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if subject != "" {
		metas = slices.DeleteFunc(metas, func(m store.Meta) bool { return m.Subject != subject })
	}
	if metas == nil {
		metas = []store.Meta{}
	}
	writeJSON(w, http.StatusOK, struct {
		Replays []store.Meta `json:"replays"`
	}{metas})
}

func (a *api) getReplay(w http.ResponseWriter, r *http.Request) {
	m, err := a.deps.Replays.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *api) replayEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.deps.Replays.Get(r.Context(), id); err != nil {
		a.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	cw := &countingWriter{w: w}
	if err := a.deps.Replays.WriteEvents(r.Context(), id, cw); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Type")
			a.storeError(w, r, err)
			return
		}
		// The status is sent; the client sees a truncated array.
		if r.Context().Err() == nil {
			a.log.Error().Err(err).Str("replay", id).Msg("admin: streaming replay events failed")
		}
	}
}

func (a *api) deleteReplay(w http.ResponseWriter, r *http.Request) {
	if err := a.deps.Replays.Delete(r.Context(), r.PathValue("id")); err != nil {
		a.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) eraseSubject(w http.ResponseWriter, r *http.Request) {
	subject := r.PathValue("subject")
	if !validSubject(subject) {
		writeError(w, http.StatusBadRequest, "subject must be 1-128 letters, digits, '.', '_' or '-'")
		return
	}
	n, err := a.deps.Replays.EraseSubjectCount(r.Context(), subject)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.log.Info().Int("replays", n).Msg("admin: subject erased")
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) consents(w http.ResponseWriter, r *http.Request) {
	if a.deps.Consents == nil {
		writeError(w, http.StatusNotFound, "the consent log is not enabled")
		return
	}
	subject := r.URL.Query().Get("subject")
	if subject != "" && !validSubject(subject) {
		writeError(w, http.StatusBadRequest, "subject must be 1-128 letters, digits, '.', '_' or '-'")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	cw := &countingWriter{w: w}
	if err := a.deps.Consents.ExportJSON(cw, subject); err != nil {
		a.log.Error().Err(err).Msg("admin: consent export failed")
		if cw.n == 0 {
			writeError(w, http.StatusInternalServerError, "the consent log could not be read; see the server log")
		}
	}
}

// validSubject accepts the opaque subject ids the consent package issues
// (hex today) and similar tokens, and nothing that needs escaping.
func validSubject(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// storeError maps store errors to statuses; anything unexpected is logged
// and answered without its text.
func (a *api) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrInvalidID):
		writeError(w, http.StatusBadRequest, "replay id must be 32 lowercase hex digits")
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no replay with this id")
	case errors.Is(err, store.ErrInvalidSubject):
		writeError(w, http.StatusBadRequest, "subject must be 1-128 letters, digits, '.', '_' or '-'")
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		a.log.Error().Err(err).Str("route", r.Pattern).Msg("admin: store error")
		writeError(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a write error means the client is gone
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// countingWriter counts bytes written, to know whether a status is sent.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// jsonErrorWriter turns the mux's plain-text 404 and 405 answers into JSON.
type jsonErrorWriter struct {
	http.ResponseWriter
	wrote bool
}

func (e *jsonErrorWriter) WriteHeader(code int) {
	if e.wrote {
		return
	}
	e.wrote = true
	msg := http.StatusText(code)
	switch code {
	case http.StatusNotFound:
		msg = "no such endpoint"
	case http.StatusMethodNotAllowed:
		msg = "method not allowed; see the Allow header"
	}
	e.Header().Del("Content-Length")
	writeError(e.ResponseWriter, code, msg)
}

func (e *jsonErrorWriter) Write(p []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return len(p), nil
}
