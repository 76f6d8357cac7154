package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/replaygate/replaygate/config"
)

// event is the top of an rrweb event.
type event struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
}

func events(t *testing.T, segs []Segment) []event {
	t.Helper()
	var out []event
	for _, s := range segs {
		if s.Err != nil {
			t.Fatalf("upload seq %d: %v", s.Seq, s.Err)
		}
		for _, raw := range s.Events {
			var e event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("segment %d: event is not an object: %v", s.Seq, err)
			}
			out = append(out, e)
		}
	}
	return out
}

// eventTypes counts events by rrweb type (2 FullSnapshot, 3 Incremental, 4 Meta, 5 Custom).
func eventTypes(t *testing.T, segs []Segment) map[int]int {
	t.Helper()
	m := map[int]int{}
	for _, e := range events(t, segs) {
		m[e.Type]++
	}
	return m
}

// customEvents returns the payloads of custom events with the given tag.
func customEvents(t *testing.T, segs []Segment, tag string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, e := range events(t, segs) {
		if e.Type != 5 {
			continue
		}
		var d struct {
			Tag     string          `json:"tag"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.Tag == tag {
			out = append(out, d.Payload)
		}
	}
	return out
}

var markerRE = regexp.MustCompile(`LEAK_[A-Z0-9_]+`)

// leakRecording is what the leak page's recording looked like on the wire
// (as the browser sent it, before replaygate's edge scrubber) and in the
// store (after it).
type leakRecording struct {
	wire, stored, disk string
}

// recordLeakPage opens testdata/leak.html, which plants a distinct LEAK_*
// marker in every known leak route, accepts, types into every field,
// triggers late mutations and network calls, leaves the page, and returns
// everything that reached the ingest endpoint and the store.
func recordLeakPage(t *testing.T, s *Stack) leakRecording {
	t.Helper()
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/leak.html?token=LEAK_PAGE_QUERY&page=2#LEAK_PAGE_FRAGMENT")
	typed := map[string]string{
		"text": "LEAK_TYPED_TEXT", "email": "LEAK_TYPED_EMAIL@example.com", "password": "LEAK_TYPED_PASSWORD",
		"search": "LEAK_TYPED_SEARCH", "tel": "LEAK_TYPED_TEL", "url": "https://example.com/LEAK_TYPED_URL",
		"ta": "LEAK_TYPED_TEXTAREA", "ce": "LEAK_TYPED_CONTENTEDITABLE",
		"opencard": "LEAK_TYPED_CARD_IN_UNMASK", "openotp": "LEAK_TYPED_OTP_IN_UNMASK", "openpw": "LEAK_TYPED_PW_IN_UNMASK",
		"open": "SHOWN_TYPED_IN_UNMASK",
	}
	ids := make([]string, 0, len(typed))
	for id := range typed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		do(t, ctx, chromedp.SendKeys(chromedp.ID(id), typed[id]))
	}
	// A field inside the shadow root, typed with real key events.
	eval[chromedp.Void](t, ctx, `document.getElementById('host').shadowRoot.getElementById('sin').focus()`)
	do(t, ctx, chromedp.KeyEvent("LEAK_TYPED_SHADOW"))
	do(t, ctx, chromedp.Click(chromedp.ID("cb")), chromedp.Click(chromedp.ID("radio")))
	eval[chromedp.Void](t, ctx, `lateMutations()`)
	do(t, ctx, chromedp.KeyEvent("\t"))

	// Batches go out every second: wait for one more, then leave the page
	// (which flushes the rest) and wait for the store.
	before := len(s.Segments())
	waitFor(t, 15*time.Second, "segments after the interactions", func() bool { return len(s.Segments()) >= before+1 })
	r := settle(t, ctx, s)
	allAccepted(t, s)
	rec := leakRecording{wire: joined(t, s.Segments()), stored: string(s.StoredEvents(t, r.ID)), disk: s.OnDisk(t)}
	if dir := os.Getenv("REPLAYGATE_E2E_DUMP"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, t.Name()+".wire.json"), []byte(rec.wire), 0o600)
		_ = os.WriteFile(filepath.Join(dir, t.Name()+".stored.json"), []byte(rec.stored), 0o600)
	}
	return rec
}

func uniqueMarkers(all string) []string {
	seen := map[string]bool{}
	var uniq []string
	for _, l := range markerRE.FindAllString(all, -1) {
		if !seen[l] {
			seen[l] = true
			uniq = append(uniq, l)
		}
	}
	sort.Strings(uniq)
	return uniq
}

// TestNoMarkerLeaks checks the browser-side masking on its own (the wire,
// before the edge scrubber), the stored recording, and every file
// replaygate wrote.
func TestNoMarkerLeaks(t *testing.T) {
	s := startStack(t)
	rec := recordLeakPage(t, s)
	if leaks := uniqueMarkers(rec.disk); len(leaks) > 0 {
		t.Errorf("%d marker(s) in replaygate's data dir: %s", len(leaks), strings.Join(leaks, " "))
	}
	if !strings.Contains(rec.disk, "SHOWN_UNMASKED_TEXT") {
		t.Error("data dir scan found no recording at all")
	}
	for _, where := range []struct{ name, data string }{{"ingest (wire)", rec.wire}, {"the store", rec.stored}} {
		if leaks := uniqueMarkers(where.data); len(leaks) > 0 {
			t.Errorf("%d marker(s) reached %s: %s", len(leaks), where.name, strings.Join(leaks, " "))
		}
		for _, shown := range []string{"SHOWN_UNMASKED_TEXT", "SHOWN_DATA_UNMASK", "SHOWN_LATE_UNMASKED", "SHOWN_TYPED_IN_UNMASK"} {
			if !strings.Contains(where.data, shown) {
				t.Errorf("unmasked %q did not reach %s", shown, where.name)
			}
		}
		// The routes were recorded, only without their text.
		for _, want := range []string{`"rr_width"`, `"source":5`, `"replaygate/network"`, `/api/ping?token=`, `/leak.html?token=\u0026page=`} {
			if !strings.Contains(where.data, want) && !strings.Contains(where.data, strings.ReplaceAll(want, `\u0026`, "&")) {
				t.Errorf("expected %s in the recording at %s", want, where.name)
			}
		}
	}
}

// TestLeakHarnessControl proves the harness would see leaks: with text and
// input masking switched off by config, page text and typed values arrive,
// on the wire and in the store — while attributes, URLs, CSS, comments and
// sensitive fields stay private.
func TestLeakHarnessControl(t *testing.T) {
	s := startStack(t, func(c *config.Config) {
		c.Web.Recording.MaskAllText = false
		c.Web.Recording.MaskAllInputs = false
	})
	rec := recordLeakPage(t, s)
	for _, where := range []struct{ name, data string }{{"ingest (wire)", rec.wire}, {"the store", rec.stored}} {
		got := func(m string) bool { return strings.Contains(where.data, m) }
		for _, m := range []string{"LEAK_TEXT_HEADING", "LEAK_LATE_TEXT", "LEAK_TYPED_TEXT", "LEAK_SHADOW_TEXT"} {
			if !got(m) {
				t.Errorf("control: %s should reach %s with masking off", m, where.name)
			}
		}
		for _, m := range []string{
			"LEAK_TYPED_PASSWORD", "LEAK_TYPED_CARD_IN_UNMASK", "LEAK_TYPED_OTP_IN_UNMASK", "LEAK_HIDDEN_VALUE",
			"LEAK_ATTR_TITLE", "LEAK_HREF_QUERY", "LEAK_CSS_CONTENT", "LEAK_HTML_COMMENT", "LEAK_FETCH_QUERY",
			"LEAK_MASK_INSIDE_UNMASK", "LEAK_PAGE_QUERY", "LEAK_IFRAME_SRCDOC",
		} {
			if got(m) {
				t.Errorf("control: %s must stay private even with masking off (found at %s)", m, where.name)
			}
		}
	}
}

// TestStrictCSPPage loads a page whose own strict nonce CSP would block any
// foreign script: replaygate must add its nonce to the policy and the tag.
func TestStrictCSPPage(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/csp-strict.html")
	csp := s.CSP("/csp-strict.html")
	gateNonce := eval[string](t, ctx, `document.querySelector('script[src="`+prefix+`/gate.js"]').nonce`)
	if gateNonce == "" || !strings.Contains(csp, "'nonce-"+gateNonce+"'") {
		t.Errorf("gate nonce %q not in the CSP the browser got: %q", gateNonce, csp)
	}
	var scriptSrc string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			scriptSrc = strings.TrimSpace(d)
		}
	}
	siteNonce := eval[string](t, ctx, `[...document.scripts].find((s) => !s.src).nonce`)
	if want := "script-src 'nonce-" + siteNonce + "' 'strict-dynamic' 'nonce-" + gateNonce + "'"; scriptSrc != want {
		t.Errorf("script-src should keep the site's nonce and add ours, nothing else:\n got %q\nwant %q", scriptSrc, want)
	}
	if !eval[bool](t, ctx, `[...document.scripts].some(s => s.src.includes('/recorder.') && s.nonce !== '')`) {
		t.Error("recorder script element carries no nonce")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	waitFor(t, 10*time.Second, "a second accepted segment", func() bool { return len(s.Accepted()) >= 2 })
	if v := eval[[]string](t, ctx, `window.__violations`); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
	r := settle(t, ctx, s)
	allAccepted(t, s)
	if len(r.URLs) == 0 || !strings.HasSuffix(r.URLs[0], "/csp-strict.html") {
		t.Errorf("stored replay urls = %v", r.URLs)
	}
}

func TestTwoNavigationsKeepReplayID(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	waitFor(t, 10*time.Second, "segments of page 1", func() bool { return len(s.Segments()) >= 2 })
	do(t, ctx, chromedp.Click(chromedp.ID("next")))
	waitFor(t, 10*time.Second, "snapshot of page 2", func() bool { return eventTypes(t, s.Segments())[2] >= 2 })
	do(t, ctx, chromedp.Click(chromedp.ID("next")))
	waitFor(t, 10*time.Second, "snapshot of page 3", func() bool { return eventTypes(t, s.Segments())[2] >= 3 })
	r := settle(t, ctx, s)
	allAccepted(t, s)

	segs := s.Segments()
	seqs := map[int]bool{}
	for _, sg := range segs {
		if sg.Replay != segs[0].Replay {
			t.Fatalf("replay id changed across navigations: %s then %s", segs[0].Replay, sg.Replay)
		}
		if seqs[sg.Seq] {
			t.Fatalf("segment number %d used twice", sg.Seq)
		}
		seqs[sg.Seq] = true
	}
	var hrefs []string
	for _, e := range events(t, segs) {
		if e.Type == 4 {
			var m struct{ Href string }
			_ = json.Unmarshal(e.Data, &m)
			hrefs = append(hrefs, strings.TrimPrefix(m.Href, s.URL))
		}
	}
	if strings.Join(hrefs, " ") != "/index.html /nav2.html /index.html" {
		t.Errorf("Meta hrefs = %v", hrefs)
	}
	// The store has them as one replay: every segment, both pages.
	if r.ID != segs[0].Replay || r.Segments != len(segs) {
		t.Errorf("stored replay %s has %d segments, want %s with %d", r.ID, r.Segments, segs[0].Replay, len(segs))
	}
	var urls []string
	for _, u := range r.URLs {
		urls = append(urls, strings.TrimPrefix(u, s.URL))
	}
	if strings.Join(urls, " ") != "/index.html /nav2.html" {
		t.Errorf("stored urls = %v, want /index.html /nav2.html", r.URLs)
	}
	if n := len(s.Replays(t)); n != 1 {
		t.Errorf("store lists %d replays, want 1", n)
	}
}

// TestEdgeScrubberCleansUnmaskedText: text the site unmasks leaves the
// browser as it is, personal data included; replaygate's edge scrubber
// must take it out before anything is stored.
func TestEdgeScrubberCleansUnmaskedText(t *testing.T) {
	s := startStack(t)
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/unmask-pii.html")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("open"), "typed mail sam.poe@example.net"), chromedp.Click(chromedp.ID("bump")))
	waitFor(t, 10*time.Second, "the console event", func() bool {
		return len(customEvents(t, s.Segments(), "replaygate/console")) > 0
	})
	r := settle(t, ctx, s)
	allAccepted(t, s)
	wire, stored, disk := joined(t, s.Segments()), string(s.StoredEvents(t, r.ID)), s.OnDisk(t)
	pii := []string{"jane.doe@example.com", "4111 1111 1111 1111", "DE89370400440532013000", "john.roe@example.org", "sam.poe@example.net"}
	for _, v := range pii {
		if !strings.Contains(wire, v) {
			t.Errorf("%q did not leave the browser: the page unmasks it, so this test checks nothing", v)
		}
		if strings.Contains(stored, v) {
			t.Errorf("%q reached the store", v)
		}
		if strings.Contains(disk, v) {
			t.Errorf("%q written to replaygate's data dir", v)
		}
	}
	if !strings.Contains(stored, "SHOWN_CONTEXT") || !strings.Contains(stored, "typed mail") {
		t.Error("the scrubber removed more than the personal data")
	}
}
