package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab context that ends with the test.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
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

// accept opens url, waits for the banner and clicks Accept with the mouse.
func accept(t testing.TB, ctx context.Context, s *Stack, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
	waitBanner(t, ctx)
	do(t, ctx, chromedp.Click(bannerButton("accept")))
	waitFor(t, 10*time.Second, "recorder request", func() bool { return s.Hits("recorder") > 0 })
	waitFor(t, 10*time.Second, "first segment", func() bool { return len(s.Segments()) > 0 })
}

func joined(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.Write(s.Body)
		b.WriteByte('\n')
	}
	return b.String()
}
