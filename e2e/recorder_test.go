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
	"github.com/replaygate/replaygate/inject/web"
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

// recordLeakPage opens testdata/leak.html, which plants a distinct LEAK_*
// marker in every known leak route, accepts, types into every field,
// triggers late mutations and network calls, and returns everything that
// reached the ingest endpoint.
func recordLeakPage(t *testing.T, s *Stack) string {
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

	// Batches go out every second: wait for one more, then for a quiet period.
	before := len(s.Segments())
	waitFor(t, 15*time.Second, "segments after the interactions", func() bool { return len(s.Segments()) >= before+1 })
	time.Sleep(2500 * time.Millisecond)
	all := joined(s.Segments())
	if dir := os.Getenv("REPLAYGATE_E2E_DUMP"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, t.Name()+".json"), []byte(all), 0o600)
	}
	return all
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

func TestNoMarkerLeaks(t *testing.T) {
	s := startStack(t, stackOptions{})
	all := recordLeakPage(t, s)
	if leaks := uniqueMarkers(all); len(leaks) > 0 {
		t.Errorf("%d marker(s) reached ingest: %s", len(leaks), strings.Join(leaks, " "))
	}
	for _, shown := range []string{"SHOWN_UNMASKED_TEXT", "SHOWN_DATA_UNMASK", "SHOWN_LATE_UNMASKED", "SHOWN_TYPED_IN_UNMASK"} {
		if !strings.Contains(all, shown) {
			t.Errorf("unmasked %q did not arrive", shown)
		}
	}
	// The routes were recorded, only without their text.
	for _, want := range []string{`"rr_width"`, `"source":5`, `"replaygate/network"`, `/api/ping?token=`, `/leak.html?token=\u0026page=`} {
		if !strings.Contains(all, want) && !strings.Contains(all, strings.ReplaceAll(want, `\u0026`, "&")) {
			t.Errorf("expected %s in the recording", want)
		}
	}
}

// TestLeakHarnessControl proves the harness would see leaks: with text and
// input masking switched off by config, page text and typed values arrive —
// while attributes, URLs, CSS, comments and sensitive fields stay private.
func TestLeakHarnessControl(t *testing.T) {
	s := startStack(t, stackOptions{cfg: func(c *web.Config) {
		c.Recording.MaskAllText = false
		c.Recording.MaskAllInputs = false
	}})
	all := recordLeakPage(t, s)
	got := func(m string) bool { return strings.Contains(all, m) }
	for _, m := range []string{"LEAK_TEXT_HEADING", "LEAK_LATE_TEXT", "LEAK_TYPED_TEXT", "LEAK_SHADOW_TEXT"} {
		if !got(m) {
			t.Errorf("control: %s should arrive with masking off", m)
		}
	}
	for _, m := range []string{
		"LEAK_TYPED_PASSWORD", "LEAK_TYPED_CARD_IN_UNMASK", "LEAK_TYPED_OTP_IN_UNMASK", "LEAK_HIDDEN_VALUE",
		"LEAK_ATTR_TITLE", "LEAK_HREF_QUERY", "LEAK_CSS_CONTENT", "LEAK_HTML_COMMENT", "LEAK_FETCH_QUERY",
		"LEAK_MASK_INSIDE_UNMASK", "LEAK_PAGE_QUERY", "LEAK_IFRAME_SRCDOC",
	} {
		if got(m) {
			t.Errorf("control: %s must stay private even with masking off", m)
		}
	}
}

func TestStrictCSPPage(t *testing.T) {
	s := startStack(t, stackOptions{})
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/csp-strict.html")
	nonce := eval[bool](t, ctx, `[...document.scripts].some(s => s.src.includes('/recorder.') && s.nonce !== '')`)
	if !nonce {
		t.Error("recorder script element carries no nonce")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	waitFor(t, 10*time.Second, "a second segment", func() bool { return len(s.Segments()) >= 2 })
	if v := eval[[]string](t, ctx, `window.__violations`); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
}

func TestTwoNavigationsKeepReplayID(t *testing.T) {
	s := startStack(t, stackOptions{})
	ctx := newBrowser(t)
	accept(t, ctx, s, s.URL+"/index.html")
	do(t, ctx, chromedp.Click(chromedp.ID("bump")))
	waitFor(t, 10*time.Second, "segments of page 1", func() bool { return len(s.Segments()) >= 2 })
	do(t, ctx, chromedp.Click(chromedp.ID("next")))
	waitFor(t, 10*time.Second, "snapshot of page 2", func() bool { return eventTypes(t, s.Segments())[2] >= 2 })
	do(t, ctx, chromedp.Click(chromedp.ID("next")))
	waitFor(t, 10*time.Second, "snapshot of page 3", func() bool { return eventTypes(t, s.Segments())[2] >= 3 })

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
}
