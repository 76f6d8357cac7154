package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
)

// ConsentVerifier accepts an upload request only under valid, current,
// granted consent, returning the consent subject; *policy.Consent is one.
type ConsentVerifier interface {
	Verify(r *http.Request) (subject string, ok bool)
}

// Scrubber validates an rrweb event array and scrubs it in one pass,
// appending the result to dst. Input errors are *scrub.InputError.
type Scrubber interface {
	Scrub(dst, src []byte) ([]byte, scrub.Result, error)
}

// Spool keeps accepted segments durably. Append returns once seg is on disk
// and must not keep seg.Gzip or seg.Summary.Info after it returns (Handler
// reuses their buffers); it returns spool.ErrFull when it cannot take more.
// Handler's segments carry Gzip (the scrubbed events, compressed by
// Handler) and no Events.
type Spool interface {
	Append(seg spool.Segment) error
}

// Deps are the collaborators of Handler.
type Deps struct {
	Consent  ConsentVerifier
	Scrubber Scrubber
	Spool    Spool
	// SameOrigin reports whether r comes from the site's own pages; nil
	// means policy.SameOrigin.
	SameOrigin func(r *http.Request) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves POST {prefix}/ingest. Create it with New; it is safe for
// concurrent use.
type Handler struct {
	cfg      Config
	deps     Deps
	log      zerolog.Logger
	errLog   zerolog.Logger   // sampled: a broken spool must not flood the log
	subjects *subjectLimiters // nil: no per-subject limit
	overall  *rate.Limiter    // nil: no overall limit
	m        *metrics

	bufs sync.Pool // *[]byte: wire, decoded, scrubbed and compressed bodies
	gzs  sync.Pool // *gzip.Reader
	gzws sync.Pool // *gzip.Writer at cfg.GzipLevel

	// maxScrubbed bounds the scrubbed events: spool.MaxSegmentBytes, which
	// every consumer of the segment decompresses it within.
	maxScrubbed int
}

// maxPooledBuf keeps unusually large buffers out of the pool so a few big
// uploads do not pin memory.
const maxPooledBuf = 2 << 20

// MaxSeq is the largest accepted segment number.
const MaxSeq = 100_000

// New validates cfg and returns a Handler; reg may be nil (no metrics).
func New(cfg Config, deps Deps, log zerolog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if deps.Consent == nil || deps.Scrubber == nil || deps.Spool == nil {
		return nil, errors.New("ingest: Deps.Consent, Deps.Scrubber and Deps.Spool are required")
	}
	if deps.SameOrigin == nil {
		deps.SameOrigin = policy.SameOrigin
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &Handler{
		cfg:  cfg,
		deps: deps,
		log:  log.With().Str("component", "ingest").Logger(),
		m:    newMetrics(),

		maxScrubbed: spool.MaxSegmentBytes,
	}
	level := cfg.GzipLevel
	h.gzws.New = func() any {
		w, _ := gzip.NewWriterLevel(nil, level) // level is validated
		return w
	}
	h.errLog = h.log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute})
	if cfg.SubjectRate > 0 {
		h.subjects = newSubjectLimiters(cfg.SubjectRate, cfg.SubjectBurst, cfg.MaxSubjects)
	}
	if cfg.OverallRate > 0 {
		h.overall = rate.NewLimiter(rate.Limit(cfg.OverallRate), cfg.OverallBurst)
	}
	if reg != nil {
		if err := h.m.register(reg); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	return h, nil
}

// refusal is a refused upload: its metric reason, status and client message.
type refusal struct {
	reason     string
	status     int
	msg        string
	retryAfter time.Duration
}

func (r *refusal) Error() string { return r.reason }

// Refusals with a fixed message.
var (
	errMethod      = &refusal{"method", http.StatusMethodNotAllowed, "use POST", 0}
	errCrossOrigin = &refusal{"cross_origin", http.StatusForbidden, "cross-origin upload refused", 0}
	errConsent     = &refusal{"consent", http.StatusForbidden, "no valid consent: record consent before uploading", 0}
	errContentType = &refusal{"content_type", http.StatusUnsupportedMediaType, "Content-Type must be application/json", 0}
	errEncoding    = &refusal{"content_encoding", http.StatusUnsupportedMediaType, "Content-Encoding must be identity or gzip", 0}
	errReplay      = &refusal{"bad_replay", http.StatusBadRequest, "replay must be 32 lowercase hex digits", 0}
	errSeq         = &refusal{"bad_seq", http.StatusBadRequest, "seq must be an integer from 0 to " + strconv.Itoa(MaxSeq), 0}
	errGzip        = &refusal{"bad_gzip", http.StatusBadRequest, "body is not valid gzip", 0}
	errRead        = &refusal{"read_error", http.StatusBadRequest, "could not read the request body", 0}
	errScrub       = &refusal{"scrub_error", http.StatusInternalServerError, "upload could not be processed", 0}
	errSpool       = &refusal{"spool_error", http.StatusServiceUnavailable, "temporarily unavailable: retry later", 5 * time.Second}
)

// refusalReasons lists every reason, for metrics.
var refusalReasons = []string{
	"method", "cross_origin", "consent", "rate_subject", "rate_overall",
	"content_type", "content_encoding", "bad_replay", "bad_seq",
	"too_large_wire", "too_large_decoded", "bad_gzip", "read_error",
	"invalid_input", "scrub_error", "spool_full", "spool_error",
}

// ServeHTTP handles one upload.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	err := h.serve(r)
	var ref *refusal
	if err == nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"accepted"}`+"\n")
		h.m.accepted.Inc()
		h.m.acceptedSeconds.Observe(time.Since(start).Seconds())
		return
	}
	if !errors.As(err, &ref) {
		ref = errScrub
	}
	h.refuse(w, ref)
	h.m.refusal(ref.reason).Inc()
	h.m.refusedSeconds.Observe(time.Since(start).Seconds())
	h.log.Debug().Str("reason", ref.reason).Int("status", ref.status).Msg("upload refused")
}

func (h *Handler) refuse(w http.ResponseWriter, ref *refusal) {
	hd := w.Header()
	if ref.status == http.StatusMethodNotAllowed {
		hd.Set("Allow", "POST")
	}
	if ref.retryAfter > 0 {
		secs := int64((ref.retryAfter + time.Second - 1) / time.Second)
		hd.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(ref.status)
	msg, _ := json.Marshal(ref.msg)
	io.WriteString(w, `{"error":`+string(msg)+"}\n")
}

// serve runs the checks in the documented order and spools the upload.
func (h *Handler) serve(r *http.Request) error {
	if r.Method != http.MethodPost {
		return errMethod
	}
	if !h.deps.SameOrigin(r) {
		return errCrossOrigin
	}
	// Received before its consent is checked: a withdrawal that the check
	// does not see yet takes effect later than this, and takes the
	// segment with it (withdrawals and erasures compare times).
	received := h.deps.Now().UTC()
	subject, ok := h.deps.Consent.Verify(r)
	if !ok {
		return errConsent
	}
	if err := h.allow(subject); err != nil {
		return err
	}
	if !jsonContentType(r.Header.Get("Content-Type")) {
		return errContentType
	}
	gzipped, ok := parseEncoding(r.Header.Get("Content-Encoding"))
	if !ok {
		return errEncoding
	}
	q := r.URL.Query()
	replay := q.Get("replay")
	if !isReplayID(replay) {
		return errReplay
	}
	seq, ok := parseSeq(q.Get("seq"))
	if !ok {
		return errSeq
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return h.tooLargeWire()
	}

	wire := h.getBuf()
	defer h.putBuf(wire)
	var err error
	*wire, err = readLimited((*wire)[:0], r.Body, h.cfg.MaxBodyBytes)
	h.m.wireBytes.Add(float64(len(*wire)))
	switch {
	case errors.Is(err, errTooLarge):
		return h.tooLargeWire()
	case err != nil:
		return errRead
	}
	// JSON never starts with the gzip magic, so a gzip body is recognised
	// even when sent without Content-Encoding (sendBeacon cannot set it).
	body := *wire
	if gzipped || bytes.HasPrefix(body, gzipMagic) {
		decoded := h.getBuf()
		defer h.putBuf(decoded)
		if *decoded, err = h.gunzip((*decoded)[:0], body); err != nil {
			return err
		}
		body = *decoded
	}
	h.m.decodedBytes.Add(float64(len(body)))

	out := h.getBuf()
	defer h.putBuf(out)
	scrubbed, res, err := h.deps.Scrubber.Scrub((*out)[:0], body)
	if err != nil {
		var in *scrub.InputError
		if errors.As(err, &in) {
			return &refusal{"invalid_input", http.StatusBadRequest, in.Msg, 0}
		}
		h.errLog.Error().Err(err).Msg("scrubber failed")
		return errScrub
	}
	*out = scrubbed[:0]
	for det, n := range res.Hits {
		h.m.scrubHits.WithLabelValues(det).Add(float64(n))
	}
	// Stored arrays have no surrounding whitespace (the store streams
	// their elements back between its own brackets).
	events := bytes.TrimSpace(scrubbed)
	if len(events) > h.maxScrubbed {
		return &refusal{"too_large_decoded", http.StatusRequestEntityTooLarge,
			"scrubbed body exceeds " + strconv.Itoa(h.maxScrubbed) + " bytes: upload smaller segments", 0}
	}
	// The scrubbed events are compressed once, here, for the spool and
	// the store: our own compression, never the upload's, even when the
	// scrubber changed nothing: bits a decoder ignores (the padding of a
	// stored block, unused code lengths) could carry anything past it.
	zbuf := h.getBuf()
	defer h.putBuf(zbuf)
	if *zbuf, err = h.gzip((*zbuf)[:0], events); err != nil {
		h.errLog.Error().Err(err).Msg("compressing scrubbed events failed")
		return errScrub
	}
	// Summary.Info aliases the scrubbed buffer, which stays ours until
	// Append has returned.
	seg := spool.Segment{
		ReplayID:   replay,
		Seq:        seq,
		Subject:    subject,
		ReceivedAt: received,
		Gzip:       *zbuf,
		Summary:    summarize(scrubbed, &res),
	}
	err = h.deps.Spool.Append(seg)
	switch {
	case errors.Is(err, spool.ErrFull):
		return &refusal{"spool_full", http.StatusServiceUnavailable, "server busy: retry later", h.cfg.FullRetryAfter}
	case err != nil:
		h.errLog.Error().Err(err).Msg("spool append failed")
		return errSpool
	}
	h.m.spooledBytes.Add(float64(len(seg.Gzip)))
	return nil
}

// gzip appends one gzip member of src, at gzip_level, to dst.
func (h *Handler) gzip(dst, src []byte) ([]byte, error) {
	zw := h.gzws.Get().(*gzip.Writer)
	defer h.gzws.Put(zw)
	w := appendWriter{b: dst}
	zw.Reset(&w)
	_, err := zw.Write(src)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return w.b, err
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// summarize turns what the scrubber saw into the segment's summary, so
// that the local store need not parse the events again. Info aliases out.
func summarize(out []byte, res *scrub.Result) *spool.Summary {
	sum := &spool.Summary{
		Events: res.Events,
		First:  res.FirstTimestamp,
		Last:   res.LastTimestamp,
		Clicks: res.Clicks,
		Info:   make([][]byte, len(res.Info)),
	}
	for i, sp := range res.Info {
		sum.Info[i] = out[sp.Start:sp.End]
	}
	return sum
}

func (h *Handler) tooLargeWire() error {
	return &refusal{"too_large_wire", http.StatusRequestEntityTooLarge,
		"body exceeds " + strconv.FormatInt(h.cfg.MaxBodyBytes, 10) + " bytes: upload smaller segments", 0}
}

// allow applies the per-subject, then the overall rate limit.
func (h *Handler) allow(subject string) error {
	now := h.deps.Now()
	var mine *rate.Reservation
	if h.subjects != nil {
		res, wait := take(h.subjects.get(subject), now)
		if res == nil {
			return &refusal{"rate_subject", http.StatusTooManyRequests, "too many uploads: retry later", wait}
		}
		mine = res
	}
	if h.overall != nil {
		if res, wait := take(h.overall, now); res == nil {
			if mine != nil {
				mine.CancelAt(now)
			}
			return &refusal{"rate_overall", http.StatusTooManyRequests, "server busy: retry later", wait}
		}
	}
	return nil
}

var gzipMagic = []byte{0x1f, 0x8b}

// gunzip appends the decompression of src to dst, stopping as soon as the
// output would exceed max_decoded_bytes. Concatenated members are decoded
// too, as gzip does.
func (h *Handler) gunzip(dst, src []byte) ([]byte, error) {
	zr, _ := h.gzs.Get().(*gzip.Reader)
	if zr == nil {
		zr = new(gzip.Reader)
	}
	defer h.gzs.Put(zr)
	if err := zr.Reset(bytes.NewReader(src)); err != nil {
		return dst, errGzip
	}
	dst, err := readLimited(dst, zr, h.cfg.MaxDecodedBytes)
	switch {
	case errors.Is(err, errTooLarge):
		return dst, &refusal{"too_large_decoded", http.StatusRequestEntityTooLarge,
			"decompressed body exceeds " + strconv.FormatInt(h.cfg.MaxDecodedBytes, 10) + " bytes: upload smaller segments", 0}
	case err != nil:
		return dst, errGzip
	}
	return dst, nil
}

var errTooLarge = errors.New("ingest: too large")

// readLimited appends r's content to dst and fails with errTooLarge as soon
// as more than limit bytes arrive: memory never exceeds limit+1 bytes.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	for {
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if len(dst) == cap(dst) {
			// Grow by doubling, but never beyond limit+1.
			n := int64(cap(dst))*2 + 512
			if n > limit+1 {
				n = limit + 1
			}
			dst = append(dst[:cap(dst)], make([]byte, int(n)-cap(dst))...)[:len(dst)]
		}
		end := cap(dst)
		if int64(end) > limit+1 {
			end = int(limit + 1)
		}
		n, err := r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			if int64(len(dst)) > limit {
				return dst, errTooLarge
			}
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

func (h *Handler) getBuf() *[]byte {
	if b, ok := h.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 32<<10)
	return &b
}

func (h *Handler) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	h.bufs.Put(b)
}

// jsonContentType accepts application/json, and text/plain (what a beacon
// with a string body sends), with an optional UTF-8 charset.
func jsonContentType(v string) bool {
	switch v {
	case "application/json", "text/plain;charset=UTF-8", "application/json;charset=UTF-8":
		return true
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || (mt != "application/json" && mt != "text/plain") {
		return false
	}
	for k, val := range params {
		if k != "charset" || !strings.EqualFold(val, "utf-8") {
			return false
		}
	}
	return true
}

// parseEncoding accepts identity and gzip, and reports whether it is gzip.
func parseEncoding(v string) (gzipped, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "identity":
		return false, true
	case "gzip", "x-gzip":
		return true, true
	}
	return false, false
}

// isReplayID reports whether s is 32 lowercase hex digits.
func isReplayID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// parseSeq accepts a decimal integer from 0 to MaxSeq, digits only.
func parseSeq(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxSeq
}
