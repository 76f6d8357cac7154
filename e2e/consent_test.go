package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/replaygate/replaygate/inject/web"
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
	s := startStack(t, stackOptions{})
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
	time.Sleep(1500 * time.Millisecond)
	if s.Hits("recorder") != 0 || s.Hits("ingest") != 0 {
		t.Fatalf("before any decision: %d recorder requests, %d ingest requests, want 0", s.Hits("recorder"), s.Hits("ingest"))
	}
}

func TestBannerLanguageFromPage(t *testing.T) {
	s := startStack(t, stackOptions{})
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/de.html"))
	waitBanner(t, ctx)
	b := readBanner(t, ctx)
	if b.Reject != "Ablehnen" || b.Accept != "Akzeptieren" || b.Lang != "de" {
		t.Fatalf("de-AT page: banner %+v, want German texts", b)
	}
}

func TestRejectByKeyboardNeverLoadsRecorder(t *testing.T) {
	s := startStack(t, stackOptions{})
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
	waitFor(t, 5*time.Second, "consent POST", func() bool { return len(s.Consents()) == 1 })
	if got := s.Consents(); got[0] != "denied" {
		t.Fatalf("consent posted %v, want [denied]", got)
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
	if eval[string](t, ctx, `JSON.stringify(replaygate.consent())`) != `{"decision":"denied","mode":"unknown","gpc":false,"policyVersion":"2026-01"}` {
		t.Errorf("consent() = %s", eval[string](t, ctx, `JSON.stringify(replaygate.consent())`))
	}
}

func TestAcceptLoadsRecorderAndUploads(t *testing.T) {
	s := startStack(t, stackOptions{})
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	if got := s.Consents(); len(got) != 1 || got[0] != "granted" {
		t.Fatalf("consent posted %v, want [granted]", got)
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
}

func TestGPCMeansNoBannerNoRecording(t *testing.T) {
	s := startStack(t, stackOptions{gpc: true})
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitFor(t, 5*time.Second, "consent GET", func() bool { return s.Hits("consent-get") > 0 })
	time.Sleep(1500 * time.Millisecond)
	if eval[bool](t, ctx, `!!(`+bannerJS+`)`) || s.Hits("recorder") != 0 || len(s.Consents()) != 0 {
		t.Fatalf("GPC visitor: banner or recorder or consent POST (%v)", s.Consents())
	}
	if !eval[bool](t, ctx, `replaygate.consent().gpc === true`) {
		t.Error("consent().gpc is not true")
	}
}

func TestModeOffNeverAsks(t *testing.T) {
	s := startStack(t, stackOptions{mode: "off"})
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitFor(t, 5*time.Second, "consent GET", func() bool { return s.Hits("consent-get") > 0 })
	time.Sleep(1500 * time.Millisecond)
	if eval[bool](t, ctx, `!!(`+bannerJS+`)`) || s.Hits("recorder") != 0 {
		t.Fatal("mode off: banner shown or recorder loaded")
	}
}

func TestOptOutRecordsUntilDeclined(t *testing.T) {
	s := startStack(t, stackOptions{mode: "opt-out"})
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(s.URL+"/index.html"))
	waitBanner(t, ctx)
	body := eval[string](t, ctx, bannerJS+`.querySelector('p').textContent`)
	if len(body) < 10 || body[:9] != "We record" {
		t.Errorf("opt-out notice text = %q", body)
	}
	waitFor(t, 10*time.Second, "segments without a click", func() bool { return len(s.Segments()) > 0 })
	do(t, ctx, chromedp.Click(bannerButton("reject")))
	waitFor(t, 5*time.Second, "denial", func() bool { c := s.Consents(); return len(c) == 2 && c[1] == "denied" })
	n := len(s.Segments())
	do(t, ctx, chromedp.Click(chromedp.ID("bump")), chromedp.Click(chromedp.ID("bump")))
	time.Sleep(3 * time.Second)
	if got := len(s.Segments()); got != n {
		t.Fatalf("uploads continued after declining: %d segments, had %d", got, n)
	}
}

func TestWithdrawStopsUploads(t *testing.T) {
	s := startStack(t, stackOptions{cfg: func(c *web.Config) { c.Banner.PrivacyChoices = true }})
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	if !eval[bool](t, ctx, `!!document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('button.c')`) {
		t.Error("privacy choices button missing although enabled")
	}
	// Activity right before withdrawing: it must be discarded, not uploaded.
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	eval[chromedp.Void](t, ctx, `replaygate.withdraw()`)
	n := len(s.Segments())
	if c := s.Consents(); c[len(c)-1] != "denied" {
		t.Fatalf("withdraw posted %v", c)
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
}
