package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Eraser erases the stored recordings of a subject made up to a time (a
// withdrawal's), keeping those recorded entirely after it, when the
// visitor gave consent again; the store implements it.
type Eraser interface {
	EraseSubjectBefore(ctx context.Context, subject string, at time.Time) error
}

// Options are the hooks Consent takes from its surroundings. The zero value
// works for a plain-HTTP listener without erasure.
type Options struct {
	// IsHTTPS reports whether the visitor's scheme is https (TLS here or a
	// trusted X-Forwarded-Proto); it decides the cookies' Secure flag.
	// Nil means r.TLS != nil.
	IsHTTPS func(r *http.Request) bool
	// NoticeHash returns a hash of the notice text shown in language lang,
	// stored with every decision as proof. Nil stores none.
	NoticeHash func(lang string) string
	// ClientIP returns the visitor's address (the proxy knows which
	// forwarding headers to trust). Nil means r.RemoteAddr. Used only when
	// log_ip is truncate.
	ClientIP func(r *http.Request) netip.Addr
	// Eraser erases a withdrawing subject's recordings; required when
	// erase_on_withdraw is on.
	Eraser Eraser
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Consent serves {prefix}/consent, verifies consent cookies for ingest, and
// keeps the consent proof log. Create it with New; it is safe for concurrent
// use.
type Consent struct {
	cfg    Config
	opts   Options
	log    zerolog.Logger
	keys   [][]byte // keys[0] signs
	proofs *ProofLog
	wd     *withdrawals
	rate   *rate.Limiter // nil: decisions not rate limited
	m      metrics
	// withdrawing serializes withdrawals from the check that a grant is
	// still live to its stamp, so that one grant is withdrawn once.
	withdrawing sync.Mutex
}

// eraseTimeout bounds one erasure attempt.
const eraseTimeout = 30 * time.Second

// New validates cfg, loads or creates the signing key and opens the proof log
// and withdrawn-subjects file in dataDir. Call Run to compact and retry
// failed erasures, and Close when done.
func New(cfg Config, dataDir string, opts Options, log zerolog.Logger, reg prometheus.Registerer) (*Consent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if cfg.EraseOnWithdraw && opts.Eraser == nil {
		return nil, errors.New("policy: erase_on_withdraw is on but no Eraser was given")
	}
	if opts.IsHTTPS == nil {
		opts.IsHTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientIP == nil {
		opts.ClientIP = remoteAddr
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("policy: data dir: %w", err)
	}
	keys, err := signingKeys(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	proofs, err := OpenProofLog(dataDir)
	if err != nil {
		return nil, err
	}
	wd, err := openWithdrawals(dataDir)
	if err != nil {
		proofs.Close()
		return nil, err
	}
	c := &Consent{
		cfg:    cfg,
		opts:   opts,
		log:    log.With().Str("component", "consent").Logger(),
		keys:   keys,
		proofs: proofs,
		wd:     wd,
		m:      newMetrics(),
	}
	if cfg.DecisionRate > 0 {
		c.rate = rate.NewLimiter(rate.Limit(cfg.DecisionRate), cfg.DecisionBurst)
	}
	if reg != nil {
		if err := c.m.register(reg); err != nil {
			c.Close()
			return nil, fmt.Errorf("policy: metrics: %w", err)
		}
	}
	return c, nil
}

// Close closes the proof log and the withdrawn-subjects file.
func (c *Consent) Close() error {
	return errors.Join(c.proofs.Close(), c.wd.close())
}

// Run compacts the proof log (records older than log_retention) and the
// withdrawn-subjects file at start and daily, and retries failed erasures
// every minute, until ctx is done.
func (c *Consent) Run(ctx context.Context) error {
	compact := time.NewTicker(24 * time.Hour)
	defer compact.Stop()
	retry := time.NewTicker(time.Minute)
	defer retry.Stop()
	c.Compact()
	c.retryErasures(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-compact.C:
			c.Compact()
		case <-retry.C:
			c.retryErasures(ctx)
		}
	}
}

// Compact applies log_retention to the proof log and forgets withdrawals
// older than the longest cookie lifetime.
func (c *Consent) Compact() {
	now := c.opts.Now()
	if n, err := c.proofs.Compact(now.Add(-c.cfg.LogRetention)); err != nil {
		c.log.Error().Err(err).Msg("consent log compaction failed")
	} else if n > 0 {
		c.log.Info().Int("dropped", n).Msg("consent log compacted")
	}
	if _, err := c.wd.compact(now.Add(-MaxCookieLifetime)); err != nil {
		c.log.Error().Err(err).Msg("withdrawn subjects compaction failed")
	}
}

// ExportJSON writes {"consents":[…]}: every proof record of subject, or of
// everyone when subject is "". The admin API serves it.
func (c *Consent) ExportJSON(w io.Writer, subject string) error {
	return c.proofs.ExportJSON(w, subject)
}

// Withdrawn reports whether subject withdrew its consent, and when. A
// forwarder or store may use it to drop segments still in flight.
func (c *Consent) Withdrawn(subject string) (time.Time, bool) {
	e, ok := c.wd.get(subject)
	return e.At, ok
}

// Mode returns the consent mode for r's region.
func (c *Consent) Mode(r *http.Request) Mode {
	if m, ok := c.cfg.Regions[c.region(r)]; ok {
		return m
	}
	return c.cfg.DefaultMode
}

// region returns the validated country code from the trusted header, or "".
func (c *Consent) region(r *http.Request) string {
	if c.cfg.RegionHeader == "" {
		return ""
	}
	v := strings.ToUpper(strings.TrimSpace(r.Header.Get(c.cfg.RegionHeader)))
	if !regionRE.MatchString(v) {
		return ""
	}
	return v
}

// gpc reports whether r carries the Global Privacy Control signal.
func gpc(r *http.Request) bool { return strings.TrimSpace(r.Header.Get("Sec-GPC")) == "1" }

// Refusal reasons reported by Check.
var (
	ErrNoConsent     = errors.New("policy: no consent cookie")
	ErrInvalid       = errors.New("policy: consent cookie invalid")
	ErrNotGranted    = errors.New("policy: consent not granted")
	ErrOldPolicy     = errors.New("policy: consent given under an older policy version")
	ErrExpired       = errors.New("policy: consent expired")
	ErrWithdrawn     = errors.New("policy: consent withdrawn")
	ErrRecordingOff  = errors.New("policy: recording is off in this region")
	ErrGPCRefusal    = errors.New("policy: Global Privacy Control signal treated as refusal")
	errReasonByError = map[error]string{
		ErrNoConsent: "missing", ErrInvalid: "invalid", ErrNotGranted: "denied",
		ErrOldPolicy: "old_policy", ErrExpired: "expired", ErrWithdrawn: "withdrawn",
		ErrRecordingOff: "mode_off", ErrGPCRefusal: "gpc",
	}
)

// Verify returns the subject of r's consent cookie when it records a grant
// with a valid signature, under the current policy version, unexpired and
// not withdrawn, and the request's region and GPC signal allow recording.
// Ingest calls it for every upload.
func (c *Consent) Verify(r *http.Request) (subject string, ok bool) {
	subject, err := c.Check(r)
	if err != nil {
		c.m.verifyRefused.WithLabelValues(errReasonByError[err]).Inc()
		return "", false
	}
	return subject, true
}

// Check is Verify with the reason for a refusal (one of the Err values).
func (c *Consent) Check(r *http.Request) (string, error) {
	ck, err := c.current(r)
	if err != nil {
		return "", err
	}
	if ck.Decision != DecisionGranted {
		return "", ErrNotGranted
	}
	if c.Mode(r) == ModeOff {
		return "", ErrRecordingOff
	}
	if c.cfg.GPC == GPCRefuse && gpc(r) {
		return "", ErrGPCRefusal
	}
	return ck.Subject, nil
}

// current returns r's valid, current, unexpired consent cookie; a granted
// cookie issued before the subject withdrew is reported as ErrWithdrawn.
func (c *Consent) current(r *http.Request) (Cookie, error) {
	ck, err := c.parsed(r)
	if err != nil {
		return Cookie{}, err
	}
	if ck.PolicyVersion != c.cfg.PolicyVersion {
		return Cookie{}, ErrOldPolicy
	}
	if ck.Decision == DecisionGranted {
		if w, ok := c.wd.get(ck.Subject); ok && !ck.IssuedAt.After(w.At) {
			return Cookie{}, ErrWithdrawn
		}
	}
	return ck, nil
}

// parsed returns r's consent cookie if its signature verifies and it has
// not expired, whatever its decision or policy version.
func (c *Consent) parsed(r *http.Request) (Cookie, error) {
	hcs := r.CookiesNamed(CookieName)
	switch {
	case len(hcs) == 0:
		return Cookie{}, ErrNoConsent
	case len(hcs) > 1:
		// Someone who can set cookies for a parent domain (a sibling
		// subdomain, or a plain-http page) could plant a grant the browser
		// sends first: with two, neither is trusted.
		return Cookie{}, ErrInvalid
	}
	ck, err := ParseCookie(hcs[0].Value, c.keys)
	if err != nil {
		return Cookie{}, ErrInvalid
	}
	if !c.opts.Now().Before(ck.ExpiresAt) {
		return Cookie{}, ErrExpired
	}
	return ck, nil
}

// maxExemptGrants bounds the grant cookies that let a denial past the
// decision limit: a visitor has one, or two with a planted cookie.
const maxExemptGrants = 2

// grants returns the subjects of r's consent cookies that hold a grant
// with a valid signature, unexpired and not withdrawn since, under the
// current policy version only if current is set.
func (c *Consent) grants(r *http.Request, current bool) []string {
	var out []string
	for _, hc := range r.CookiesNamed(CookieName) {
		ck, err := ParseCookie(hc.Value, c.keys)
		if err != nil || ck.Decision != DecisionGranted || (current && ck.PolicyVersion != c.cfg.PolicyVersion) ||
			!c.opts.Now().Before(ck.ExpiresAt) || slices.Contains(out, ck.Subject) {
			continue
		}
		if wd, ok := c.wd.get(ck.Subject); ok && !ck.IssuedAt.After(wd.At) {
			continue
		}
		out = append(out, ck.Subject)
	}
	return out
}

// exemptWithdrawal reports whether a denial withdraws a live grant under
// the current policy, which no decision limit may hold back (GDPR Art.
// 7(3): withdrawing must be as easy as granting). Requests with many
// grant cookies are not exempt.
func (c *Consent) exemptWithdrawal(r *http.Request) bool {
	if n := len(r.CookiesNamed(CookieName)); n == 0 || n > maxExemptGrants {
		return false
	}
	return len(c.grants(r, true)) > 0
}

// State is the body of GET {prefix}/consent.
type State struct {
	Decision      Decision `json:"decision"`
	PolicyVersion string   `json:"policyVersion"`
	Mode          Mode     `json:"mode"`
	// GPC reports that the request carried Sec-GPC: 1.
	GPC bool `json:"gpc"`
	// GPCPolicy is how the server treats GPC ("refuse" or "ignore"), so
	// the gate knows whether to ask a visitor whose browser sends it.
	GPCPolicy string `json:"gpcPolicy"`
}

// ServeHTTP serves GET and POST {prefix}/consent.
func (c *Consent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		c.serveState(w, r)
	case http.MethodPost:
		c.serveDecision(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeError(w, http.StatusMethodNotAllowed, "use GET to read consent or POST to record a decision")
	}
}

func (c *Consent) serveState(w http.ResponseWriter, r *http.Request) {
	st := State{Decision: DecisionNone, PolicyVersion: c.cfg.PolicyVersion, Mode: c.Mode(r), GPC: gpc(r), GPCPolicy: string(c.cfg.GPC)}
	ck, err := c.current(r)
	switch {
	case err == nil:
		st.Decision = ck.Decision
	case errors.Is(err, ErrWithdrawn):
		st.Decision = DecisionDenied
	}
	writeJSON(w, http.StatusOK, st)
}

// maxDecisionBody bounds the POST body; a real one is ~40 bytes.
const maxDecisionBody = 1 << 10

var languageRE = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$`)

type decisionRequest struct {
	Decision Decision `json:"decision"`
	Language string   `json:"language"`
}

func (c *Consent) serveDecision(w http.ResponseWriter, r *http.Request) {
	if !SameOrigin(r) {
		c.m.postRefused.WithLabelValues("cross_origin").Inc()
		writeError(w, http.StatusForbidden, "cross-origin request refused: post from the site's own pages")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && mt != "text/plain") {
		c.m.postRefused.WithLabelValues("content_type").Inc()
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	var req decisionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDecisionBody+1))
	if err != nil || len(body) > maxDecisionBody || json.Unmarshal(body, &req) != nil {
		c.m.postRefused.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, `body must be JSON {"decision":"granted"|"denied","language":"en"} under 1 KiB`)
		return
	}
	if req.Decision != DecisionGranted && req.Decision != DecisionDenied {
		c.m.postRefused.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, `decision must be "granted" or "denied"`)
		return
	}
	if req.Language != "" && !languageRE.MatchString(req.Language) {
		c.m.postRefused.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, `language must be a language tag such as "en" or "de-CH"`)
		return
	}
	// Withdrawing must be as easy as granting (GDPR Art. 7(3)): a denial
	// that withdraws a live grant is never held back by the limit, which
	// others could use up. Each grant can be withdrawn so once, and grants
	// are limited.
	exempt := req.Decision == DecisionDenied && c.exemptWithdrawal(r)
	if c.rate != nil && !exempt && !c.rate.AllowN(c.opts.Now(), 1) {
		c.refuseRate(w)
		return
	}
	mode, sentGPC := c.Mode(r), gpc(r)
	if req.Decision == DecisionGranted {
		if mode == ModeOff {
			c.m.postRefused.WithLabelValues("mode_off").Inc()
			writeError(w, http.StatusForbidden, "recording is off in this region: consent cannot be granted")
			return
		}
		if sentGPC && c.cfg.GPC == GPCRefuse {
			// Not a decision by the visitor, so no proof record: the
			// browser's standing refusal simply stays in force.
			c.m.postRefused.WithLabelValues("gpc").Inc()
			c.log.Info().Msg("grant refused: Global Privacy Control signal present")
			writeError(w, http.StatusForbidden, "Global Privacy Control (Sec-GPC: 1) is on and counts as a refusal here: turn it off to grant consent")
			return
		}
	}

	// Keep the subject across decisions so a withdrawal names the subject
	// whose recordings exist.
	prev, prevErr := c.parsed(r)
	subject := prev.Subject
	if prevErr != nil {
		if subject, err = NewSubject(); err != nil {
			c.fail(w, "subject", err)
			return
		}
	}
	now := c.opts.Now().UTC().Truncate(time.Millisecond)
	// The subjects this decision withdraws: the cookie's, or, when the
	// request carries several consent cookies (one may be planted), every
	// grant among them, whatever its policy version.
	var withdrawn []string
	if req.Decision == DecisionDenied {
		if prevErr == nil && prev.Decision == DecisionGranted {
			withdrawn = []string{subject}
		} else if prevErr != nil {
			withdrawn = c.grants(r, false)
		}
	}
	event := EventGrant
	switch {
	case slices.Contains(withdrawn, subject):
		event = EventWithdraw
	case req.Decision == DecisionDenied:
		event = EventDeny
	default:
		// A fresh grant must post-date an earlier withdrawal, or it would be
		// refused as the pre-withdrawal cookie.
		if wd, ok := c.wd.get(subject); ok && !now.After(wd.At) {
			now = wd.At.Add(time.Millisecond)
		}
	}
	ck := Cookie{
		Subject:       subject,
		Decision:      req.Decision,
		PolicyVersion: c.cfg.PolicyVersion,
		IssuedAt:      now,
		ExpiresAt:     now.Add(c.cfg.CookieLifetime).Truncate(time.Millisecond),
	}
	rec := Record{
		Time:          now,
		Subject:       subject,
		Event:         event,
		Decision:      req.Decision,
		PolicyVersion: c.cfg.PolicyVersion,
		Language:      req.Language,
		Region:        c.region(r),
		Mode:          mode,
		GPC:           sentGPC,
		IP:            c.logIP(r),
		ExpiresAt:     ck.ExpiresAt,
	}
	if c.opts.NoticeHash != nil {
		rec.NoticeHash = c.opts.NoticeHash(req.Language)
	}
	// Proof first: a decision that cannot be demonstrated must not take
	// effect. One record for the new cookie's subject, and one withdrawal
	// for each other subject withdrawn.
	records := []Record{rec}
	for _, s := range withdrawn {
		if s != subject {
			wr := rec
			wr.Subject, wr.Event = s, EventWithdraw
			records = append(records, wr)
		}
	}
	stamped, spent, err := c.record(r, records, exempt)
	switch {
	case err != nil:
		c.fail(w, "withdraw", err)
		return
	case spent:
		c.refuseRate(w)
		return
	}
	// Every withdrawal is in force; now the erasures, which take longer.
	if c.cfg.EraseOnWithdraw {
		for _, e := range stamped {
			// Detached from the request: a client hanging up must not stop it.
			c.erase(context.WithoutCancel(r.Context()), e)
		}
	}
	c.m.decisions.WithLabelValues(event, string(mode)).Inc()
	c.setCookies(w, r, ck)
	w.WriteHeader(http.StatusNoContent)
}

// record appends the proof records and stamps the withdrawals among them,
// one decision at a time, so that a grant is found live and withdrawn by
// one request only. With exempt (the request passed the decision limit as
// a withdrawal), withdrawals of grants that a concurrent request withdrew
// meanwhile are dropped, and spent reports that none was left.
func (c *Consent) record(r *http.Request, records []Record, exempt bool) (stamped []withdrawal, spent bool, err error) {
	c.withdrawing.Lock()
	defer c.withdrawing.Unlock()
	if exempt {
		live := c.grants(r, true)
		records = slices.DeleteFunc(records, func(pr Record) bool {
			return pr.Event == EventWithdraw && !slices.Contains(live, pr.Subject)
		})
		if !slices.ContainsFunc(records, func(pr Record) bool { return pr.Event == EventWithdraw }) {
			return nil, true, nil
		}
	}
	for _, pr := range records {
		if err := c.proofs.Append(pr); err != nil {
			return nil, false, err
		}
		if pr.Event == EventWithdraw {
			e, err := c.wd.add(pr.Subject, c.opts.Now, !c.cfg.EraseOnWithdraw)
			if err != nil {
				return nil, false, err
			}
			stamped = append(stamped, e)
		}
	}
	return stamped, false, nil
}

func (c *Consent) refuseRate(w http.ResponseWriter) {
	c.m.postRefused.WithLabelValues("rate").Inc()
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many consent decisions: retry in a second")
}

// erase runs one erasure attempt for e and records success.
func (c *Consent) erase(ctx context.Context, e withdrawal) {
	ctx, cancel := context.WithTimeout(ctx, eraseTimeout)
	defer cancel()
	// The withdrawal's time, not now: a retry must not take recordings
	// made after a renewed consent.
	if err := c.opts.Eraser.EraseSubjectBefore(ctx, e.Subject, e.At); err != nil {
		c.m.erasures.WithLabelValues("error").Inc()
		c.log.Error().Err(err).Msg("erasing a withdrawn subject failed; will retry")
		return
	}
	c.m.erasures.WithLabelValues("ok").Inc()
	if err := c.wd.markErased(e); err != nil {
		// Erasure is idempotent: a later retry repeats it harmlessly.
		c.log.Error().Err(err).Msg("recording an erasure failed")
	}
}

func (c *Consent) retryErasures(ctx context.Context) {
	if !c.cfg.EraseOnWithdraw {
		return
	}
	for _, e := range c.wd.pending() {
		if ctx.Err() != nil {
			return
		}
		c.erase(ctx, e)
	}
}

func (c *Consent) fail(w http.ResponseWriter, step string, err error) {
	c.m.postRefused.WithLabelValues("error").Inc()
	c.log.Error().Err(err).Str("step", step).Msg("recording a consent decision failed")
	writeError(w, http.StatusServiceUnavailable, "consent could not be recorded: retry later")
}

// setCookies sets the signed cookie and its script-readable companion with
// the same lifetime.
func (c *Consent) setCookies(w http.ResponseWriter, r *http.Request, ck Cookie) {
	secure := c.opts.IsHTTPS(r)
	maxAge := int(ck.ExpiresAt.Sub(ck.IssuedAt) / time.Second)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: ck.Encode(c.keys[0]),
		Path: "/", MaxAge: maxAge, Expires: ck.ExpiresAt,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	http.SetCookie(w, &http.Cookie{
		Name: StateCookieName, Value: string(ck.Decision) + "." + ck.PolicyVersion,
		Path: "/", MaxAge: maxAge, Expires: ck.ExpiresAt,
		Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// logIP returns the truncated client network, or "" when log_ip is omit.
func (c *Consent) logIP(r *http.Request) string {
	if c.cfg.LogIP != LogIPTruncate {
		return ""
	}
	return TruncateIP(c.opts.ClientIP(r))
}

// TruncateIP returns the /24 (IPv4) or /48 (IPv6) network of a, or "" for an
// invalid address.
func TruncateIP(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}
