package viewer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const hostileReplayID = "deadbeefdeadbeefdeadbeefdeadbeef"

// TestBrowserHostileRecording replays a recording crafted by a hostile
// visitor (recordings are visitor-controlled input): scripts, event
// handlers, javascript: URLs, remote stylesheets, images, frames, a meta
// refresh, a base element and CSS url()s pointing at another server, and
// markup in console, network and URL fields. Nothing may run and nothing may
// reach the other server; the markup must show as text.
func TestBrowserHostileRecording(t *testing.T) {
	var (
		mu   sync.Mutex
		hits []string
	)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("evil"))
	}))
	t.Cleanup(evil.Close)

	b := newBrowser(t, "hostile-")
	// The browser reports the blocked loads and scripts; that is the point.
	for _, m := range []string{"Content Security Policy", "Refused to", "Blocked script execution", "sandboxed"} {
		b.issues.expectMessage(m)
	}
	srv := realAdmin(t, readFixture(t, "hostile.json", "EVIL_ORIGIN", evil.URL), storedReplay{hostileReplayID, "v-hostile"})
	b.signIn(srv.URL, browserToken)
	row := b.text("list row", `tr[data-replay="`+hostileReplayID+`"]`)
	if !strings.Contains(row, "/%3Cscript%3Ealert(1)%3C/script%3E") || !strings.Contains(row, "<img src=x onerror=alert(1)>") {
		t.Errorf("the URL with markup should show as text: %q", row)
	}
	b.do("open player",
		chromedp.Click(css(`tr[data-replay="`+hostileReplayID+`"] a.play-link`)),
		chromedp.WaitVisible(css(".screen iframe")),
	)
	b.poll("rebuilt", `(() => {
		const d = document.querySelector('.screen iframe')?.contentDocument;
		return !!d && !!d.body && d.body.textContent.includes('Hostile recording');
	})()`)
	b.do("play", chromedp.Click(css(`label[for="speed-8"]`)), chromedp.Click(css("#play")))
	b.poll("finished", `document.querySelector('#play').textContent === 'Play' && document.querySelector('.clock').textContent.startsWith('0:01 / 0:01')`)
	b.do("open every panel entry",
		chromedp.Click(css("#panel-console .entry-button")),
		chromedp.Click(css("#tab-network")),
		chromedp.Click(css("#panel-network .entry-button")),
		chromedp.Click(css("#tab-console")),
		chromedp.Click(css("#panel-console summary")),
	)
	time.Sleep(time.Second) // give anything that would load or run the time to do it

	type state struct {
		Title      string `json:"title"`
		PanelImgs  int    `json:"panelImgs"`
		ConsoleTxt string `json:"consoleTxt"`
		EnvTxt     string `json:"envTxt"`
		FrameURL   string `json:"frameUrl"`
	}
	got := step(b, "inspect", chromedp.Evaluate[state](`(() => ({
		title: document.title,
		panelImgs: document.querySelectorAll('.panel img, .facts img, #replays img').length,
		consoleTxt: document.querySelector('#panel-console').textContent,
		envTxt: document.querySelector('#environment').textContent,
		frameUrl: document.querySelector('.screen iframe').contentWindow.location.href,
	}))()`))
	b.screenshot("player.png")
	if strings.Contains(got.Title, "pwned") || !strings.Contains(got.Title, "replaygate") {
		t.Errorf("recorded script ran: title %q", got.Title)
	}
	if got.PanelImgs != 0 || !strings.Contains(got.ConsoleTxt, `<img src=x onerror="parent.document.title='pwned-console'">`) ||
		!strings.Contains(got.ConsoleTxt, "<script>alert(1)</script>") || !strings.Contains(got.EnvTxt, "<img src=x onerror=alert(1)>") {
		t.Errorf("markup in recorded strings must show as text: %d images, console %q, environment %q", got.PanelImgs, got.ConsoleTxt, got.EnvTxt)
	}
	// rrweb writes the rebuilt document with document.open(), which gives the
	// iframe the player's URL; anything else means it navigated.
	if got.FrameURL != "about:blank" && got.FrameURL != srv.URL+"/replays/"+hostileReplayID {
		t.Errorf("the replay iframe navigated to %q", got.FrameURL)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) > 0 {
		t.Errorf("the replay reached another origin: %v", hits)
	}
}
