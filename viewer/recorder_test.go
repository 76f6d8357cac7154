package viewer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/admin"
	"github.com/replaygate/replaygate/inject/web"
	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
)

const (
	recPrefix        = "/__replay"
	recPolicyVersion = "test-1"
	recSubject       = "v-recorder-test"
)

var recReplayIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// recordedPage is the site the real recorder records: unmasked navigation,
// text that must arrive masked, an image that must arrive blocked, a form
// field, and a button that logs a console error, fetches and mutates.
const recordedPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Viewer recorder test</title>
<style>
body { margin: 0; font-family: Arial, sans-serif; }
nav { background: #0f766e; padding: 12px 20px; }
nav a { color: #fff; margin-right: 12px; }
main { padding: 20px; }
.card { border: 1px solid #ccc; padding: 10px; width: 300px; }
img { display: block; }
</style>
<script src="` + recPrefix + `/gate.js"></script>
</head>
<body>
<nav class="replay-unmask"><a href="/">Home</a><a href="/about">About</a></nav>
<main>
<h1>Secret headline</h1>
<div class="card"><img src="/photo.svg" width="240" height="120" alt="Product photo"><p>Private price 42</p></div>
<label for="email">Email</label> <input id="email" type="email">
<button id="act" type="button">Place order</button>
</main>
<script>
document.getElementById('act').addEventListener('click', function () {
  console.error('Checkout failed: code 7');
  fetch('/api/ping');
  var p = document.createElement('p');
  p.id = 'done';
  p.textContent = 'Order placed';
  document.querySelector('main').appendChild(p);
});
</script>
</body>
</html>
`

// recordingSite serves recordedPage with the real gate and recorder bundles
// (inject/web), a cookie-only stand-in for the consent endpoints, and an
// ingest endpoint that hands every upload to st as the spool would.
func recordingSite(t *testing.T, st *store.Store) *httptest.Server {
	t.Helper()
	cfg := web.DefaultConfig()
	cfg.Recording.BatchInterval = time.Second
	assets, err := web.New(cfg, recPrefix, recPolicyVersion, zerolog.Nop())
	if err != nil {
		t.Fatalf("inject/web.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(recPrefix+"/", assets)
	mux.HandleFunc("GET "+recPrefix+"/consent", func(w http.ResponseWriter, r *http.Request) {
		decision := "none"
		if c, err := r.Cookie("rg_consent"); err == nil && (c.Value == "granted" || c.Value == "denied") {
			decision = c.Value
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"decision": decision, "policyVersion": recPolicyVersion, "mode": "opt-in", "gpc": false})
	})
	mux.HandleFunc("POST "+recPrefix+"/consent", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Decision string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || (body.Decision != "granted" && body.Decision != "denied") {
			http.Error(w, `{"error":"decision must be granted or denied"}`, http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "rg_consent", Value: body.Decision, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "rg_consent_state", Value: body.Decision + "." + recPolicyVersion, Path: "/", SameSite: http.SameSiteLaxMode})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+recPrefix+"/ingest", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("rg_consent"); err != nil || c.Value != "granted" {
			http.Error(w, `{"error":"no valid consent"}`, http.StatusForbidden)
			return
		}
		id := r.URL.Query().Get("replay")
		seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
		if !recReplayIDRE.MatchString(id) || err != nil || seq < 0 {
			http.Error(w, `{"error":"replay must be 32 hex digits and seq a number"}`, http.StatusBadRequest)
			return
		}
		var body io.Reader = io.LimitReader(r.Body, 16<<20)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(body)
			if err != nil {
				http.Error(w, `{"error":"bad gzip"}`, http.StatusBadRequest)
				return
			}
			body = zr
		}
		events, err := io.ReadAll(body)
		if err != nil || !json.Valid(events) {
			http.Error(w, `{"error":"body must be a JSON array of events"}`, http.StatusBadRequest)
			return
		}
		seg := spool.Segment{ReplayID: id, Seq: seq, Subject: recSubject, ReceivedAt: time.Now(), Events: bytes.Clone(events)}
		if err := st.Forward(r.Context(), seg); err != nil {
			http.Error(w, `{"error":"store"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /photo.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="120"><rect width="240" height="120" fill="#f59e0b"/></svg>`)
	})
	mux.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, recordedPage)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserRealRecorder records a page with the real recorder bundle in
// Chromium, keeps the uploads in the real store, and plays them back in the
// viewer behind the real admin handler: the viewer must rebuild what the
// recorder's rrweb release produced, masked text and blocked media included.
func TestBrowserRealRecorder(t *testing.T) {
	b := newBrowser(t, "recorded-")
	st, err := store.Open(store.DefaultConfig(), t.TempDir(), zerolog.Nop(), nil)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	site := recordingSite(t, st)
	v, err := New(zerolog.Nop())
	if err != nil {
		t.Fatalf("viewer.New: %v", err)
	}
	h, err := admin.New(admin.Config{Token: browserToken}, admin.Deps{Replays: st, Viewer: v}, zerolog.Nop())
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	adminSrv := httptest.NewServer(h)
	t.Cleanup(adminSrv.Close)

	// Record: accept in the banner, type, click, wait for the uploads.
	b.do("open site", chromedp.Navigate(site.URL+"/"))
	b.poll("banner", `!!document.querySelector('[data-replaygate]')?.shadowRoot?.querySelector('[data-action=accept]')`)
	b.do("accept", chromedp.Click(chromedp.JSPath(`document.querySelector('[data-replaygate]').shadowRoot.querySelector('[data-action=accept]')`)))
	waitStore(t, st, "first segment", func(m []store.Meta) bool { return len(m) == 1 && m[0].Events > 0 })
	b.issues.expectMessage("Checkout failed: code 7") // the recorded page's own console.error
	b.do("interact",
		chromedp.SendKeys(css("#email"), "someone@example.com"),
		chromedp.Click(css("#act")),
		chromedp.WaitVisible(css("#done")),
	)
	waitStore(t, st, "segment with the click", func(m []store.Meta) bool { return len(m) == 1 && m[0].Errors == 1 && m[0].Clicks >= 1 })
	time.Sleep(1500 * time.Millisecond) // one more batch interval for trailing events

	metas, err := st.List(context.Background())
	if err != nil || len(metas) != 1 {
		t.Fatalf("store.List: %v, %d replays", err, len(metas))
	}
	id := metas[0].ID
	var raw bytes.Buffer
	if err := st.WriteEvents(context.Background(), id, &raw); err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"Secret headline", "Private price", "someone@example.com", "Order placed"} {
		if strings.Contains(raw.String(), leak) {
			t.Fatalf("the recorder sent %q unmasked; the viewer test needs masked input", leak)
		}
	}

	// Play it back in the viewer.
	b.signIn(adminSrv.URL, browserToken)
	b.do("open player",
		chromedp.Click(css(`tr[data-replay="`+id+`"] a.play-link`)),
		chromedp.WaitVisible(css(".screen iframe")),
	)
	b.poll("snapshot rebuilt", `(() => {
		const d = document.querySelector('.screen iframe')?.contentDocument;
		return !!d && !!d.body && d.body.textContent.includes('****** ********');
	})()`)
	type state struct {
		Nav       string  `json:"nav"`
		Blocked   int     `json:"blocked"`
		BlockedBG string  `json:"blockedBg"`
		BlockedW  float64 `json:"blockedW"`
		NavBG     string  `json:"navBg"`
		Errors    int     `json:"errors"`
		Clicks    int     `json:"clicks"`
		Console   string  `json:"console"`
		Network   string  `json:"network"`
		Env       string  `json:"env"`
	}
	got := step(b, "inspect", chromedp.Evaluate[state](`(() => {
		const d = document.querySelector('.screen iframe').contentDocument;
		const blocked = d.querySelectorAll('[data-replaygate-blocked]');
		const first = blocked[0];
		return {
			nav: d.querySelector('nav')?.textContent ?? '',
			blocked: blocked.length,
			blockedBg: first ? d.defaultView.getComputedStyle(first).backgroundColor : '',
			blockedW: first ? first.getBoundingClientRect().width : 0,
			navBg: d.querySelector('nav') ? d.defaultView.getComputedStyle(d.querySelector('nav')).backgroundColor : '',
			errors: document.querySelectorAll('.track .marker-error').length,
			clicks: document.querySelectorAll('.track .marker-click').length,
			console: document.querySelector('#panel-console').textContent,
			network: document.querySelector('#panel-network').textContent,
			env: document.querySelector('#environment').textContent,
		};
	})()`))
	if !strings.Contains(got.Nav, "Home") || !strings.Contains(got.Nav, "About") {
		t.Errorf("unmasked navigation not replayed: %q", got.Nav)
	}
	if got.Blocked < 1 || got.BlockedBG != "rgb(200, 200, 200)" || got.BlockedW != 240 {
		t.Errorf("blocked image: %d placeholders, background %q, width %v; want a grey 240px box", got.Blocked, got.BlockedBG, got.BlockedW)
	}
	if got.NavBG != "rgb(15, 118, 110)" {
		t.Errorf("recorded stylesheet not applied: nav background %q", got.NavBG)
	}
	if got.Errors != 1 || got.Clicks < 1 {
		t.Errorf("timeline: %d error markers, %d click markers; want 1 and at least 1", got.Errors, got.Clicks)
	}
	if !strings.Contains(got.Console, "Checkout failed: code 7") {
		t.Errorf("console panel: %q", got.Console)
	}
	if !strings.Contains(got.Network, "GET /api/ping") {
		t.Errorf("network panel: %q", got.Network)
	}
	if !strings.Contains(got.Env, "Chrome") {
		t.Errorf("environment: %q", got.Env)
	}
	b.screenshot("player.png")

	// Played to the end, the mutation and the masked input value are there.
	b.do("play to the end", chromedp.Click(css(`label[for="speed-8"]`)), chromedp.Click(css("#play")))
	b.poll("finished", `document.querySelector('#play').textContent === 'Play' &&
		document.querySelector('.screen iframe').contentDocument.body.textContent.includes('***** ******')`)
	value := step(b, "input value", chromedp.Evaluate[string](`document.querySelector('.screen iframe').contentDocument.querySelector('input').value`))
	if value == "" || strings.Trim(value, "*") != "" {
		t.Errorf("replayed input value %q, want asterisks", value)
	}
	b.screenshot("player-end.png")
}

// waitStore polls the store's list until ok or a 15 s timeout.
func waitStore(t *testing.T, st *store.Store, what string, ok func([]store.Meta) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		metas, err := st.List(context.Background())
		if err == nil && ok(metas) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: store has %+v (err %v)", what, metas, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
