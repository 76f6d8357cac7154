package viewer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/admin"
	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
)

const (
	browserToken    = "viewer-test-token-0123456789"
	browserReplayID = "5f0c2a9e4b7d41c8a3e6f1b2d9c87a10"
	browserSubject  = "v-3b9f2c1d8e7a"
	// A second recording of another visitor, erased through the consent log.
	otherReplayID = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
	otherSubject  = "v-other-visitor"
)

// chromiumPath finds Debian's chromium. Browser tests are skipped with
// -short; otherwise a missing browser fails the test, so it cannot pass
// silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install it (make deps-browser) or run with -short")
	return ""
}

// artifactDir is where screenshots go: viewer/testdata/artifacts (not
// committed), or a temp dir when that is not writable.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t.TempDir()
	}
	return dir
}

// storedReplay names one replay realAdmin puts into the store.
type storedReplay struct{ id, subject string }

// readFixture reads a recording from testdata, replacing each old/new pair.
func readFixture(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(raw)))
}

// realAdmin serves the viewer behind the real admin handler, with a real
// store holding the recording once per replay (each split into two
// segments) and a consent proof log with two records.
func realAdmin(t *testing.T, recording []byte, replays ...storedReplay) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	nop := zerolog.Nop()
	st, err := store.Open(store.DefaultConfig(), dir, nop, nil)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(recording, &events); err != nil {
		t.Fatalf("recording: %v", err)
	}
	half := len(events) / 2
	for _, r := range replays {
		for seq, part := range [][]json.RawMessage{events[:half], events[half:]} {
			b, err := json.Marshal(part)
			if err != nil {
				t.Fatal(err)
			}
			seg := spool.Segment{ReplayID: r.id, Seq: seq, Subject: r.subject, ReceivedAt: time.Now(), Events: b}
			if err := st.Forward(context.Background(), seg); err != nil {
				t.Fatalf("store.Forward: %v", err)
			}
		}
	}
	proofs, err := policy.OpenProofLog(dir)
	if err != nil {
		t.Fatalf("policy.OpenProofLog: %v", err)
	}
	t.Cleanup(func() { proofs.Close() })
	at := time.Date(2025, 11, 28, 13, 19, 58, 0, time.UTC)
	for _, rec := range []policy.Record{
		{Time: at, Subject: browserSubject, Event: policy.EventGrant, Decision: policy.DecisionGranted, PolicyVersion: "2025-11", Language: "en", Region: "DE", Mode: policy.ModeOptIn, ExpiresAt: at.AddDate(0, 6, 0)},
		{Time: at.Add(-time.Hour), Subject: otherSubject, Event: policy.EventDeny, Decision: policy.DecisionDenied, PolicyVersion: "2025-11", Language: "fr", Mode: policy.ModeOptIn, GPC: true, ExpiresAt: at.AddDate(0, 6, 0)},
	} {
		if err := proofs.Append(rec); err != nil {
			t.Fatalf("proof log: %v", err)
		}
	}
	v, err := New(nop)
	if err != nil {
		t.Fatalf("viewer.New: %v", err)
	}
	h, err := admin.New(admin.Config{Token: browserToken}, admin.Deps{Replays: st, Consents: proofs, Viewer: v}, nop)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// browserIssues collects console errors, uncaught exceptions and CSP
// violations the pages report.
type browserIssues struct {
	mu     sync.Mutex
	list   []string
	expect []string
}

func (b *browserIssues) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.expect {
		if strings.Contains(s, e) {
			return
		}
	}
	b.list = append(b.list, s)
}

// expectMessage stops reporting messages containing s (a recorded page's own logging).
func (b *browserIssues) expectMessage(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expect = append(b.expect, s)
}

func (b *browserIssues) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.list
	b.list = nil
	return out
}

// browser is one headless Chromium tab for a test. Each step has its own
// timeout; a failed step saves a screenshot; what the page logs as an
// error, warning, exception or CSP violation fails the step that caused it.
type browser struct {
	t         *testing.T
	ctx       context.Context
	issues    *browserIssues
	artifacts string
	// prefix names this test's screenshots.
	prefix string
}

func newBrowser(t *testing.T, prefix string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	artifacts := artifactDir(t)
	_ = os.Remove(filepath.Join(artifacts, prefix+"failure.png")) // from an earlier failed run
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	issues := &browserIssues{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException(), m.Type == "error", m.Type == "warning", strings.Contains(m.Text, "Content Security Policy"):
				// The deliberate 401s (wrong token) and 400 (bad filter) show up as failed loads.
				expected := strings.HasPrefix(m.Text, "Failed to load resource") &&
					(strings.Contains(m.Text, "status of 401") || strings.Contains(m.Text, "status of 400"))
				if !expected {
					issues.add(fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
				}
			}
		}
	}()
	return &browser{t: t, ctx: ctx, issues: issues, artifacts: artifacts, prefix: prefix}
}

// step runs one named action and returns its value.
func step[T any](b *browser, name string, a chromedp.Action[T]) T {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		shot := filepath.Join(b.artifacts, b.prefix+"failure.png")
		if buf, serr := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(shot, buf, 0o644)
		}
		b.t.Fatalf("%s: %v (screenshot: %s)", name, err, shot)
	}
	time.Sleep(50 * time.Millisecond) // let console messages of the step arrive
	for _, issue := range b.issues.take() {
		b.t.Errorf("%s: browser reported %s", name, issue)
	}
	return v
}

func (b *browser) do(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step(b, name, chromedp.Steps(actions...))
}

func (b *browser) text(name, sel string) string {
	b.t.Helper()
	return step(b, name, chromedp.TextContent(chromedp.CSS(sel)))
}

func (b *browser) poll(name, expr string) {
	b.t.Helper()
	step(b, name, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second)))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	buf := step(b, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(b.artifacts, b.prefix+name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// signIn logs in on the viewer at baseURL with the admin token.
func (b *browser) signIn(baseURL, token string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(baseURL+"/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), token),
		chromedp.Click(css(`.login button[type="submit"]`)),
		chromedp.WaitVisible(css("#replays, .empty")),
	)
}

func TestBrowser(t *testing.T) {
	b := newBrowser(t, "")
	srv := realAdmin(t, readFixture(t, "recording.json"), storedReplay{browserReplayID, browserSubject}, storedReplay{otherReplayID, otherSubject})
	do, text, poll, screenshot := b.do, b.text, b.poll, b.screenshot

	// 1. No token yet: the login form. A wrong token is refused with a message.
	do("login form",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), "wrong-token-0123456789"),
		chromedp.Click(css(`.login button[type="submit"]`)),
		chromedp.WaitVisible(css("#login-message")),
	)
	if msg := text("login message", "#login-message"); !strings.Contains(msg, "not accepted") {
		t.Errorf("wrong token message = %q", msg)
	}
	screenshot("login.png")

	// 2. The right token shows the list with the recording.
	do("sign in",
		chromedp.Clear(css("#token")),
		chromedp.SendKeys(css("#token"), browserToken),
		chromedp.Click(css(`.login button[type="submit"]`)),
		chromedp.WaitVisible(css(`#replays tbody tr[data-replay="`+browserReplayID+`"]`)),
	)
	row := text("list row", `#replays tbody tr[data-replay="`+browserReplayID+`"]`)
	for _, want := range []string{"6 s", "/products", "/products/1", "Chrome 131 · Linux", "v-3b9f2c"} {
		if !strings.Contains(row, want) {
			t.Errorf("list row %q lacks %q", row, want)
		}
	}
	screenshot("list.png")

	// 3. The player rebuilds the recording: masked text as asterisks,
	// blocked images as grey boxes, markers, console and network lists.
	do("open player",
		chromedp.Click(css(`tr[data-replay="`+browserReplayID+`"] a.play-link`)),
		chromedp.WaitVisible(css(".screen iframe")),
	)
	poll("replay rendered", `(() => {
		const f = document.querySelector('.screen iframe');
		const d = f && f.contentDocument;
		return !!d && !!d.body && d.body.textContent.includes('******** ********');
	})()`)
	type replayState struct {
		Text      string         `json:"text"`
		Nav       string         `json:"nav"`
		Blocked   int            `json:"blocked"`
		BlockedBG string         `json:"blockedBg"`
		BlockedW  float64        `json:"blockedW"`
		NavBG     string         `json:"navBg"`
		Markers   map[string]int `json:"markers"`
		Console   string         `json:"console"`
		Network   string         `json:"network"`
		Env       string         `json:"env"`
		Sandbox   string         `json:"sandbox"`
	}
	replay := step(b, "inspect player", chromedp.Evaluate[replayState](`(() => {
		const f = document.querySelector('.screen iframe');
		const d = f.contentDocument;
		const blocked = d.querySelectorAll('[data-replaygate-blocked]');
		const b = blocked[0];
		const count = (k) => document.querySelectorAll('.track .marker-' + k).length;
		return {
			text: d.body.textContent,
			nav: d.querySelector('nav').textContent,
			blocked: blocked.length,
			blockedBg: b ? d.defaultView.getComputedStyle(b).backgroundColor : '',
			blockedW: b ? b.getBoundingClientRect().width : 0,
			navBg: d.defaultView.getComputedStyle(d.querySelector('nav')).backgroundColor,
			markers: {page: count('page'), click: count('click'), error: count('error')},
			console: document.querySelector('#panel-console').textContent,
			network: document.querySelector('#panel-network').textContent,
			env: document.querySelector('#environment').textContent,
			sandbox: f.getAttribute('sandbox'),
		};
	})()`))
	if !strings.Contains(replay.Text, "******** ********") || strings.Contains(replay.Text, "Featured products") {
		t.Errorf("replay text not masked as recorded: %q", replay.Text)
	}
	if !strings.Contains(replay.Nav, "Products") {
		t.Errorf("unmasked navigation missing: %q", replay.Nav)
	}
	if replay.Blocked != 2 || replay.BlockedBG != "rgb(200, 200, 200)" || replay.BlockedW != 296 {
		t.Errorf("block placeholders: %d, background %q, width %v; want 2 grey 296px boxes", replay.Blocked, replay.BlockedBG, replay.BlockedW)
	}
	if replay.NavBG != "rgb(15, 118, 110)" {
		t.Errorf("recorded CSS not applied in the replay (CSP?): nav background %q", replay.NavBG)
	}
	if want := map[string]int{"page": 2, "click": 3, "error": 2}; fmt.Sprint(replay.Markers) != fmt.Sprint(want) {
		t.Errorf("timeline markers %v, want %v", replay.Markers, want)
	}
	if !strings.Contains(replay.Console, "TypeError: Cannot read properties of undefined") || !strings.Contains(replay.Console, "Payment widget failed to load") {
		t.Errorf("console panel: %q", replay.Console)
	}
	if !strings.Contains(replay.Network, "POST /api/cart") || !strings.Contains(replay.Network, "503") {
		t.Errorf("network panel: %q", replay.Network)
	}
	for _, want := range []string{"Chrome 131 on Linux", "1024 × 640", "en-US"} {
		if !strings.Contains(replay.Env, want) {
			t.Errorf("environment %q lacks %q", replay.Env, want)
		}
	}
	if strings.Contains(replay.Sandbox, "allow-scripts") {
		t.Errorf("replay iframe sandbox allows scripts: %q", replay.Sandbox)
	}

	// 4. The keyboard works: focus starts on Play, Space toggles it.
	if focused := step(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "play" {
		t.Errorf("focus after loading the player is on #%s, want #play", focused)
	}
	do("space plays", chromedp.KeyEvent(" "))
	poll("playing", `document.querySelector('#play').textContent === 'Pause' && !document.querySelector('.clock').textContent.startsWith('0:00')`)
	do("space pauses", chromedp.KeyEvent(" "))
	poll("paused", `document.querySelector('#play').textContent === 'Play'`)
	do("slider keys", chromedp.Focus(css("#position")), chromedp.KeyEvent(kb.End))
	if clock := text("clock at end", ".clock"); clock != "0:06 / 0:06" {
		t.Errorf("End on the slider: clock %q", clock)
	}
	do("slider home", chromedp.KeyEvent(kb.Home), chromedp.KeyEvent(kb.ArrowRight))
	if clock := text("clock at 5 s", ".clock"); clock != "0:05 / 0:06" {
		t.Errorf("Home, ArrowRight on the slider: clock %q", clock)
	}

	// 5. Clicking the first console error seeks to 0:02; the toast that the
	// mutation at 1.8 s added is in the replay then.
	do("seek from panel", chromedp.Click(css("#panel-console .entry-button.level-error")))
	poll("toast shown", `document.querySelector('.screen iframe').contentDocument.querySelector('.toast') !== null`)
	if clock := text("clock", ".clock"); !strings.HasPrefix(clock, "0:02 / 0:06") {
		t.Errorf("clock after seeking to the error = %q", clock)
	}
	screenshot("player.png")

	// 6. Play at 8× to the end: the second page is rebuilt.
	do("play", chromedp.Click(css(`label[for="speed-8"]`)), chromedp.Click(css("#play")))
	poll("played to the end", `document.querySelector('#play').textContent === 'Play' &&
		document.querySelector('.screen iframe').contentDocument.body.textContent.includes('* ****** ****** *** **** *****')`)
	if clock := text("clock", ".clock"); !strings.HasPrefix(clock, "0:06") {
		t.Errorf("clock after playing to the end = %q", clock)
	}
	screenshot("player-end.png")
	do("narrow window", chromedp.EmulateViewport(820, 1000))
	screenshot("player-narrow.png")
	do("wide window", chromedp.ResetViewport())

	// 7. Delete with confirmation; the store forgets the recording.
	do("delete",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css(`tr[data-replay="`+browserReplayID+`"]`)),
		chromedp.Click(css(`tr[data-replay="`+browserReplayID+`"] .actions button`)),
		chromedp.WaitVisible(css("dialog[open]")),
	)
	screenshot("delete-dialog.png")
	do("confirm delete",
		chromedp.Click(css("dialog[open] .button-danger")),
		chromedp.WaitNotPresent(css(`tr[data-replay="`+browserReplayID+`"]`)),
	)
	if c := text("count after delete", ".page-meta"); c != "1 recording" {
		t.Errorf("count after delete = %q, want 1 recording", c)
	}
	do("reload list",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css(`tr[data-replay="`+otherReplayID+`"]`)),
	)
	if n := step(b, "rows", chromedp.Evaluate[int](`document.querySelectorAll('#replays tbody tr').length`)); n != 1 {
		t.Errorf("after delete the list has %d rows, want 1", n)
	}

	// 8. The consent log is one click away; filtering by a visitor offers erasure.
	do("consent log",
		chromedp.Click(css(`nav a[href="/consents"]`)),
		chromedp.WaitVisible(css("#consents tbody tr")),
	)
	consents := text("consent rows", "#consents tbody")
	for _, want := range []string{"granted", "denied", browserSubject, otherSubject, "2025-11", "opt-in", "DE", "yes"} {
		if !strings.Contains(consents, want) {
			t.Errorf("consent log %q lacks %q", consents, want)
		}
	}
	screenshot("consents.png")
	do("filter by visitor",
		chromedp.Click(css(`#consents a[href="/consents?subject=`+otherSubject+`"]`)),
		chromedp.WaitVisible(css("#erase")),
	)
	if n := step(b, "filtered rows", chromedp.Evaluate[int](`document.querySelectorAll('#consents tbody tr').length`)); n != 1 {
		t.Errorf("filtered consent log has %d rows, want 1", n)
	}
	do("erase visitor",
		chromedp.Click(css("#erase")),
		chromedp.WaitVisible(css("dialog[open]")),
		chromedp.Click(css("dialog[open] .button-danger")),
	)
	poll("erased", `document.querySelector('.subject-actions [role=status]').textContent.includes('erased')`)
	screenshot("consents-visitor.png")
	do("list empty",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(css(".empty")),
	)
	if empty := text("empty state", ".empty"); !strings.Contains(empty, "Accept recording in the consent banner") {
		t.Errorf("empty state after erasure: %q", empty)
	}
	screenshot("empty.png")

	// 9. A malformed visitor filter is explained in place.
	do("bad filter",
		chromedp.Navigate(srv.URL+"/consents?subject=bad%20id"),
		chromedp.WaitVisible(css("#filter-error")),
	)
	if msg := text("filter error", "#filter-error"); !strings.Contains(msg, "subject must be") {
		t.Errorf("filter error = %q", msg)
	}

	// 10. A token the API no longer accepts returns to the login form.
	step(b, "store stale token", chromedp.Evaluate[any](`sessionStorage.setItem('replaygate.adminToken', 'stale-token-0123456789')`))
	do("reload", chromedp.Reload(), chromedp.WaitVisible(css("#login-message")))
	msg := text("401 message", "#login-message")
	if !strings.Contains(msg, "not accepted") || strings.Contains(msg, "stale-token") {
		t.Errorf("401 message = %q", msg)
	}
}
