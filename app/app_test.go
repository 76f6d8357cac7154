package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/config"
	"github.com/replaygate/replaygate/demo"
	"github.com/replaygate/replaygate/internal/diskscan"
)

// running is a replaygate started through New and Run, as the CLI does.
type running struct {
	app    *App
	public string
	admin  string
	stop   func()
	client *http.Client
}

func start(t *testing.T, dataDir string, upstream string) *running {
	t.Helper()
	cfg := config.Default()
	cfg.Upstream = upstream
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.DataDir = dataDir
	a, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	jar, _ := cookiejar.New(nil)
	r := &running{app: a, public: "http://" + a.PublicAddr(), admin: "http://" + a.AdminAddr(), client: &http.Client{Jar: jar}}
	var once bool
	r.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(r.stop)
	return r
}

func (r *running) post(t *testing.T, path, ctype string, body []byte, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.public+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Origin", r.public)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (r *running) adminGet(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.app.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

const replayID = "00112233445566778899aabbccddeeff"

func segment(ts int64, text string) []byte {
	b, _ := json.Marshal([]map[string]any{
		{"type": 4, "timestamp": ts, "data": map[string]any{"href": "http://shop.test/account?token=abc123", "width": 1280, "height": 720}},
		{"type": 3, "timestamp": ts + 10, "data": map[string]any{"source": 0, "texts": []map[string]any{{"id": 7, "value": text}}}},
	})
	return b
}

// waitFor polls cond: delivery from the spool to the store is asynchronous.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPipelineEndToEnd(t *testing.T) {
	site := httptest.NewServer(demo.New())
	defer site.Close()
	dir := t.TempDir()
	r := start(t, dir, site.URL)

	// The page is relayed with the gate injected and the site's CSP given a nonce.
	req, _ := http.NewRequest("GET", r.public+"/account", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("page not gzip: %v", err)
	}
	page, _ := io.ReadAll(zr)
	resp.Body.Close()
	if n := strings.Count(string(page), `src="/__replay/gate.js"`); n != 1 {
		t.Fatalf("gate injected %d times", n)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	i := strings.Index(string(page), `src="/__replay/gate.js"`)
	tag := string(page)[strings.LastIndex(string(page)[:i], "<script"):]
	tag = tag[:strings.Index(tag, ">")]
	nonce := tag[strings.Index(tag, `nonce="`)+7:]
	nonce = nonce[:strings.Index(nonce, `"`)]
	if nonce == "" || !strings.Contains(csp, "'nonce-"+nonce+"'") {
		t.Fatalf("gate nonce %q not in CSP %q", nonce, csp)
	}

	// The gate is served from the prefix, never from the upstream.
	gresp, err := http.Get(r.public + "/__replay/gate.js")
	if err != nil {
		t.Fatal(err)
	}
	gate, _ := io.ReadAll(gresp.Body)
	gresp.Body.Close()
	if gresp.StatusCode != 200 || !strings.HasPrefix(gresp.Header.Get("Content-Type"), "text/javascript") || len(gate) < 1000 {
		t.Fatalf("gate.js: %d %q %d bytes", gresp.StatusCode, gresp.Header.Get("Content-Type"), len(gate))
	}

	// Without consent, uploads are refused and nothing is stored.
	if resp, body := r.post(t, "/__replay/ingest?replay="+replayID+"&seq=0", "application/json", segment(1764300000000, "x"), nil); resp.StatusCode != 403 {
		t.Fatalf("upload without consent: %d %s", resp.StatusCode, body)
	}
	if resp, _ := r.post(t, "/__replay/consent", "application/json", []byte(`{"decision":"granted","language":"en"}`), nil); resp.StatusCode != 204 {
		t.Fatalf("consent: %d", resp.StatusCode)
	}
	pii := "Call me at jane.doe@example.com, card 4111 1111 1111 1111"
	for seq, body := range [][]byte{segment(1764300000000, pii), gz(segment(1764300005000, "second"))} {
		hdr := map[string]string{}
		if seq == 1 {
			hdr["Content-Encoding"] = "gzip"
		}
		resp, b := r.post(t, "/__replay/ingest?replay="+replayID+"&seq="+itoa(seq), "application/json", body, hdr)
		if resp.StatusCode != 202 {
			t.Fatalf("seq %d: %d %s", seq, resp.StatusCode, b)
		}
	}
	var list struct {
		Replays []struct {
			ID       string   `json:"id"`
			Subject  string   `json:"subject"`
			Segments int      `json:"segments"`
			URLs     []string `json:"urls"`
		} `json:"replays"`
	}
	waitFor(t, "two segments in the store", func() bool {
		_, body := r.adminGet(t, "/api/replays")
		list.Replays = nil
		json.Unmarshal([]byte(body), &list)
		return len(list.Replays) == 1 && list.Replays[0].Segments == 2
	})
	if strings.Contains(strings.Join(list.Replays[0].URLs, " "), "abc123") {
		t.Errorf("token query value stored in urls: %v", list.Replays[0].URLs)
	}
	status, events := r.adminGet(t, "/api/replays/"+replayID+"/events")
	if status != 200 || !strings.Contains(events, "second") {
		t.Fatalf("events %d %s", status, events)
	}
	for _, secret := range []string{"jane.doe@example.com", "4111 1111 1111 1111", "abc123"} {
		if strings.Contains(events, secret) {
			t.Errorf("events contain %q", secret)
		}
	}
	// Nothing unscrubbed anywhere on disk, also inside the gzip members
	// embedded in the spool's and the store's records (where the scrubbed
	// text around the secrets must be found: the scan reads them).
	readStored := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("read %s: %v", p, err)
			return nil
		}
		b = diskscan.Expand(b)
		readStored = readStored || bytes.Contains(b, []byte("Call me at "))
		for _, secret := range []string{"jane.doe@example.com", "4111 1111 1111 1111"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains %q", p, secret)
			}
		}
		return nil
	})
	if !readStored {
		t.Error("the scan of the data dir did not read the stored events")
	}

	// The consent proof is exportable; withdrawal erases the recording and
	// stops further uploads.
	if status, body := r.adminGet(t, "/api/consents?subject="+list.Replays[0].Subject); status != 200 || !strings.Contains(body, `"granted"`) {
		t.Fatalf("consents %d %s", status, body)
	}
	if resp, _ := r.post(t, "/__replay/consent", "application/json", []byte(`{"decision":"denied","language":"en"}`), nil); resp.StatusCode != 204 {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	waitFor(t, "erasure", func() bool {
		status, _ := r.adminGet(t, "/api/replays/"+replayID)
		return status == 404
	})
	if resp, _ := r.post(t, "/__replay/ingest?replay="+replayID+"&seq=2", "application/json", segment(1764300009000, "after"), nil); resp.StatusCode != 403 {
		t.Fatalf("upload after withdrawal: %d", resp.StatusCode)
	}
	if status, _ := r.adminGet(t, "/metrics"); status != 200 {
		t.Fatalf("metrics %d", status)
	}
}

// TestAcceptedSurvivesRestart stops replaygate right after a 202 and
// checks the segment is delivered after the next start.
func TestAcceptedSurvivesRestart(t *testing.T) {
	site := httptest.NewServer(demo.New())
	defer site.Close()
	dir := t.TempDir()
	r := start(t, dir, site.URL)
	if resp, _ := r.post(t, "/__replay/consent", "application/json", []byte(`{"decision":"granted"}`), nil); resp.StatusCode != 204 {
		t.Fatalf("consent: %d", resp.StatusCode)
	}
	const n = 20
	for seq := 0; seq < n; seq++ {
		resp, b := r.post(t, "/__replay/ingest?replay="+replayID+"&seq="+itoa(seq), "application/json", segment(1764300000000+int64(seq)*1000, "s"), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("seq %d: %d %s", seq, resp.StatusCode, b)
		}
	}
	r.stop()
	r2 := start(t, dir, site.URL)
	waitFor(t, "all acknowledged segments after restart", func() bool {
		_, body := r2.adminGet(t, "/api/replays/"+replayID)
		return strings.Contains(body, `"segments":`+itoa(n))
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAccessLogPathsAreScrubbed(t *testing.T) {
	site := httptest.NewServer(demo.New())
	defer site.Close()
	var logs syncBuffer
	cfg := config.Default()
	cfg.Upstream = site.URL
	cfg.Listen, cfg.AdminListen, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	a, err := New(cfg, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	resp, err := http.Get("http://" + a.PublicAddr() + "/users/jane.doe@example.com/orders?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	<-done
	if strings.Contains(logs.String(), "jane.doe@example.com") || !strings.Contains(logs.String(), `"path":"/users/`) {
		t.Fatalf("access log: %s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
