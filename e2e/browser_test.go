package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser; a missing one fails the test loudly
// (skipped only under -short) so a green run always means the browser ran.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("REPLAYGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if testing.Short() {
		t.Skip("no Chromium; -short given")
	}
	t.Fatal("no Chromium found: install it with `apt-get install -y chromium` or set REPLAYGATE_CHROMIUM")
	return ""
}

// chromium is the one headless Chromium the package's tests share; every
// test gets a fresh browser context in it (own cookies, storage and cache,
// like a fresh profile). TestMain stops it.
var chromium struct {
	once    sync.Once
	ctx     context.Context
	stop    func()
	err     error
	profile string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.stop != nil {
		chromium.stop()
	}
	os.Exit(code)
}

// startChromium starts the shared browser with a fresh profile.
func startChromium(path string) {
	chromium.profile, chromium.err = os.MkdirTemp("", "replaygate-e2e-")
	if chromium.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(chromium.profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	chromium.ctx = bctx
	chromium.stop = func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(chromium.profile)
	}
	chromium.err = chromedp.Do(bctx)
}

// newBrowser returns a tab in a new browser context of the shared
// Chromium; the tab closes, and its context is disposed of, when the test
// ends.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath(t)
	chromium.once.Do(func() { startChromium(path) })
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	tab, cancelTab := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

func do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %q: %v", js, err)
	}
	return v
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The banner lives in an open shadow root on a host marked data-replaygate.
const bannerJS = `document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('[role=dialog]')`

func bannerButton(action string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('[data-action=%s]')`, action))
}

func waitBanner(t testing.TB, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(`+bannerJS+`)`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("banner did not appear: %v", err)
	}
}

// accept opens url, waits for the banner, clicks Accept with the mouse and
// waits until the recorder loaded and replaygate accepted a first upload.
func accept(t testing.TB, ctx context.Context, s *Stack, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
	waitBanner(t, ctx)
	do(t, ctx, chromedp.Click(bannerButton("accept")))
	waitFor(t, 10*time.Second, "recorder request", func() bool { return s.Hits("recorder") > 0 })
	waitFor(t, 10*time.Second, "first accepted segment", func() bool { return len(s.Accepted()) > 0 })
}

// allAccepted fails the test when replaygate refused an upload.
func allAccepted(t testing.TB, s *Stack) {
	t.Helper()
	for _, sg := range s.Segments() {
		if sg.Status != http.StatusAccepted {
			t.Errorf("upload replay %s seq %d answered %d, want 202", sg.Replay, sg.Seq, sg.Status)
		}
	}
}

// setExtraHeaders makes the tab send hdr with every request, as a browser
// setting (Sec-GPC) or a CDN in front (CF-IPCountry) would add them.
func setExtraHeaders(t testing.TB, ctx context.Context, hdr map[string]string) {
	t.Helper()
	h := network.Headers{}
	for k, v := range hdr {
		h[k] = v
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
		t.Fatalf("Network.setExtraHTTPHeaders: %v", err)
	}
}

// beforePageScripts runs js in every new document before the page's own
// scripts.
func beforePageScripts(t testing.TB, ctx context.Context, js string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
}

// postFromPage sends a same-origin fetch from the page and returns the
// status replaygate answered.
func postFromPage(t testing.TB, ctx context.Context, path, body string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: %q}).then((r) => r.status)`, path, body)
	return eval[int](t, ctx, js)
}

// joined returns the decoded bodies of segs, one per line.
func joined(t testing.TB, segs []Segment) string {
	t.Helper()
	var b strings.Builder
	for _, s := range segs {
		if s.Err != nil {
			t.Fatalf("upload seq %d: %v", s.Seq, s.Err)
		}
		b.Write(s.Body)
		b.WriteByte('\n')
	}
	return b.String()
}
