package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/replaygate/replaygate/config"
	"github.com/replaygate/replaygate/policy"
)

// bannerInfo is what the tests read back from the rendered banner.
type bannerInfo struct {
	Title, Reject, Accept, Link, Lang string
	RejectBox, AcceptBox              [2]float64
	RejectBg, AcceptBg, Role          string
	Labelled                          bool
}

const bannerInfoJS = `(() => {
  const d = ` + bannerJS + `;
  const r = d.querySelector('[data-action=reject]'), a = d.querySelector('[data-action=accept]');
  const box = (e) => { const b = e.getBoundingClientRect(); return [Math.round(b.width), Math.round(b.height)]; };
  const root = d.getRootNode();
  return {
    title: d.querySelector('h2').textContent, reject: r.textContent, accept: a.textContent,
    link: d.querySelector('a') ? d.querySelector('a').getAttribute('href') : '', lang: d.lang,
    rejectBox: box(r), acceptBox: box(a), rejectBg: getComputedStyle(r).backgroundColor,
    acceptBg: getComputedStyle(a).backgroundColor, role: d.getAttribute('role'),
    labelled: !!root.getElementById(d.getAttribute('aria-labelledby')) && !!root.getElementById(d.getAttribute('aria-describedby')),
  };
})()`

func readBanner(t *testing.T, ctx context.Context) bannerInfo {
	t.Helper()
	raw := eval[[]byte](t, ctx, bannerInfoJS)
	var b bannerInfo
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBannerAppearsWithEqualChoices(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitBanner(t, ctx)
	b := readBanner(t, ctx)
	if b.Title != "Session recording" || b.Reject != "Reject" || b.Accept != "Accept" || b.Lang != "en" {
		t.Errorf("banner texts = %+v", b)
	}
	if b.Link != "/privacy" {
		t.Errorf("privacy notice link = %q, want /privacy", b.Link)
	}
	if b.Role != "dialog" || !b.Labelled {
		t.Errorf("banner is not a labelled dialog: role %q, labelled %v", b.Role, b.Labelled)
	}
	if b.RejectBox != b.AcceptBox || b.RejectBg != b.AcceptBg || b.RejectBox[0] < 44 || b.RejectBox[1] < 44 {
		t.Errorf("Accept and Reject differ in weight: reject %v %s, accept %v %s", b.RejectBox, b.RejectBg, b.AcceptBox, b.AcceptBg)
	}
	if b.AcceptBg != "rgb(27, 27, 27)" {
		t.Errorf("banner styles not applied (adoptedStyleSheets): background %q", b.AcceptBg)
	}
	// The site's page has no gate of its own: replaygate injected it, once.
	if n := eval[int](t, ctx, `document.querySelectorAll('script[src="`+prefix+`/gate.js"]').length`); n != 1 {
		t.Errorf("%d injected gate scripts, want 1", n)
	}
	time.Sleep(1500 * time.Millisecond)
	if s.Hits("recorder") != 0 || s.Hits("ingest") != 0 {
		t.Fatalf("before any decision: %d recorder requests, %d ingest requests, want 0", s.Hits("recorder"), s.Hits("ingest"))
	}
}

func TestBannerLanguageFromPage(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/de.html"))
	waitBanner(t, ctx)
	b := readBanner(t, ctx)
	if b.Reject != "Ablehnen" || b.Accept != "Akzeptieren" || b.Lang != "de" {
		t.Fatalf("de-AT page: banner %+v, want German texts", b)
	}
}

func TestRejectByKeyboardNeverLoadsRecorder(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/csp-strict.html"))
	waitBanner(t, ctx)
	// Keyboard only: Tab from the page start lands on the page's button, then Reject.
	focused := ""
	for i := 0; i < 5 && focused != "reject"; i++ {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		focused = eval[string](t, ctx, `(document.activeElement && document.activeElement.shadowRoot && document.activeElement.shadowRoot.activeElement) ? (document.activeElement.shadowRoot.activeElement.dataset.action || '') : ''`)
	}
	if focused != "reject" {
		t.Fatal("Tab never reached the Reject button")
	}
	outline := eval[string](t, ctx, `getComputedStyle(document.activeElement.shadowRoot.activeElement).outlineStyle`)
	if outline == "none" {
		t.Error("focused Reject button shows no focus outline")
	}
	do(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitFor(t, 5*time.Second, "consent POST", func() bool { return len(s.Decisions()) == 1 })
	if got := s.Decisions(); got[0] != (Decision{"denied", http.StatusNoContent}) {
		t.Fatalf("consent posted %v, want [{denied 204}]", got)
	}
	if eval[bool](t, ctx, `!!(`+bannerJS+`)`) {
		t.Error("banner still shown after Reject")
	}
	// Reload: the companion cookie says denied; no banner, no GET, no recorder.
	gets := s.Hits("consent-get")
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	time.Sleep(2500 * time.Millisecond)
	if eval[bool](t, ctx, `!!(`+bannerJS+`)`) {
		t.Error("banner shown again after a rejection")
	}
	if s.Hits("consent-get") != gets {
		t.Error("gate asked the server although the companion cookie holds the decision")
	}
	if s.Hits("recorder") != 0 || s.Hits("ingest") != 0 {
		t.Fatalf("after Reject: %d recorder requests, %d ingest requests, want 0", s.Hits("recorder"), s.Hits("ingest"))
	}
	if got := eval[string](t, ctx, `JSON.stringify(replaygate.consent())`); got != `{"decision":"denied","mode":"unknown","gpc":false,"policyVersion":"2026-01"}` {
		t.Errorf("consent() = %s", got)
	}
	// The server holds the refusal too: an upload forged by the page with
	// the denied cookie is refused and nothing is stored.
	if code := postFromPage(t, ctx, prefix+"/ingest?replay=00112233445566778899aabbccddeeff&seq=0", `[]`); code != http.StatusForbidden {
		t.Errorf("upload with a denied cookie answered %d, want 403", code)
	}
	if r := s.Replays(t); len(r) != 0 {
		t.Errorf("store holds %d replays after a rejection", len(r))
	}
}

func TestAcceptLoadsRecorderAndUploads(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	if got := s.Decisions(); len(got) != 1 || got[0] != (Decision{"granted", http.StatusNoContent}) {
		t.Fatalf("consent posted %v, want [{granted 204}]", got)
	}
	// The server's signed HttpOnly cookie, and the readable companion.
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatalf("Network.getCookies: %v", err)
	}
	cookies := map[string]*network.Cookie{}
	for _, c := range jar.Cookies {
		cookies[c.Name] = c
	}
	if c := cookies["rg_consent"]; c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || len(c.Value) < 32 || c.Session {
		t.Errorf("consent cookie = %+v, want a persistent signed HttpOnly SameSite=Lax cookie", c)
	}
	if c := cookies["rg_consent_state"]; c == nil || c.HTTPOnly || c.Value != "granted."+policyVersion {
		t.Errorf("companion cookie = %+v, want readable granted.%s", c, policyVersion)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	// A pointer path of 40 points, a console call and a page fetch.
	eval[chromedp.Void](t, ctx, `new Promise((done) => {
	  let i = 0;
	  const id = setInterval(() => {
	    document.dispatchEvent(new MouseEvent('mousemove', { clientX: 10 + i * 5, clientY: 20 + i, bubbles: true }));
	    if (++i === 40) { clearInterval(id); done(); }
	  }, 20);
	}).then(() => { console.warn('hello', { a: 1 }); return fetch('/api/ping?token=abc'); }).then(() => undefined)`)
	waitFor(t, 10*time.Second, "console and network events", func() bool {
		segs := s.Segments()
		return len(customEvents(t, segs, "replaygate/console")) > 0 && len(customEvents(t, segs, "replaygate/network")) > 0
	})
	segs := s.Segments()
	moves := 0
	for _, e := range events(t, segs) {
		var d struct {
			Source    *int              `json:"source"`
			Positions []json.RawMessage `json:"positions"`
		}
		if e.Type == 3 && json.Unmarshal(e.Data, &d) == nil && d.Source != nil && *d.Source == 1 {
			moves++
			if len(d.Positions) > 2 {
				t.Errorf("mouse movement with %d positions, want source and target only", len(d.Positions))
			}
		}
	}
	if moves == 0 || moves > 3 {
		t.Errorf("%d mouse-move events for one 40-point movement, want 1 (at most 3)", moves)
	}
	var con struct {
		Level string
		Args  []string
	}
	_ = json.Unmarshal(customEvents(t, segs, "replaygate/console")[0], &con)
	if con.Level != "warn" || len(con.Args) != 2 || con.Args[0] != "hello" || con.Args[1] != `{"a":1}` {
		t.Errorf("console event = %+v", con)
	}
	for _, raw := range customEvents(t, segs, "replaygate/network") {
		var n struct {
			Kind, Method, URL string
			Status            int
		}
		_ = json.Unmarshal(raw, &n)
		if n.URL != "/api/ping?token=" || n.Kind != "fetch" || n.Method != "GET" || n.Status != 200 {
			t.Errorf("network event = %+v (own consent/ingest requests must not appear)", n)
		}
	}
	if segs[0].Seq != 0 || !replayIDRE.MatchString(segs[0].Replay) {
		t.Errorf("first segment: replay %q seq %d", segs[0].Replay, segs[0].Seq)
	}
	if !segs[0].Gzip {
		t.Error("segment not gzip-compressed (CompressionStream)")
	}
	types := eventTypes(t, segs)
	if types[2] != 1 || types[4] != 1 {
		t.Errorf("want one Meta and one FullSnapshot for one page, got %v", types)
	}
	env := customEvents(t, segs, "replaygate/env")
	if len(env) != 1 {
		t.Fatalf("want one replaygate/env event, got %d", len(env))
	}
	var e struct {
		Browser, OS, Language, URL string
		Viewport                   struct{ Width, Height int }
	}
	_ = json.Unmarshal(env[0], &e)
	if e.OS != "Linux" || e.Language != "en" || e.Viewport.Width == 0 || e.URL != s.URL+"/index.html" || len(e.Browser) < 8 || e.Browser[:7] != "Chrome " {
		t.Errorf("env = %+v", e)
	}
	// Returning visitor: the companion cookie is enough, the recorder loads at once.
	gets := s.Hits("consent-get")
	do(t, ctx, chromedp.Navigate(s.URL+"/nav2.html"))
	waitFor(t, 10*time.Second, "recording on the next page", func() bool { return eventTypes(t, s.Segments())[2] >= 2 })
	if s.Hits("consent-get") != gets {
		t.Error("gate asked the server although the companion cookie holds the grant")
	}

	// Every upload was accepted, and the store holds all of them as one
	// replay with what the recorder reported.
	r := settle(t, ctx, s)
	allAccepted(t, s)
	if r.ID != segs[0].Replay || r.Browser == "" || r.OS != "Linux" {
		t.Errorf("stored replay = %+v", r)
	}
	if n := len(s.Replays(t)); n != 1 {
		t.Errorf("store lists %d replays, want 1", n)
	}
	stored := string(s.StoredEvents(t, r.ID))
	for _, want := range []string{`"replaygate/console"`, `"replaygate/network"`, `"replaygate/env"`, `/nav2.html`} {
		if !strings.Contains(stored, want) {
			t.Errorf("stored events lack %s", want)
		}
	}
	if strings.Contains(stored, "token=abc") {
		t.Error("stored events carry the fetch's query value")
	}
}

// TestGPC covers the Global Privacy Control signal in both forms, under
// the default policy (a refusal) and under gpc: ignore.
func TestGPC(t *testing.T) {
	for _, tc := range []struct {
		name      string
		header    bool // Chromium sends Sec-GPC: 1
		navigator bool // navigator.globalPrivacyControl is true
		ignore    bool // consent.gpc: ignore
	}{
		{name: "Sec-GPC header", header: true},
		{name: "navigator.globalPrivacyControl", navigator: true},
		{name: "both signals", header: true, navigator: true},
		// gpc: ignore — the visitor's explicit choice decides.
		{name: "Sec-GPC header under gpc ignore", header: true, ignore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, func(c *config.Config) {
				if tc.ignore {
					c.Consent.GPC = policy.GPCIgnore
				}
			})
			ctx := newBrowser(t)
			if tc.header {
				setExtraHeaders(t, ctx, map[string]string{"Sec-GPC": "1"})
			}
			if tc.navigator {
				beforePageScripts(t, ctx, `Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true})`)
			}
			if tc.ignore {
				// Under gpc: ignore the visitor's explicit choice decides:
				// the banner is shown and a grant records.
				accept(t, ctx, s, s.URL+"/index.html")
				allAccepted(t, s)
				return
			}
			do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
			waitFor(t, 5*time.Second, "consent GET", func() bool { return s.Hits("consent-get") > 0 })
			time.Sleep(1500 * time.Millisecond)
			if eval[bool](t, ctx, `!!(`+bannerJS+`)`) || s.Hits("recorder") != 0 || len(s.Decisions()) != 0 {
				t.Fatalf("GPC visitor: banner or recorder or consent POST (%v)", s.Decisions())
			}
			if !eval[bool](t, ctx, `replaygate.consent().gpc === true`) {
				t.Error("consent().gpc is not true")
			}
			if tc.header {
				// The server refuses a grant sent with the signal, whoever asks.
				if code := postFromPage(t, ctx, prefix+"/consent", `{"decision":"granted","language":"en"}`); code != http.StatusForbidden {
					t.Errorf("grant with Sec-GPC: 1 answered %d, want 403", code)
				}
			}
		})
	}
}

// TestModeOffNeverAsks covers mode off everywhere, and per region from the
// trusted region header a CDN in front would set.
func TestModeOffNeverAsks(t *testing.T) {
	regions := func(c *config.Config) {
		c.Consent.RegionHeader = "CF-IPCountry"
		c.Consent.Regions = map[string]policy.Mode{"DE": policy.ModeOff}
	}
	for _, tc := range []struct {
		name   string
		tune   func(*config.Config)
		region string
		banner bool
	}{
		{name: "default mode off", tune: func(c *config.Config) { c.Consent.DefaultMode = policy.ModeOff }},
		{name: "region off", tune: regions, region: "DE"},
		{name: "other region opt-in", tune: regions, region: "FR", banner: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, tc.tune)
			ctx := newBrowser(t)
			if tc.region != "" {
				setExtraHeaders(t, ctx, map[string]string{"CF-IPCountry": tc.region})
			}
			do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
			if tc.banner {
				waitBanner(t, ctx)
				return
			}
			waitFor(t, 5*time.Second, "consent GET", func() bool { return s.Hits("consent-get") > 0 })
			time.Sleep(1500 * time.Millisecond)
			if eval[bool](t, ctx, `!!(`+bannerJS+`)`) || s.Hits("recorder") != 0 {
				t.Fatal("mode off: banner shown or recorder loaded")
			}
			if got := eval[string](t, ctx, `replaygate.consent().mode`); got != "off" {
				t.Errorf("consent().mode = %q, want off", got)
			}
			// Nor can the page grant behind the gate's back.
			if code := postFromPage(t, ctx, prefix+"/consent", `{"decision":"granted","language":"en"}`); code != http.StatusForbidden {
				t.Errorf("grant in mode off answered %d, want 403", code)
			}
		})
	}
}

func TestOptOutRecordsUntilDeclined(t *testing.T) {
	s := startStack(t, func(c *config.Config) { c.Consent.DefaultMode = policy.ModeOptOut })
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitBanner(t, ctx)
	body := eval[string](t, ctx, bannerJS+`.querySelector('p').textContent`)
	if len(body) < 10 || body[:9] != "We record" {
		t.Errorf("opt-out notice text = %q", body)
	}
	waitFor(t, 10*time.Second, "accepted segments without a click", func() bool { return len(s.Accepted()) > 0 })
	id := s.Accepted()[0].Replay
	var stored StoredReplay
	waitFor(t, 10*time.Second, "the replay in the store", func() bool {
		var ok bool
		stored, ok = s.Replay(t, id)
		return ok
	})
	do(t, ctx, chromedp.Click(bannerButton("reject")))
	waitFor(t, 5*time.Second, "denial", func() bool { c := s.Consents(); return len(c) == 2 && c[1] == "denied" })
	if got := s.Decisions(); got[0] != (Decision{"granted", http.StatusNoContent}) || got[1] != (Decision{"denied", http.StatusNoContent}) {
		t.Errorf("decisions = %v, want an implicit grant then the denial, both 204", got)
	}
	n := len(s.Segments())
	do(t, ctx, chromedp.Click(chromedp.ID("bump")), chromedp.Click(chromedp.ID("bump")))
	time.Sleep(3 * time.Second)
	if got := len(s.Segments()); got != n {
		t.Fatalf("uploads continued after declining: %d segments, had %d", got, n)
	}
	// Declining after the implicit grant is a withdrawal: what was recorded
	// is erased.
	waitFor(t, 10*time.Second, "erasure of the recording", func() bool { _, ok := s.Replay(t, id); return !ok })
	if r := s.Replays(t); len(r) != 0 {
		t.Errorf("store still lists %d replays", len(r))
	}
	// The implicit grant is on record as given under opt-out.
	var events []string
	for _, p := range s.ProofRecords(t, stored.Subject) {
		events = append(events, p.Event+"/"+p.Mode)
	}
	if strings.Join(events, " ") != "grant/opt-out withdraw/opt-out" {
		t.Errorf("consent proof records = %v", events)
	}
}

func TestWithdrawStopsUploadsAndErases(t *testing.T) {
	s := startStack(t, func(c *config.Config) { c.Web.Banner.PrivacyChoices = true })
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	if !eval[bool](t, ctx, `!!document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('button.c')`) {
		t.Error("privacy choices button missing although enabled")
	}
	id := s.Accepted()[0].Replay
	var stored StoredReplay
	waitFor(t, 10*time.Second, "the replay in the store", func() bool {
		var ok bool
		stored, ok = s.Replay(t, id)
		return ok
	})
	// Activity right before withdrawing: it must be discarded, not uploaded.
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	eval[chromedp.Void](t, ctx, `replaygate.withdraw()`)
	n := len(s.Segments())
	if d := s.Decisions(); d[len(d)-1] != (Decision{"denied", http.StatusNoContent}) {
		t.Fatalf("withdraw posted %v", d)
	}
	if eval[bool](t, ctx, `window['replaygate.recorder'] !== undefined || sessionStorage.getItem('replaygate.session') !== null`) {
		t.Error("recorder handle or session survived withdrawal")
	}
	for i := 0; i < 5; i++ {
		do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	}
	time.Sleep(3 * time.Second)
	if got := len(s.Segments()); got != n {
		t.Fatalf("uploads after withdrawal: %d segments, had %d", got, n)
	}
	if eval[string](t, ctx, `replaygate.consent().decision`) != "denied" {
		t.Error("consent().decision is not denied after withdraw")
	}
	// erase_on_withdraw (default): the stored recording is gone.
	waitFor(t, 10*time.Second, "erasure of the recording", func() bool { _, ok := s.Replay(t, id); return !ok })
	if r := s.Replays(t); len(r) != 0 {
		t.Errorf("store still lists %d replays", len(r))
	}
	if code := postFromPage(t, ctx, prefix+"/ingest?replay="+id+"&seq=99", `[]`); code != http.StatusForbidden {
		t.Errorf("upload after withdrawal answered %d, want 403", code)
	}
	// The proof log keeps both decisions of the subject.
	var events []string
	for _, p := range s.ProofRecords(t, stored.Subject) {
		events = append(events, p.Event+"/"+p.Decision+"/"+p.Mode)
	}
	if strings.Join(events, " ") != "grant/granted/opt-in withdraw/denied/opt-in" {
		t.Errorf("consent proof records = %v", events)
	}

	// Changing one's mind again works: the privacy choices button reopens
	// the banner, and a new grant starts a new replay that is accepted.
	do(t, ctx, chromedp.Click(chromedp.JSPath(`document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('button.c')`)))
	waitBanner(t, ctx)
	do(t, ctx, chromedp.Click(bannerButton("accept")))
	waitFor(t, 10*time.Second, "an accepted segment after the new grant", func() bool {
		for _, sg := range s.Accepted() {
			if sg.Replay != id {
				return true
			}
		}
		return false
	})
	if d := s.Decisions(); d[len(d)-1] != (Decision{"granted", http.StatusNoContent}) {
		t.Errorf("new grant posted %v", d)
	}
	r := settle(t, ctx, s)
	if r.ID == id || r.Subject != stored.Subject {
		t.Errorf("after the new grant: stored replay %s of %s, want a new replay of the same subject %s", r.ID, r.Subject, stored.Subject)
	}
}

// TestForgedConsentCookieRefused: a visitor (or a script on the page) that
// writes the consent cookies itself gets the recorder loaded by the gate,
// which trusts the readable companion cookie, but the server trusts only
// its signature: every upload is refused, the recorder stops at the first
// 403, and nothing is stored.
func TestForgedConsentCookieRefused(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/privacy"))
	eval[chromedp.Void](t, ctx, `document.cookie = 'rg_consent=granted; path=/'; document.cookie = 'rg_consent_state=granted.`+policyVersion+`; path=/'`)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitFor(t, 10*time.Second, "an upload", func() bool { return len(s.Segments()) > 0 })
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	time.Sleep(2500 * time.Millisecond)
	segs := s.Segments()
	for _, sg := range segs {
		if sg.Status != http.StatusForbidden {
			t.Errorf("upload with a forged cookie answered %d, want 403", sg.Status)
		}
	}
	if len(segs) > 1 {
		t.Errorf("%d uploads: the recorder should stop at the first 403", len(segs))
	}
	if r := s.Replays(t); len(r) != 0 {
		t.Errorf("store holds %d replays from a forged cookie", len(r))
	}
}
