package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/inject"
)

// stack is a front handler on a real listener in front of a real upstream.
type stack struct {
	front    *Front
	srv      *httptest.Server
	upstream *httptest.Server
	logs     *syncBuffer
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

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// accessLogs waits for the first access log line (written in batches,
// accesslog.go) and returns the log.
func (s *stack) accessLogs(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.logs.String(), `"message":"request"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line: %s", s.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.logs.String()
}

func newStack(t *testing.T, upstream http.Handler, mutate func(*Config, *Options)) *stack {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	return newStackTo(t, up, mutate)
}

func newStackTo(t *testing.T, up *httptest.Server, mutate func(*Config, *Options)) *stack {
	t.Helper()
	cfg := DefaultConfig()
	cfg.TrustedProxies = nil
	opts := Options{Prefix: "/__replay", Endpoints: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Own", "yes")
		io.WriteString(w, "own endpoint")
	})}
	if mutate != nil {
		mutate(&cfg, &opts)
	}
	u, _ := url.Parse(up.URL)
	logs := &syncBuffer{}
	f, err := New(cfg, u, opts, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return &stack{front: f, srv: srv, upstream: up, logs: logs}
}

// forbidden is a server that fails the test if anything reaches it.
func forbidden(t *testing.T) *httptest.Server {
	t.Helper()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(func() {
		s.Close()
		if n := hits.Load(); n != 0 {
			t.Errorf("forbidden server saw %d requests", n)
		}
	})
	return s
}

// rawRequest writes a raw HTTP/1.1 request and returns the response.
func rawRequest(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestOnlyUpstreamIsContacted(t *testing.T) {
	other := forbidden(t)
	otherHost := strings.TrimPrefix(other.URL, "http://")
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream:"+r.URL.Path)
	}), nil)
	addr := strings.TrimPrefix(s.srv.URL, "http://")

	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantBody   string
	}{
		{"connect", "CONNECT " + otherHost + " HTTP/1.1\r\nHost: " + otherHost + "\r\n\r\n", 405, "CONNECT is not supported"},
		{"absolute form", "GET http://" + otherHost + "/secret HTTP/1.1\r\nHost: " + otherHost + "\r\nConnection: close\r\n\r\n", 200, "upstream:/secret"},
		{"absolute form https", "GET https://" + otherHost + "/x HTTP/1.1\r\nHost: " + otherHost + "\r\nConnection: close\r\n\r\n", 200, "upstream:/x"},
		{"own prefix", "GET /__replay/gate.js HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, "own endpoint"},
		{"prefix lookalike goes upstream", "GET /__replayx HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, "upstream:/__replayx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, addr, tt.raw)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestPrefixNeverReachesUpstream(t *testing.T) {
	up := forbidden(t)
	s := newStackTo(t, up, nil)
	for _, p := range []string{"/__replay", "/__replay/", "/__replay/ingest?replay=1", "/__replay/../__replay/x"} {
		resp, err := http.Get(s.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Own") != "yes" {
			t.Errorf("%s: not served by own endpoints (status %d)", p, resp.StatusCode)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	var got http.Header
	var gotHost string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone(); gotHost = r.Host })
	tests := []struct {
		name      string
		trusted   []string
		preserve  bool
		in        http.Header
		wantXFF   string
		wantProto string
		wantHost  string
		upHost    bool
	}{
		{"untrusted replaces", nil, true, http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil"}}, "127.0.0.1", "http", "example.test", false},
		{"trusted appends", []string{"127.0.0.0/8"}, true, http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"}}, "203.0.113.9, 127.0.0.1", "https", "shop.example", false},
		{"host rewritten", nil, false, nil, "127.0.0.1", "http", "example.test", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, h, func(c *Config, _ *Options) { c.TrustedProxies = tt.trusted; c.PreserveHost = tt.preserve })
			req, _ := http.NewRequest("GET", s.srv.URL+"/p", nil)
			req.Host = "example.test"
			for k, v := range tt.in {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if g := got.Get("X-Forwarded-For"); g != tt.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", g, tt.wantXFF)
			}
			if g := got.Get("X-Forwarded-Proto"); g != tt.wantProto {
				t.Errorf("X-Forwarded-Proto = %q, want %q", g, tt.wantProto)
			}
			if g := got.Get("X-Forwarded-Host"); g != tt.wantHost {
				t.Errorf("X-Forwarded-Host = %q, want %q", g, tt.wantHost)
			}
			wantHost := "example.test"
			if tt.upHost {
				wantHost = strings.TrimPrefix(s.upstream.URL, "http://")
			}
			if gotHost != wantHost {
				t.Errorf("Host = %q, want %q", gotHost, wantHost)
			}
		})
	}
}

// rawUpstream answers every request with the given raw response head and
// records the request headers it received.
func rawUpstream(t *testing.T, head string) (*httptest.Server, func() http.Header) {
	t.Helper()
	var mu sync.Mutex
	var got http.Header
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		buf.WriteString(head)
		buf.Flush()
	}))
	t.Cleanup(s.Close)
	return s, func() http.Header { mu.Lock(); defer mu.Unlock(); return got }
}

func TestHopByHopStrippedBothWays(t *testing.T) {
	up, gotHeaders := rawUpstream(t, "HTTP/1.1 200 OK\r\nConnection: X-Up-Hop\r\nX-Up-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-End: kept\r\nContent-Length: 2\r\n\r\nok")
	s := newStackTo(t, up, nil)
	resp := rawRequest(t, strings.TrimPrefix(s.srv.URL, "http://"),
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Hop\r\nX-Hop: secret\r\nTe: gzip\r\nProxy-Authorization: x\r\nKeep-Alive: 1\r\nX-End: kept\r\n\r\n")
	resp.Body.Close()
	got := gotHeaders()
	for _, h := range []string{"X-Hop", "Te", "Proxy-Authorization", "Keep-Alive", "Connection"} {
		if v := got.Get(h); v != "" {
			t.Errorf("upstream saw hop-by-hop %s: %q", h, v)
		}
	}
	if got.Get("X-End") != "kept" {
		t.Error("end-to-end request header lost")
	}
	for _, h := range []string{"X-Up-Hop", "Keep-Alive"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("client saw hop-by-hop %s: %q", h, v)
		}
	}
	if resp.Header.Get("X-End") != "kept" {
		t.Error("end-to-end response header lost")
	}
}

func TestUpstreamFailuresAreGeneric(t *testing.T) {
	t.Run("down", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		cfg := DefaultConfig()
		u, _ := url.Parse("http://" + addr)
		logs := &syncBuffer{}
		f, err := New(cfg, u, Options{Prefix: "/__replay"}, zerolog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(f)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if string(body) != `{"error":"upstream unavailable"}`+"\n" {
			t.Fatalf("body %q leaks details", body)
		}
		if !strings.Contains(logs.String(), "upstream request failed") {
			t.Error("failure not logged")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }),
			func(c *Config, _ *Options) { c.ResponseHeaderTimeout = 50 * time.Millisecond })
		defer close(release)
		resp, err := http.Get(s.srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 504 || strings.Contains(string(body), "timeout awaiting") {
			t.Fatalf("got %d %q, want generic 504", resp.StatusCode, body)
		}
	})
}

// TestStreaming checks that the first chunk reaches the client while the
// upstream still holds the rest back: ordering by channels, not timing.
func TestStreaming(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "text/plain", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			release := make(chan struct{})
			s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, "data: first\n\n")
				w.(http.Flusher).Flush()
				<-release
				io.WriteString(w, "data: last\n\n")
			}), nil)
			resp, err := http.Get(s.srv.URL + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Fatalf("first chunk: %q %v", line, err)
			}
			close(release)
			rest, _ := io.ReadAll(br)
			if !strings.Contains(string(rest), "data: last") {
				t.Fatalf("rest %q", rest)
			}
		})
	}
}

func TestRequestBodyStreams(t *testing.T) {
	gotFirst := make(chan string, 1)
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		io.ReadFull(r.Body, buf)
		gotFirst <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(buf)+string(rest))
	}), nil)
	pr, pw := io.Pipe()
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post(s.srv.URL+"/upload", "text/plain", pr)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		done <- resp
	}()
	pw.Write([]byte("hello"))
	if got := <-gotFirst; got != "hello" {
		t.Fatalf("upstream got %q", got)
	}
	pw.Write([]byte(" world"))
	pw.Close()
	resp := <-done
	if resp == nil {
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello world" {
		t.Fatalf("echo %q", b)
	}
}

func TestWebSocketEcho(t *testing.T) {
	up := websocket.Upgrader{}
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte("echo:"), msg...))
		}
	}), nil)
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v (resp %v)", err, resp)
	}
	defer c.Close()
	for _, m := range []string{"one", "two", strings.Repeat("x", 100000)} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "echo:"+m {
			t.Fatalf("got %.40q %v", got, err)
		}
	}
}

// TestNoHijackNoPanic drives the handler with a writer that cannot be
// hijacked (as on HTTP/2) while the upstream accepts a WebSocket upgrade.
func TestNoHijackNoPanic(t *testing.T) {
	up := websocket.Upgrader{}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			if c, err := up.Upgrade(w, r, nil); err == nil {
				c.Close()
			}
			return
		}
		io.WriteString(w, "plain")
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	f, err := New(DefaultConfig(), u, Options{Prefix: "/__replay"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req) // must not panic
	if rec.Code == http.StatusSwitchingProtocols {
		t.Fatal("upgrade answered on a writer that cannot be hijacked")
	}

	// And over real HTTP/2 with TLS.
	srv := httptest.NewUnstartedServer(f)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "plain" {
		t.Fatalf("h2 relay: proto %d body %q", resp.ProtoMajor, b)
	}
}

func TestEarlyHintsAndTrailers(t *testing.T) {
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(200)
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}), nil)
	var hints []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == 103 {
				hints = append(hints, h.Get("Link"))
			}
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", s.srv.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(hints) != 1 || !strings.Contains(hints[0], "style.css") {
		t.Errorf("early hints %q", hints)
	}
	if resp.Header.Get("Link") != "" {
		t.Error("103 headers leaked into the final response")
	}
	if resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("trailer %q", resp.Trailer.Get("X-Checksum"))
	}
}

func TestAccessLogOmitsQueryAndCookies(t *testing.T) {
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), nil)
	req, _ := http.NewRequest("GET", s.srv.URL+"/account?email=a%40b.c&token=s3cr3t", nil)
	req.Header.Set("Cookie", "session=c00kie")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	logs := s.accessLogs(t)
	for _, secret := range []string{"s3cr3t", "a%40b", "c00kie", "email="} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q: %s", secret, logs)
		}
	}
	for _, want := range []string{`"path":"/account"`, `"status":200`, `"bytes":2`, `"method":"GET"`, `"duration"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s: %s", want, logs)
		}
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	inFlight := make(chan struct{})
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-release
		io.WriteString(w, "finished")
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	f, _ := New(DefaultConfig(), u, Options{Prefix: "/__replay"}, zerolog.Nop())
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- (&Server{Name: "public", Handler: f, ShutdownTimeout: 5 * time.Second, Log: zerolog.Nop()}).Serve(ctx, ln)
	}()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-inFlight
	cancel()
	// New connections are refused once shutdown starts.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if g := <-got; g != "finished" {
		t.Fatalf("in-flight request got %q", g)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// holdRewriter takes every response and makes its body wait for release,
// like an injector still searching for its insertion point.
type holdRewriter struct{ release chan struct{} }

func (holdRewriter) PrepareRequest(*http.Request) {}
func (h holdRewriter) Rewrite(resp *http.Response) bool {
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(readerFunc(func(p []byte) (int, error) { <-h.release; return 0, io.EOF }), body), body}
	resp.Header.Del("Content-Length")
	return true
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestRewrittenHeadersLeaveAtOnce: the visitor gets the response headers
// before the rewriter has produced any body (time to first byte).
func TestRewrittenHeadersLeaveAtOnce(t *testing.T) {
	h := holdRewriter{release: make(chan struct{})}
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html><head></head></html>")
	}), func(_ *Config, o *Options) { o.Rewriter = h })
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(s.srv.URL + "/") // returns once headers arrive
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	var resp *http.Response
	select {
	case resp = <-got:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("response headers waited for the rewritten body")
	}
	close(h.release)
	if resp == nil {
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "<html><head></head></html>" {
		t.Fatalf("body %q", b)
	}
}

// flushLog is a ResponseWriter that records, for every flush, how many
// body bytes had been written by then.
type flushLog struct {
	discardWriter
	mu      sync.Mutex
	written int
	flushes []int
}

func (f *flushLog) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written += len(p)
	return len(p), nil
}

func (f *flushLog) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes = append(f.flushes, f.written)
}

func (f *flushLog) log() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.flushes)
}

// TestHeldHeaders: the headers of a streamed rewritten response leave with
// its first body bytes when those come within the hold, and alone, once,
// when they do not.
func TestHeldHeaders(t *testing.T) {
	rewritten := func(hold time.Duration) (*responseWriter, *flushLog) {
		fl := &flushLog{discardWriter: discardWriter{http.Header{}}}
		return &responseWriter{ResponseWriter: fl, hold: hold, state: &requestState{rewritten: true}}, fl
	}

	w, fl := rewritten(time.Hour)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("<html><head><script>"))
	w.release()
	if got := fl.log(); !slices.Equal(got, []int{20}) {
		t.Errorf("prompt body: flushes after %v bytes, want one, with the body ([20])", got)
	}

	w, fl = rewritten(time.Millisecond)
	w.WriteHeader(http.StatusOK)
	deadline := time.Now().Add(10 * time.Second)
	for len(fl.log()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	w.Write([]byte("late"))
	w.release()
	if got := fl.log(); !slices.Equal(got, []int{0, 4}) {
		t.Errorf("slow body: flushes after %v bytes, want the headers alone, then the body ([0 4])", got)
	}

	// Ending the handler ends the hold, even one firing right then:
	// nothing touches the writer after.
	for range 100 {
		w, fl = rewritten(0)
		w.WriteHeader(http.StatusOK)
		w.release()
		before := len(fl.log())
		time.Sleep(time.Millisecond)
		if after := len(fl.log()); after != before {
			t.Fatalf("%d flushes before the handler returned, %d after", before, after)
		}
	}
}

// readSizes is a Rewriter that streams every body through a reader
// recording the largest read asked of it.
type readSizes struct {
	mu  sync.Mutex
	max int
}

func (*readSizes) PrepareRequest(*http.Request) {}
func (r *readSizes) Rewrite(resp *http.Response) bool {
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{readerFunc(func(p []byte) (int, error) {
		r.mu.Lock()
		r.max = max(r.max, len(p))
		r.mu.Unlock()
		return body.Read(p)
	}), body}
	resp.Header.Del("Content-Length")
	return true
}

// TestRewrittenBodiesCopiedInLargeReads: a streamed rewritten body is
// relayed through the 64 KiB buffers, so a spliced page's reads bypass
// the transport's 32 KiB buffer in large pieces.
func TestRewrittenBodiesCopiedInLargeReads(t *testing.T) {
	rs := &readSizes{}
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("<p>page</p>", 20000))
	}), func(_ *Config, o *Options) { o.Rewriter = rs })
	resp, err := http.Get(s.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.max != 64<<10 {
		t.Fatalf("largest read %d bytes, want %d", rs.max, 64<<10)
	}
}

// discardWriter is a ResponseWriter that drops the body.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// TestCopyUsesPooledBuffer: the engine relays bodies with io.Copy into our
// writer; that must not allocate a fresh 32 KiB buffer per response.
func TestCopyUsesPooledBuffer(t *testing.T) {
	body := strings.Repeat("x", 200<<10)
	rw := &responseWriter{ResponseWriter: discardWriter{http.Header{"Content-Length": {"204800"}}}}
	src := strings.NewReader(body)
	io.Copy(rw, struct{ io.Reader }{src}) // warm the pool
	const n = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		src.Reset(body)
		// Hide strings.Reader's WriterTo, as a response body has none.
		if c, err := io.Copy(rw, struct{ io.Reader }{src}); err != nil || c != int64(len(body)) {
			t.Fatalf("copied %d, %v", c, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per >= 16<<10 {
		t.Errorf("io.Copy through the writer allocates %d bytes per body", per)
	}
}

// TestBrokenUpstreamBodyAborts: when the upstream connection breaks off in
// the middle of a body, the visitor's response is aborted too, whether the
// upstream declared a length or streamed chunks. Ending it normally would
// hand the browser (and any cache) a truncated page that looks complete.
func TestBrokenUpstreamBodyAborts(t *testing.T) {
	tests := []struct {
		name, head string
		rewrite    bool
	}{
		{"declared length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial", false},
		{"chunked", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n", false},
		{"chunked, rewritten", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, _ := rawUpstream(t, tt.head)
			s := newStackTo(t, up, func(_ *Config, o *Options) {
				if tt.rewrite {
					o.Rewriter = holdRewriter{release: closedChan()}
				}
			})
			// Either the headers never arrive (they were still buffered)
			// or the body ends in an error; never a complete response.
			resp, err := http.Get(s.srv.URL + "/")
			if err == nil {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Fatalf("body %q read as complete", b)
				}
			}
			if logs := s.accessLogs(t); !strings.Contains(logs, `"aborted":true`) {
				t.Errorf("access log does not say the response was aborted: %s", logs)
			}
		})
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestContentLengthKept: a relayed body keeps the upstream's
// Content-Length (the engine drops it whenever the body is wrapped), so
// the response is not turned into a chunked one.
func TestContentLengthKept(t *testing.T) {
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}), nil)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, s.srv.URL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.ContentLength != 5 || len(resp.TransferEncoding) != 0 {
			t.Fatalf("%s: Content-Length %d, Transfer-Encoding %v, body %q, %v", method, resp.ContentLength, resp.TransferEncoding, b, err)
		}
	}
}

// TestBrokenSmallPageIs502: a small page is read whole before anything is
// sent, so when its upstream body breaks off the visitor gets a clean,
// generic 502 rather than a 200 that is aborted halfway.
func TestBrokenSmallPageIs502(t *testing.T) {
	up, _ := rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<html><head>")
	icfg := inject.DefaultConfig()
	icfg.Prefix = "/__replay"
	rw, err := inject.New(icfg, inject.DefaultMarkup("/__replay"), zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStackTo(t, up, func(_ *Config, o *Options) { o.Rewriter = rw })
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusBadGateway || strings.TrimSpace(string(b)) != `{"error":"upstream unavailable"}` {
		t.Fatalf("%d %q %v", resp.StatusCode, b, err)
	}
}

// TestLargePrecompressedPageIsSpliced: through the whole proxy, a large
// page is first asked uncompressed, then (its path now known) asked for
// gzip, which the upstream sends precompressed; the visitor gets a valid
// gzip page with the gate either way.
func TestLargePrecompressedPageIsSpliced(t *testing.T) {
	var doc bytes.Buffer
	doc.WriteString("<!doctype html><html><head><title>big</title></head><body>")
	for i := 0; doc.Len() < 600<<10; i++ {
		fmt.Fprintf(&doc, "<p data-i=%d>row %d of the catalogue</p>\n", i, i*7919%100003)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc.Bytes())
	zw.Close()
	var seen []string
	var mu sync.Mutex
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Last-Modified", "Sat, 28 Nov 2026 00:00:00 GMT") // a file
		body := doc.Bytes()
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			body = gz.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	icfg := inject.DefaultConfig()
	icfg.Prefix = "/__replay"
	rw, err := inject.New(icfg, inject.DefaultMarkup("/__replay"), zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, up, func(_ *Config, o *Options) { o.Rewriter = rw })
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/catalogue", nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Encoding", "gzip, br")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("load %d: %q, %v", i, resp.Header.Get("Content-Encoding"), err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(zr)
		if err != nil || !bytes.Contains(page, []byte("/__replay/gate.js")) || !bytes.HasSuffix(page, doc.Bytes()[doc.Len()-1000:]) {
			t.Fatalf("load %d: %d bytes, %v", i, len(page), err)
		}
	}
	if got := strings.Join(seen, ","); got != "identity,gzip,gzip" {
		t.Fatalf("upstream saw Accept-Encoding %s, want identity,gzip,gzip", got)
	}
}

// TestBodyFailingWhileHeldIs502: a streamed rewritten body that fails
// before its first bytes, while the headers are held, leaves nothing sent:
// the visitor gets a clean, generic 502 instead of a broken connection,
// and no header of the failed response leaks into it. With the real
// injector: a page that breaks off while its insertion point is sought.
func TestBodyFailingWhileHeldIs502(t *testing.T) {
	icfg := inject.DefaultConfig()
	icfg.Prefix = "/__replay"
	injector, err := inject.New(icfg, inject.DefaultMarkup("/__replay"), zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, head string
		rewriter   Rewriter
	}{
		{"nothing before the break", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Upstream: 1\r\nContent-Length: 100\r\n\r\n",
			holdRewriter{release: closedChan()}},
		{"injector, page cut short", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Upstream: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<html\r\n",
			injector},
		// The engine flushes to announce trailers even after a failed copy.
		{"trailer announced", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Upstream: 1\r\nTrailer: Server-Timing\r\nTransfer-Encoding: chunked\r\n\r\n",
			holdRewriter{release: closedChan()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, _ := rawUpstream(t, tt.head)
			s := newStackTo(t, up, func(_ *Config, o *Options) { o.Rewriter = tt.rewriter })
			s.front.hold = time.Minute // the break, however slow, comes within the hold
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/", nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusBadGateway || strings.TrimSpace(string(b)) != `{"error":"upstream unavailable"}` {
				t.Fatalf("%d %q %v", resp.StatusCode, b, err)
			}
			if resp.Header.Get("X-Upstream") != "" || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers of the failed response kept: %v", resp.Header)
			}
			if logs := s.accessLogs(t); !strings.Contains(logs, `"status":502`) || strings.Contains(logs, `"aborted":true`) {
				t.Errorf("access log: %s", logs)
			}
		})
	}
}

// pieceRewriter streams each body as one Read of exactly n bytes, then
// blocks until proceed is closed, like an upstream that sends a piece of
// the page and then computes the rest.
type pieceRewriter struct {
	n       int
	proceed chan struct{}
}

func (pieceRewriter) PrepareRequest(*http.Request) {}
func (p pieceRewriter) Rewrite(resp *http.Response) bool {
	sent := false
	resp.Body = struct {
		io.Reader
		io.Closer
	}{readerFunc(func(b []byte) (int, error) {
		if !sent {
			sent = true
			return copy(b, strings.Repeat("x", p.n)), nil
		}
		<-p.proceed
		return 0, io.EOF
	}), resp.Body}
	resp.Header.Del("Content-Length")
	return true
}

// TestLargeWritesArrive: a streamed write that the front does not flush
// (unflushedWrite and more) still reaches the visitor in full while the
// body waits: nothing of its data stays in a server buffer, over HTTP/1.1
// (chunked) and HTTP/2.
func TestLargeWritesArrive(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, n := range []int{100, unflushedWrite, unflushedWrite + 1, 20000, 32 << 10, 64 << 10} {
			t.Run(fmt.Sprintf("h2=%v/%d", h2, n), func(t *testing.T) {
				up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					io.WriteString(w, "page")
				}))
				t.Cleanup(up.Close)
				u, _ := url.Parse(up.URL)
				cfg := DefaultConfig()
				cfg.TrustedProxies = nil
				proceed := make(chan struct{})
				t.Cleanup(func() {
					select {
					case <-proceed:
					default:
						close(proceed)
					}
				})
				f, err := New(cfg, u, Options{Prefix: "/__replay", Rewriter: pieceRewriter{n: n, proceed: proceed}}, zerolog.Nop())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(f.Close)
				srv := httptest.NewUnstartedServer(f)
				if h2 {
					srv.EnableHTTP2 = true
					srv.StartTLS()
				} else {
					srv.Start()
				}
				t.Cleanup(srv.Close)
				resp, err := srv.Client().Get(srv.URL + "/")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if h2 != (resp.ProtoMajor == 2) {
					t.Fatalf("protocol %s", resp.Proto)
				}
				got := make(chan error, 1)
				go func() {
					_, err := io.ReadFull(resp.Body, make([]byte, n))
					got <- err
				}()
				select {
				case err := <-got:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the bytes of the write stayed in a buffer while the body waited")
				}
				close(proceed)
				if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
					t.Fatalf("rest %q, %v", rest, err)
				}
			})
		}
	}
}

// TestBodyFailingAfterHoldAborts: when the hold ends before the body
// (the headers went alone) and the body then fails, the response is
// aborted: the visitor never sees a second status or a complete body.
func TestBodyFailingAfterHoldAborts(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n")
		buf.Flush()
		time.Sleep(100 * time.Millisecond) // well past the hold
	}))
	t.Cleanup(up.Close)
	s := newStackTo(t, up, func(_ *Config, o *Options) { o.Rewriter = holdRewriter{release: closedChan()} })
	resp, err := http.Get(s.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("%d %q %v; want the held 200, then a broken body", resp.StatusCode, b, err)
	}
	if logs := s.accessLogs(t); !strings.Contains(logs, `"aborted":true`) {
		t.Errorf("access log: %s", logs)
	}
}

// TestVisitorLeavingWhileHeld: a visitor who goes away while the status is
// held is not answered with a 502 nor counted as an upstream failure.
func TestVisitorLeavingWhileHeld(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(up.Close)
	s := newStackTo(t, up, func(_ *Config, o *Options) { o.Rewriter = holdRewriter{release: closedChan()} })
	s.front.hold = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got a response: %d", resp.StatusCode)
	}
	if logs := s.accessLogs(t); strings.Contains(logs, `"status":502`) || strings.Contains(logs, "upstream body failed") || !strings.Contains(logs, `"aborted":true`) {
		t.Errorf("access log: %s", logs)
	}
}

// TestOwnCookiesKeptFromUpstream: replaygate's own cookies never reach the
// upstream; the site's cookies do, unchanged, also when the client split
// them over several Cookie headers (as HTTP/2 does).
func TestOwnCookiesKeptFromUpstream(t *testing.T) {
	got := make(chan []string, 1)
	s := newStack(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Values("Cookie")
	}), func(_ *Config, o *Options) { o.OwnCookies = []string{"rg_consent", "rg_consent_state"} })
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"mixed", []string{"a=1; rg_consent=secret-subject; b=2; rg_consent_state=granted.1"}, []string{"a=1; b=2"}},
		{"split headers", []string{"rg_consent=secret-subject", "sid=xyz"}, []string{"sid=xyz"}},
		{"only ours", []string{"rg_consent=secret-subject;rg_consent_state=granted.1"}, nil},
		{"look-alike names kept", []string{"rg_consent_x=1; xrg_consent=2"}, []string{"rg_consent_x=1; xrg_consent=2"}},
		{"lines without ours untouched", []string{"a=1;b=2", "rg_consent =x; c=3"}, []string{"a=1;b=2", "c=3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/", nil)
			for _, v := range tt.in {
				req.Header.Add("Cookie", v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if seen := <-got; !slices.Equal(seen, tt.want) {
				t.Fatalf("upstream saw Cookie %q, want %q", seen, tt.want)
			}
		})
	}
}
