package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eraser records erasures; fail makes the next calls fail.
type eraser struct {
	mu       sync.Mutex
	subjects []string
	ats      []time.Time
	fail     bool
}

func (e *eraser) EraseSubjectBefore(_ context.Context, s string, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subjects = append(e.subjects, s)
	e.ats = append(e.ats, at)
	if e.fail {
		return errors.New("store down")
	}
	return nil
}

func (e *eraser) calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.subjects...)
}

type fixture struct {
	t      *testing.T
	dir    string
	cfg    Config
	clock  *clock
	eraser *eraser
	c      *Consent
	srv    *httptest.Server
}

func newFixture(t *testing.T, mutate func(*Config, *Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, eraser: &eraser{}}
	f.cfg = DefaultConfig()
	opts := Options{
		Now:        f.clock.Now,
		Eraser:     f.eraser,
		NoticeHash: func(lang string) string { return "sha256:notice-" + lang },
	}
	if mutate != nil {
		mutate(&f.cfg, &opts)
	}
	f.open(opts)
	return f
}

func (f *fixture) open(opts Options) {
	f.t.Helper()
	c, err := New(f.cfg, f.dir, opts, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.c = c
	f.srv = httptest.NewServer(c)
	f.t.Cleanup(func() { f.srv.Close(); c.Close() })
}

// reopen simulates a restart on the same data dir.
func (f *fixture) reopen(opts Options) {
	f.srv.Close()
	f.c.Close()
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.Eraser == nil {
		opts.Eraser = f.eraser
	}
	f.open(opts)
}

type req struct {
	method  string
	body    string
	header  map[string]string
	cookies []*http.Cookie
	noOrig  bool
}

func (f *fixture) do(r req) *http.Response {
	f.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	hr, err := http.NewRequest(r.method, f.srv.URL, strings.NewReader(r.body))
	if err != nil {
		f.t.Fatal(err)
	}
	if r.method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
		if !r.noOrig {
			hr.Header.Set("Origin", f.srv.URL)
		}
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		hr.AddCookie(c)
	}
	resp, err := f.srv.Client().Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// decide posts a decision and returns the response and its consent cookie.
func (f *fixture) decide(decision string, header map[string]string, cookies ...*http.Cookie) (*http.Response, *http.Cookie) {
	f.t.Helper()
	resp := f.do(req{body: `{"decision":"` + decision + `","language":"de"}`, header: header, cookies: cookies})
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return resp, c
		}
	}
	return resp, nil
}

func (f *fixture) state(header map[string]string, cookies ...*http.Cookie) State {
	f.t.Helper()
	resp := f.do(req{method: http.MethodGet, header: header, cookies: cookies})
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET status %d", resp.StatusCode)
	}
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// verify runs Verify on a synthetic upload request.
func (f *fixture) verify(header map[string]string, cookies ...*http.Cookie) (string, error) {
	r := httptest.NewRequest(http.MethodPost, "/__replay/ingest", nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return f.c.Check(r)
}

func (f *fixture) records(subject string) []Record {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.c.ExportJSON(&buf, subject); err != nil {
		f.t.Fatal(err)
	}
	var out struct {
		Consents []Record `json:"consents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		f.t.Fatalf("export is not JSON: %v\n%s", err, buf.Bytes())
	}
	return out.Consents
}

func errorBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		t.Fatalf("status %d: want JSON error body: %v", resp.StatusCode, err)
	}
	return e.Error
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"default", func(*Config) {}, ""},
		{"policy version empty", func(c *Config) { c.PolicyVersion = "" }, "policy_version"},
		{"policy version pipe", func(c *Config) { c.PolicyVersion = "a|b" }, "policy_version"},
		{"mode", func(c *Config) { c.DefaultMode = "maybe" }, "default_mode"},
		{"region key", func(c *Config) { c.Regions = map[string]Mode{"de": ModeOff} }, "regions"},
		{"region mode", func(c *Config) { c.Regions = map[string]Mode{"DE": "x"} }, "regions"},
		{"region ok", func(c *Config) { c.Regions = map[string]Mode{"US": ModeOptOut}; c.RegionHeader = "CF-IPCountry" }, ""},
		{"region header", func(c *Config) { c.RegionHeader = "bad header" }, "region_header"},
		{"gpc", func(c *Config) { c.GPC = "honour" }, "gpc"},
		{"lifetime long", func(c *Config) { c.CookieLifetime = 14 * Month }, "cookie_lifetime"},
		{"lifetime short", func(c *Config) { c.CookieLifetime = time.Minute }, "cookie_lifetime"},
		{"secret short", func(c *Config) { c.Secret = "short" }, "secret"},
		{"previous short", func(c *Config) { c.PreviousSecrets = []string{"x"} }, "previous_secrets"},
		{"log ip", func(c *Config) { c.LogIP = "full" }, "log_ip"},
		{"retention", func(c *Config) { c.LogRetention = Month }, "log_retention"},
		{"decision rate", func(c *Config) { c.DecisionRate = -1 }, "decision_rate"},
		{"decision burst", func(c *Config) { c.DecisionBurst = 0 }, "decision_burst"},
		{"decision rate off", func(c *Config) { c.DecisionRate, c.DecisionBurst = 0, 0 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
				t.Fatalf("error %v, want prefix %q", err, tt.field+":")
			}
		})
	}
}

func TestNewNeedsEraser(t *testing.T) {
	_, err := New(DefaultConfig(), t.TempDir(), Options{}, zerolog.Nop(), nil)
	if err == nil || !strings.Contains(err.Error(), "erase_on_withdraw") {
		t.Fatalf("want erase_on_withdraw error, got %v", err)
	}
	cfg := DefaultConfig()
	cfg.EraseOnWithdraw = false
	c, err := New(cfg, t.TempDir(), Options{}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name   string
		https  bool
		tls    bool
		secure bool
	}{
		{"plain http", false, false, false},
		{"https behind proxy hook", true, false, true},
		{"tls", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(_ *Config, o *Options) {
				if tt.https {
					o.IsHTTPS = func(*http.Request) bool { return true }
				}
			})
			if tt.tls {
				f.srv.Close()
				f.srv = httptest.NewTLSServer(f.c)
			}
			resp, ck := f.decide("granted", nil)
			if resp.StatusCode != http.StatusNoContent || ck == nil {
				t.Fatalf("status %d, cookie %v", resp.StatusCode, ck)
			}
			var state *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == StateCookieName {
					state = c
				}
			}
			if state == nil {
				t.Fatal("no companion cookie")
			}
			want := int(6 * Month / time.Second)
			for _, c := range []*http.Cookie{ck, state} {
				if c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.MaxAge != want {
					t.Errorf("%s: path %q samesite %v secure %v maxage %d", c.Name, c.Path, c.SameSite, c.Secure, c.MaxAge)
				}
			}
			if !ck.HttpOnly || state.HttpOnly {
				t.Errorf("HttpOnly: consent %v (want true), state %v (want false)", ck.HttpOnly, state.HttpOnly)
			}
			if state.Value != "granted.1" {
				t.Errorf("state cookie %q, want granted.1", state.Value)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name   string
		origin string // "SELF" means the server's own origin
		site   string
		host   string
		want   bool
	}{
		{"own origin", "SELF", "", "", true},
		{"own origin and same-origin fetch", "SELF", "same-origin", "", true},
		{"sec-fetch-site only", "", "same-origin", "", true},
		{"no signal", "", "", "", false},
		{"cross-site fetch", "", "cross-site", "", false},
		{"same-site fetch", "", "same-site", "", false},
		{"foreign origin", "https://evil.example", "", "", false},
		{"foreign origin, lying site", "https://evil.example", "same-origin", "", false},
		{"null origin", "null", "", "", false},
		{"origin with path", "http://shop.example/x", "", "shop.example", false},
		{"default port https", "https://shop.example", "", "shop.example:443", true},
		{"default port http", "http://shop.example", "", "shop.example:80", true},
		{"other port", "https://shop.example:8443", "", "shop.example", false},
		{"case", "https://SHOP.example", "", "shop.EXAMPLE", true},
		{"subdomain", "https://a.shop.example", "", "shop.example", false},
		{"ftp scheme", "ftp://shop.example", "", "shop.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			h := map[string]string{}
			switch tt.origin {
			case "SELF":
				h["Origin"] = f.srv.URL
			case "":
			default:
				h["Origin"] = tt.origin
			}
			if tt.site != "" {
				h["Sec-Fetch-Site"] = tt.site
			}
			r := req{body: `{"decision":"granted"}`, header: h, noOrig: true}
			if tt.host != "" {
				// Check the function directly: the test client cannot lie about Host.
				hr := httptest.NewRequest(http.MethodPost, "http://"+tt.host+"/", nil)
				for k, v := range h {
					hr.Header.Set(k, v)
				}
				if got := SameOrigin(hr); got != tt.want {
					t.Fatalf("SameOrigin = %v, want %v", got, tt.want)
				}
				return
			}
			resp := f.do(r)
			if ok := resp.StatusCode == http.StatusNoContent; ok != tt.want {
				t.Fatalf("status %d, want accepted=%v", resp.StatusCode, tt.want)
			}
			if !tt.want {
				if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
					t.Fatalf("status %d cookies %d, want 403 and no cookie", resp.StatusCode, len(resp.Cookies()))
				}
				errorBody(t, resp)
				if n := len(f.records("")); n != 0 {
					t.Fatalf("%d proof records after refusal", n)
				}
			}
		})
	}
}

func TestPostValidation(t *testing.T) {
	tests := []struct {
		name   string
		method string
		ctype  string
		body   string
		status int
	}{
		{"ok", "", "application/json", `{"decision":"denied"}`, 204},
		{"ok text/plain beacon", "", "text/plain;charset=UTF-8", `{"decision":"denied"}`, 204},
		{"bad json", "", "application/json", `{"decision":`, 400},
		{"unknown decision", "", "application/json", `{"decision":"maybe"}`, 400},
		{"none is not a decision", "", "application/json", `{"decision":"none"}`, 400},
		{"wrong type", "", "application/json", `{"decision":1}`, 400},
		{"bad language", "", "application/json", `{"decision":"denied","language":"<script>"}`, 400},
		{"too big", "", "application/json", `{"decision":"denied","x":"` + strings.Repeat("a", 2000) + `"}`, 400},
		{"form", "", "application/x-www-form-urlencoded", `decision=granted`, 415},
		{"put", http.MethodPut, "application/json", `{}`, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			resp := f.do(req{method: tt.method, body: tt.body, header: map[string]string{"Content-Type": tt.ctype, "Origin": f.srv.URL}})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 204 {
				errorBody(t, resp)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Options) {
		c.RegionHeader = "CF-IPCountry"
		c.Regions = map[string]Mode{"XX": ModeOff}
	})
	_, granted := f.decide("granted", nil)
	_, denied := f.decide("denied", nil)
	otherKey := Cookie{Subject: strings.Repeat("ab", 16), Decision: DecisionGranted, PolicyVersion: "1",
		IssuedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(Month)}
	forged := &http.Cookie{Name: CookieName, Value: otherKey.Encode([]byte(strings.Repeat("k", 32)))}
	// A correctly signed cookie whose payload was edited to say granted.
	tampered := &http.Cookie{Name: CookieName, Value: strings.Replace(denied.Value, denied.Value[:10], granted.Value[:10], 1)}
	oldVersion := Cookie{Subject: otherKey.Subject, Decision: DecisionGranted, PolicyVersion: "0",
		IssuedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(Month)}
	old := &http.Cookie{Name: CookieName, Value: oldVersion.Encode(f.c.keys[0])}
	tests := []struct {
		name   string
		cookie *http.Cookie
		header map[string]string
		later  time.Duration
		want   error
	}{
		{"granted", granted, nil, 0, nil},
		{"missing", nil, nil, 0, ErrNoConsent},
		{"denied", denied, nil, 0, ErrNotGranted},
		{"forged", forged, nil, 0, ErrInvalid},
		{"tampered", tampered, nil, 0, ErrInvalid},
		{"garbage", &http.Cookie{Name: CookieName, Value: "x.y"}, nil, 0, ErrInvalid},
		{"old policy version", old, nil, 0, ErrOldPolicy},
		{"expired", granted, nil, 6*Month + time.Second, ErrExpired},
		{"just before expiry", granted, nil, 6*Month - time.Second, nil},
		{"region off", granted, map[string]string{"CF-IPCountry": "XX"}, 0, ErrRecordingOff},
		{"region lower case", granted, map[string]string{"CF-IPCountry": "xx"}, 0, ErrRecordingOff},
		{"gpc", granted, map[string]string{"Sec-GPC": "1"}, 0, ErrGPCRefusal},
		{"companion cookie is not trusted", &http.Cookie{Name: StateCookieName, Value: "granted.1"}, nil, 0, ErrNoConsent},
	}
	base := f.clock.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.t = base.Add(tt.later)
			var cs []*http.Cookie
			if tt.cookie != nil {
				cs = append(cs, tt.cookie)
			}
			subject, err := f.verify(tt.header, cs...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !isSubject(subject) {
				t.Fatalf("subject %q", subject)
			}
		})
	}
}

func TestPolicyVersionChange(t *testing.T) {
	f := newFixture(t, nil)
	_, granted := f.decide("granted", nil)
	if st := f.state(nil, granted); st.Decision != DecisionGranted {
		t.Fatalf("before: %+v", st)
	}
	f.cfg.PolicyVersion = "2"
	f.reopen(Options{})
	if _, err := f.verify(nil, granted); !errors.Is(err, ErrOldPolicy) {
		t.Fatalf("Check = %v, want ErrOldPolicy", err)
	}
	st := f.state(nil, granted)
	if st.Decision != DecisionNone || st.PolicyVersion != "2" {
		t.Fatalf("after: %+v, want none under version 2", st)
	}
	// Re-consenting keeps the subject.
	_, again := f.decide("granted", nil, granted)
	s1, _ := ParseCookie(granted.Value, f.c.keys)
	s2, _ := ParseCookie(again.Value, f.c.keys)
	if s1.Subject != s2.Subject || s2.PolicyVersion != "2" {
		t.Fatalf("subject %s → %s, version %s", s1.Subject, s2.Subject, s2.PolicyVersion)
	}
}

func TestWithdrawal(t *testing.T) {
	f := newFixture(t, nil)
	_, granted := f.decide("granted", nil)
	subject, err := f.verify(nil, granted)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	resp, denied := f.decide("denied", nil, granted)
	if resp.StatusCode != http.StatusNoContent || denied == nil {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	if got := f.eraser.calls(); len(got) != 1 || got[0] != subject {
		t.Fatalf("erased %v, want [%s]", got, subject)
	}
	if ck, _ := ParseCookie(denied.Value, f.c.keys); ck.Subject != subject || ck.Decision != DecisionDenied {
		t.Fatalf("new cookie %+v", ck)
	}
	// The old, still unexpired granted cookie is refused from now on, also
	// after a restart.
	for _, restart := range []bool{false, true} {
		if restart {
			f.reopen(Options{})
		}
		if _, err := f.verify(nil, granted); !errors.Is(err, ErrWithdrawn) {
			t.Fatalf("restart=%v: replayed grant: %v, want ErrWithdrawn", restart, err)
		}
		if st := f.state(nil, granted); st.Decision != DecisionDenied {
			t.Fatalf("restart=%v: GET with replayed grant says %s", restart, st.Decision)
		}
	}
	if at, ok := f.c.Withdrawn(subject); !ok || at.IsZero() {
		t.Fatal("Withdrawn does not know the subject")
	}
	recs := f.records(subject)
	if len(recs) != 2 || recs[0].Event != EventGrant || recs[1].Event != EventWithdraw {
		t.Fatalf("records %+v", recs)
	}
	// Granting again in the same millisecond as the withdrawal still works,
	// while the pre-withdrawal cookie stays refused.
	_, regrant := f.decide("granted", nil, denied)
	if s, err := f.verify(nil, regrant); err != nil || s != subject {
		t.Fatalf("re-grant: %q %v", s, err)
	}
	if _, err := f.verify(nil, granted); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("old grant after re-grant: %v", err)
	}
	// A plain denial (no grant before) is not a withdrawal.
	f2 := newFixture(t, nil)
	f2.decide("denied", nil)
	if recs := f2.records(""); len(recs) != 1 || recs[0].Event != EventDeny || len(f2.eraser.calls()) != 0 {
		t.Fatalf("deny: %+v, erasures %v", recs, f2.eraser.calls())
	}
}

func TestErasureRetry(t *testing.T) {
	f := newFixture(t, nil)
	f.eraser.fail = true
	_, granted := f.decide("granted", nil)
	resp, _ := f.decide("denied", nil, granted)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("withdrawal must succeed even if erasure fails: %d", resp.StatusCode)
	}
	if _, err := f.verify(nil, granted); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("upload after withdrawal: %v", err)
	}
	if len(f.c.wd.pending()) != 1 {
		t.Fatal("failed erasure not pending")
	}
	// Pending survives a restart and is retried, an hour later, still
	// with the withdrawal's time: recordings made after a renewed consent
	// in between must not be erased.
	withdrawnAt := f.clock.Now()
	f.clock.Add(time.Hour)
	f.reopen(Options{})
	f.eraser.mu.Lock()
	f.eraser.fail = false
	f.eraser.mu.Unlock()
	f.c.retryErasures(context.Background())
	if n := len(f.eraser.calls()); n != 2 {
		t.Fatalf("%d erasure calls, want 2", n)
	}
	f.eraser.mu.Lock()
	ats := slices.Clone(f.eraser.ats)
	f.eraser.mu.Unlock()
	if !ats[0].Equal(withdrawnAt) || !ats[1].Equal(withdrawnAt) {
		t.Fatalf("erasures up to %v, want the withdrawal's time %v", ats, withdrawnAt)
	}
	if len(f.c.wd.pending()) != 0 {
		t.Fatal("still pending after successful retry")
	}
	f.c.retryErasures(context.Background())
	if n := len(f.eraser.calls()); n != 2 {
		t.Fatalf("erased again after success: %d calls", n)
	}
}

func TestEraseOff(t *testing.T) {
	f := newFixture(t, func(c *Config, o *Options) { c.EraseOnWithdraw = false; o.Eraser = nil })
	_, granted := f.decide("granted", nil)
	f.decide("denied", nil, granted)
	if _, err := f.verify(nil, granted); !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("withdrawal without erasure must still refuse: %v", err)
	}
}

func TestRegionModes(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Options) {
		c.RegionHeader = "CF-IPCountry"
		c.Regions = map[string]Mode{"US": ModeOptOut, "XX": ModeOff}
	})
	tests := []struct {
		region    string
		mode      Mode
		grantCode int
	}{
		{"", ModeOptIn, 204},
		{"DE", ModeOptIn, 204},
		{"US", ModeOptOut, 204},
		{"us", ModeOptOut, 204},
		{"XX", ModeOff, 403},
		{"not-a-country", ModeOptIn, 204},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			h := map[string]string{"CF-IPCountry": tt.region}
			st := f.state(h)
			if st.Mode != tt.mode || st.Decision != DecisionNone {
				t.Fatalf("state %+v, want mode %s", st, tt.mode)
			}
			resp, _ := f.decide("granted", h)
			if resp.StatusCode != tt.grantCode {
				t.Fatalf("grant: %d, want %d", resp.StatusCode, tt.grantCode)
			}
			if tt.grantCode == 403 {
				if msg := errorBody(t, resp); !strings.Contains(msg, "off") {
					t.Fatalf("message %q", msg)
				}
				if resp, _ := f.decide("denied", h); resp.StatusCode != 204 {
					t.Fatalf("deny in off region: %d", resp.StatusCode)
				}
			}
		})
	}
	// Without a trusted header the header is ignored.
	g := newFixture(t, func(c *Config, _ *Options) { c.Regions = map[string]Mode{"XX": ModeOff} })
	if st := g.state(map[string]string{"CF-IPCountry": "XX"}); st.Mode != ModeOptIn {
		t.Fatalf("untrusted header changed mode: %+v", st)
	}
	recs := f.records("")
	var optOut bool
	for _, r := range recs {
		if r.Region == "US" && r.Mode == ModeOptOut {
			optOut = true
		}
	}
	if !optOut {
		t.Fatalf("opt-out grant not logged with region and mode: %+v", recs)
	}
}

func TestGPC(t *testing.T) {
	gpcOn := map[string]string{"Sec-GPC": "1"}
	t.Run("refuse", func(t *testing.T) {
		f := newFixture(t, nil)
		resp, ck := f.decide("granted", gpcOn)
		if resp.StatusCode != http.StatusForbidden || ck != nil {
			t.Fatalf("grant with GPC: %d", resp.StatusCode)
		}
		if msg := errorBody(t, resp); !strings.Contains(msg, "Global Privacy Control") {
			t.Fatalf("message %q", msg)
		}
		if st := f.state(gpcOn); !st.GPC || st.Decision != DecisionNone || st.GPCPolicy != "refuse" {
			t.Fatalf("state %+v", st)
		}
		if n := len(f.records("")); n != 0 {
			t.Fatalf("refused grant wrote %d proof records", n)
		}
		if resp, _ := f.decide("denied", gpcOn); resp.StatusCode != 204 {
			t.Fatalf("deny with GPC: %d", resp.StatusCode)
		}
		if recs := f.records(""); len(recs) != 1 || !recs[0].GPC {
			t.Fatalf("records %+v", recs)
		}
		// A grant given before GPC was switched on does not cover uploads
		// sent with it.
		_, granted := f.decide("granted", nil)
		if _, err := f.verify(gpcOn, granted); !errors.Is(err, ErrGPCRefusal) {
			t.Fatalf("upload with GPC: %v", err)
		}
		if _, err := f.verify(nil, granted); err != nil {
			t.Fatalf("upload without GPC: %v", err)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		f := newFixture(t, func(c *Config, _ *Options) { c.GPC = GPCIgnore })
		// The gate learns that it must still ask.
		if st := f.state(gpcOn); !st.GPC || st.GPCPolicy != "ignore" {
			t.Fatalf("state %+v", st)
		}
		resp, granted := f.decide("granted", gpcOn)
		if resp.StatusCode != 204 {
			t.Fatalf("grant: %d", resp.StatusCode)
		}
		if _, err := f.verify(gpcOn, granted); err != nil {
			t.Fatal(err)
		}
		if recs := f.records(""); len(recs) != 1 || !recs[0].GPC {
			t.Fatalf("GPC not logged: %+v", recs)
		}
	})
}

func TestProofLogRecordsAndExport(t *testing.T) {
	f := newFixture(t, func(c *Config, o *Options) {
		c.LogIP = LogIPTruncate
		c.RegionHeader = "CF-IPCountry"
	})
	_, a := f.decide("granted", map[string]string{"CF-IPCountry": "DE"})
	f.decide("denied", nil)
	f.decide("denied", nil, a)
	all := f.records("")
	if len(all) != 3 {
		t.Fatalf("%d records, want 3", len(all))
	}
	r := all[0]
	subj, _ := ParseCookie(a.Value, f.c.keys)
	if r.Subject != subj.Subject || r.Event != EventGrant || r.Decision != DecisionGranted ||
		r.PolicyVersion != "1" || r.NoticeHash != "sha256:notice-de" || r.Language != "de" ||
		r.Region != "DE" || r.Mode != ModeOptIn || r.IP != "127.0.0.0/24" ||
		!r.Time.Equal(f.clock.Now()) || !r.ExpiresAt.Equal(f.clock.Now().Add(6*Month)) {
		t.Fatalf("record %+v", r)
	}
	if got := f.records(subj.Subject); len(got) != 2 || got[1].Event != EventWithdraw {
		t.Fatalf("subject export %+v", got)
	}
	if got := f.records(strings.Repeat("0", 32)); len(got) != 0 {
		t.Fatalf("unknown subject export %+v", got)
	}
	// Durable across a restart; a torn last line (crash mid-write) is cut off.
	f.srv.Close()
	f.c.Close()
	path := filepath.Join(f.dir, ProofLogFile)
	fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fh.WriteString(`{"time":"2026-03-01T12:00:00Z","subj`)
	fh.Close()
	f.reopen(Options{})
	if got := f.records(""); len(got) != 3 {
		t.Fatalf("after restart %d records", len(got))
	}
	f.decide("denied", nil)
	if got := f.records(""); len(got) != 4 {
		t.Fatalf("append after repair: %d records", len(got))
	}
	b, _ := os.ReadFile(path)
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("line %d not JSON: %s", i, line)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v", st.Mode().Perm())
	}
}

func TestIPOmittedByDefault(t *testing.T) {
	f := newFixture(t, nil)
	f.decide("granted", nil)
	b, _ := os.ReadFile(filepath.Join(f.dir, ProofLogFile))
	if bytes.Contains(b, []byte("127.0.0")) || bytes.Contains(b, []byte(`"ip"`)) {
		t.Fatalf("IP logged: %s", b)
	}
}

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":        "203.0.113.0/24",
		"::ffff:203.0.113.77": "203.0.113.0/24",
		"2001:db8:abcd:12::1": "2001:db8:abcd::/48",
		"fe80::1%eth0":        "fe80::/48",
	} {
		if got := TruncateIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("TruncateIP(%s) = %s, want %s", in, got, want)
		}
	}
	if TruncateIP(netip.Addr{}) != "" {
		t.Error("invalid address not empty")
	}
}

func TestCompaction(t *testing.T) {
	f := newFixture(t, nil)
	_, a := f.decide("granted", nil)
	f.decide("denied", nil, a) // withdrawal, erased
	f.clock.Add(f.cfg.LogRetention + time.Hour)
	_, b := f.decide("granted", nil)
	f.c.Compact()
	recs := f.records("")
	sb, _ := ParseCookie(b.Value, f.c.keys)
	if len(recs) != 1 || recs[0].Subject != sb.Subject {
		t.Fatalf("after compaction %+v", recs)
	}
	if _, ok := f.c.Withdrawn(mustSubject(t, f, a)); ok {
		t.Fatal("withdrawal older than the longest cookie lifetime kept")
	}
	// Appends go to the new file; no temp files are left behind.
	f.decide("denied", nil, b)
	f.reopen(Options{})
	if recs := f.records(""); len(recs) != 2 {
		t.Fatalf("after append and restart %d records", len(recs))
	}
	ents, _ := os.ReadDir(f.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
	if _, ok := f.c.Withdrawn(sb.Subject); !ok {
		t.Fatal("recent withdrawal lost by compaction")
	}
}

func mustSubject(t *testing.T, f *fixture, c *http.Cookie) string {
	t.Helper()
	ck, err := ParseCookie(c.Value, f.c.keys)
	if err != nil {
		t.Fatal(err)
	}
	return ck.Subject
}

func TestSigningKey(t *testing.T) {
	f := newFixture(t, nil)
	_, granted := f.decide("granted", nil)
	path := filepath.Join(f.dir, KeyFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	f.reopen(Options{})
	if _, err := f.verify(nil, granted); err != nil {
		t.Fatalf("generated key not reused after restart: %v", err)
	}
	// Rotation: the generated key becomes a previous secret of a configured one.
	oldKey, _ := readKey(path)
	f.cfg.Secret = strings.Repeat("n", 32)
	f.cfg.PreviousSecrets = []string{string(oldKey)}
	f.reopen(Options{})
	if _, err := f.verify(nil, granted); err != nil {
		t.Fatalf("previous key no longer verifies: %v", err)
	}
	_, fresh := f.decide("granted", nil)
	if _, err := ParseCookie(fresh.Value, [][]byte{[]byte(f.cfg.Secret)}); err != nil {
		t.Fatalf("new cookie not signed with the configured secret: %v", err)
	}
	f.cfg.PreviousSecrets = nil
	f.reopen(Options{})
	if _, err := f.verify(nil, granted); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dropped key still verifies: %v", err)
	}
	// A corrupt key file is an error that says what to do.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, KeyFile), []byte("zz"), 0o600)
	cfg := DefaultConfig()
	cfg.EraseOnWithdraw = false
	if _, err := New(cfg, bad, Options{}, zerolog.Nop(), nil); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("corrupt key: %v", err)
	}
}

func TestCookieParse(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.UnixMilli(1_772_366_400_123)
	good := Cookie{Subject: strings.Repeat("0f", 16), Decision: DecisionGranted, PolicyVersion: "2026-03.v1", IssuedAt: now, ExpiresAt: now.Add(Month)}
	enc := good.Encode(key)
	payload, mac, _ := strings.Cut(enc, ".")
	resign := func(p string) string {
		return cookieB64.EncodeToString([]byte(p)) + "." + cookieB64.EncodeToString(sign(key, []byte(p)))
	}
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"good", enc, nil},
		{"empty", "", ErrCookieMalformed},
		{"no dot", payload, ErrCookieMalformed},
		{"bad base64", payload + ".!!!", ErrCookieMalformed},
		{"short mac", payload + "." + mac[:20], ErrCookieMalformed},
		{"wrong mac", payload + "." + cookieB64.EncodeToString(make([]byte, 32)), ErrCookieSignature},
		{"too long", strings.Repeat("a", maxCookieLen+1), ErrCookieMalformed},
		{"signed bad version", resign("2|" + good.Subject + "|g|1|2|v"), ErrCookieMalformed},
		{"signed bad subject", resign("1|XYZ|g|1|2|v"), ErrCookieMalformed},
		{"signed bad decision", resign("1|" + good.Subject + "|n|1|2|v"), ErrCookieMalformed},
		{"signed leading zero", resign("1|" + good.Subject + "|g|01|2|v"), ErrCookieMalformed},
		{"signed negative", resign("1|" + good.Subject + "|g|-1|2|v"), ErrCookieMalformed},
		{"signed expiry before issue", resign("1|" + good.Subject + "|g|5|2|v"), ErrCookieMalformed},
		{"signed bad policy", resign("1|" + good.Subject + "|g|1|2|a|b"), ErrCookieMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCookie(tt.value, [][]byte{key})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if err == nil && (got.Subject != good.Subject || got.Decision != good.Decision || got.PolicyVersion != good.PolicyVersion ||
				!got.IssuedAt.Equal(good.IssuedAt) || !got.ExpiresAt.Equal(good.ExpiresAt)) {
				t.Fatalf("got %+v, want %+v", got, good)
			}
		})
	}
}

// FuzzCookie checks that the parser never panics and accepts only values
// that re-encode to themselves (one canonical form per decision).
func FuzzCookie(f *testing.F) {
	key := []byte(strings.Repeat("k", 32))
	now := time.UnixMilli(1_772_366_400_123)
	f.Add(Cookie{Subject: strings.Repeat("0f", 16), Decision: DecisionGranted, PolicyVersion: "1", IssuedAt: now, ExpiresAt: now.Add(Month)}.Encode(key))
	f.Add(Cookie{Subject: strings.Repeat("a1", 16), Decision: DecisionDenied, PolicyVersion: "v:2.1", IssuedAt: now, ExpiresAt: now}.Encode(key))
	f.Add("x.y")
	f.Add("")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseCookie(value, [][]byte{key})
		if err != nil {
			if !errors.Is(err, ErrCookieMalformed) && !errors.Is(err, ErrCookieSignature) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if again := c.Encode(key); again != value {
			t.Fatalf("non-canonical value accepted: %q re-encodes to %q", value, again)
		}
	})
}

// BenchmarkVerify measures the per-upload consent check.
func BenchmarkVerify(b *testing.B) {
	cfg := DefaultConfig()
	cfg.EraseOnWithdraw = false
	c, err := New(cfg, b.TempDir(), Options{}, zerolog.Nop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	ck := Cookie{Subject: strings.Repeat("0f", 16), Decision: DecisionGranted, PolicyVersion: "1", IssuedAt: now, ExpiresAt: now.Add(Month)}
	r := httptest.NewRequest(http.MethodPost, "/__replay/ingest", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: ck.Encode(c.keys[0])})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Verify(r); !ok {
			b.Fatal("refused")
		}
	}
}

func TestDecisionRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Options) { c.DecisionRate, c.DecisionBurst = 1, 2 })
	for i := 0; i < 2; i++ {
		if resp, _ := f.decide("denied", nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("decision %d: %d", i, resp.StatusCode)
		}
	}
	resp, ck := f.decide("denied", nil)
	if resp.StatusCode != http.StatusTooManyRequests || ck != nil || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d", resp.StatusCode)
	}
	errorBody(t, resp)
	if n := len(f.records("")); n != 2 {
		t.Fatalf("%d proof records, want 2", n)
	}
	f.clock.Add(time.Second)
	if resp, _ := f.decide("denied", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("after refill: %d", resp.StatusCode)
	}
}

func TestRunCompactsAndStops(t *testing.T) {
	f := newFixture(t, nil)
	f.decide("granted", nil)
	f.clock.Add(f.cfg.LogRetention + time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.records("")) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not compact at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// TestWithdrawalNotRateLimited: others using up the decision limit cannot
// hold back a visitor's withdrawal of a live grant; a plain denial, or a
// second withdrawal of the same grant, still counts against it.
func TestWithdrawalNotRateLimited(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Options) { c.DecisionRate = 1; c.DecisionBurst = 3 })
	_, granted := f.decide("granted", nil)
	for range 5 { // someone else floods the endpoint
		f.decide("denied", nil)
	}
	if resp, _ := f.decide("denied", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("plain denial under the flood: %d, want 429", resp.StatusCode)
	}
	if resp, _ := f.decide("denied", nil, granted); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("withdrawal under the flood: %d, want 204", resp.StatusCode)
	}
	if resp, _ := f.decide("denied", nil, granted); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second withdrawal of the same grant: %d, want 429", resp.StatusCode)
	}
}

// TestTwoConsentCookies: a request with two consent cookies (one may have
// been planted for a parent domain, so that the browser sends it first) is
// never taken as a grant, and a denial withdraws every live grant among
// them.
func TestTwoConsentCookies(t *testing.T) {
	f := newFixture(t, nil)
	_, planted := f.decide("granted", nil)
	_, own := f.decide("granted", nil)
	_, denied := f.decide("denied", nil)
	for _, pair := range [][2]*http.Cookie{{planted, denied}, {denied, planted}, {planted, own}} {
		if _, err := f.verify(nil, pair[0], pair[1]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("two consent cookies accepted: %v", err)
		}
	}
	resp, _ := f.decide("denied", nil, planted, own)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("denial: %d", resp.StatusCode)
	}
	for _, ck := range []*http.Cookie{planted, own} {
		parsed, err := ParseCookie(ck.Value, f.c.keys)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.c.Withdrawn(parsed.Subject); !ok {
			t.Fatalf("grant of %s not withdrawn", parsed.Subject)
		}
		if _, err := f.verify(nil, ck); !errors.Is(err, ErrWithdrawn) {
			t.Fatalf("withdrawn grant still verifies: %v", err)
		}
	}
}

// subjectOf returns the subject of a consent cookie the fixture issued.
func subjectOf(t *testing.T, f *fixture, ck *http.Cookie) string {
	t.Helper()
	parsed, err := ParseCookie(ck.Value, f.c.keys)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Subject
}

// TestConcurrentWithdrawalsOfOneGrant: denials sent at once with the same
// grant cookie, past an exhausted decision limit, withdraw it once: one
// proof record, one erasure; the others are held back by the limit.
func TestConcurrentWithdrawalsOfOneGrant(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Options) { c.DecisionRate = 0.001; c.DecisionBurst = 1 })
	_, granted := f.decide("granted", nil)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 20 {
		wg.Go(func() {
			if resp, _ := f.decide("denied", nil, granted); resp.StatusCode == http.StatusNoContent {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	subject := subjectOf(t, f, granted)
	var withdrawals int
	for _, r := range f.records(subject) {
		if r.Event == EventWithdraw {
			withdrawals++
		}
	}
	if ok.Load() != 1 || withdrawals != 1 || len(f.eraser.calls()) != 1 {
		t.Fatalf("%d accepted, %d withdraw records, %d erasures; want 1 each", ok.Load(), withdrawals, len(f.eraser.calls()))
	}
}

// TestTwoCookiesOldPolicyGrantWithdrawn: a denial sent with two consent
// cookies withdraws a grant given under an earlier policy version too, as
// a denial with that cookie alone does, and records the denial under the
// new cookie's subject.
func TestTwoCookiesOldPolicyGrantWithdrawn(t *testing.T) {
	f := newFixture(t, nil)
	_, old := f.decide("granted", nil)
	_, other := f.decide("denied", nil)
	f.cfg.PolicyVersion = "2"
	f.reopen(Options{})
	resp, fresh := f.decide("denied", nil, old, other)
	if resp.StatusCode != http.StatusNoContent || fresh == nil {
		t.Fatalf("denial: %d", resp.StatusCode)
	}
	if _, ok := f.c.Withdrawn(subjectOf(t, f, old)); !ok || len(f.eraser.calls()) != 1 {
		t.Fatalf("old-policy grant not withdrawn (erasures %v)", f.eraser.calls())
	}
	newSubject := subjectOf(t, f, fresh)
	if recs := f.records(newSubject); len(recs) != 1 || recs[0].Event != EventDeny {
		t.Fatalf("records of the new subject: %+v", recs)
	}
}

// TestErasureOfReplacedWithdrawal: an erasure that finishes after a newer
// withdrawal of the same subject does not mark the newer one erased.
func TestErasureOfReplacedWithdrawal(t *testing.T) {
	w, err := openWithdrawals(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first, err := w.add("s1", func() time.Time { return now }, false)
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.add("s1", func() time.Time { return now.Add(time.Hour) }, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.markErased(first); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.get("s1"); !got.At.Equal(second.At) || got.Erased {
		t.Fatalf("withdrawal now %+v, want the newer one, not erased", got)
	}
	if len(w.pending()) != 1 {
		t.Fatal("the newer withdrawal's erasure is no longer pending")
	}
}
