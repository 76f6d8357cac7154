// Command ingestload drives replaygate's ingest endpoint the way many
// consenting browsers would: it obtains consent cookies through
// POST {prefix}/consent (same-origin), then C workers each post gzip rrweb
// segments of a given size to POST {prefix}/ingest?replay=…&seq=… for a
// duration, every (replay, seq) pair unique, and prints one JSON line:
// accepted segments per second, latency percentiles of accepted uploads,
// and the count of every status.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the printed JSON line.
type Result struct {
	Target         string         `json:"target"`
	Duration       float64        `json:"duration_s"`
	Conns          int            `json:"conns"`
	Subjects       int            `json:"subjects"`
	SegmentJSON    int            `json:"segment_json_bytes"`
	SegmentGzip    int            `json:"segment_gzip_bytes"`
	Sent           int            `json:"sent"`
	Accepted       int            `json:"accepted"`
	AcceptedPerSec float64        `json:"accepted_per_s"`
	WireMBps       float64        `json:"wire_mb_per_s"`
	JSONMBps       float64        `json:"json_mb_per_s"`
	P50            float64        `json:"p50_ms"`
	P90            float64        `json:"p90_ms"`
	P99            float64        `json:"p99_ms"`
	Max            float64        `json:"max_ms"`
	Statuses       map[string]int `json:"statuses"`
	FirstError     string         `json:"first_error,omitempty"`
	// Stored is how many accepted segments the admin API lists (local store)
	// once forwarding caught up, and StoredAfter how long that took.
	Stored      int     `json:"stored,omitempty"`
	StoredAfter float64 `json:"stored_after_s,omitempty"`
	StoredNote  string  `json:"stored_note,omitempty"`
}

type body struct{ raw, gz []byte }

// options are the command-line flags.
type options struct {
	target, prefix, sizeOf, admin, adminToken  string
	duration, drain                            time.Duration
	conns, subjects, size, variants, perReplay int
}

func main() {
	target := flag.String("target", "http://127.0.0.1:8080", "replaygate public base URL")
	prefix := flag.String("prefix", "/__replay", "replaygate endpoint prefix")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 32, "concurrent uploads (one connection each)")
	subjects := flag.Int("subjects", 0, "distinct consenting visitors, each granting consent once (default: one per connection)")
	size := flag.Int("size", 20<<10, "segment size in bytes, of the JSON (default) or of the gzip body (--size-of gzip)")
	sizeOf := flag.String("size-of", "json", "what --size measures: json or gzip")
	variants := flag.Int("variants", 64, "distinct segment bodies to cycle through")
	perReplay := flag.Int("segments-per-replay", 10, "segments per replay; each new replay belongs to the next subject in turn")
	admin := flag.String("admin", "", "admin base URL; when set, wait for the accepted segments to appear in GET /api/replays")
	adminToken := flag.String("admin-token", os.Getenv("REPLAYGATE_ADMIN_TOKEN"), "admin bearer token (env REPLAYGATE_ADMIN_TOKEN)")
	drain := flag.Duration("drain", 60*time.Second, "how long to wait for stored segments with --admin")
	flag.Parse()
	res, err := run(options{
		target: *target, prefix: *prefix, sizeOf: *sizeOf, admin: *admin, adminToken: *adminToken,
		duration: *duration, drain: *drain, conns: *conns, subjects: *subjects, size: *size, variants: *variants, perReplay: *perReplay,
	})
	if err != nil {
		log.Fatal("ingestload: ", err)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// run grants consent for the subjects, sends segments for the duration and
// summarises what the server answered.
func run(o options) (Result, error) {
	if o.subjects <= 0 {
		o.subjects = o.conns
	}
	if o.perReplay < 1 {
		o.perReplay = 10
	}
	base, err := url.Parse(strings.TrimSuffix(o.target, "/"))
	if err != nil || base.Host == "" {
		return Result{}, fmt.Errorf("--target %q must be an http URL", o.target)
	}
	bodies, err := makeBodies(o.variants, o.size, o.sizeOf)
	if err != nil {
		return Result{}, err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: o.conns + 4, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	origin := base.Scheme + "://" + base.Host
	cookies, err := consentAll(client, origin+o.prefix+"/consent", origin, o.subjects, o.conns)
	if err != nil {
		return Result{}, err
	}
	var nextSubject atomic.Int64

	res := Result{Target: o.target, Conns: o.conns, Subjects: o.subjects, Statuses: map[string]int{}}
	for _, b := range bodies {
		res.SegmentJSON += len(b.raw)
		res.SegmentGzip += len(b.gz)
	}
	res.SegmentJSON /= len(bodies)
	res.SegmentGzip /= len(bodies)

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var (
		mu                sync.Mutex
		latencies         []time.Duration
		wg                sync.WaitGroup
		wire, raw         int64
		perReplayAccepted = map[string]int{}
	)
	start := time.Now()
	for w := range o.conns {
		wg.Go(func() {
			var (
				replay   string
				cookie   string
				seq      int
				lat      []time.Duration
				status   = map[string]int{}
				firstErr string
				bw, br   int64
				mine     = map[string]int{}
			)
			for i := 0; ctx.Err() == nil; i++ {
				if i%o.perReplay == 0 {
					replay, seq = newReplayID(), 0
					cookie = cookies[int(nextSubject.Add(1)-1)%len(cookies)]
				}
				b := bodies[(w*7+i)%len(bodies)]
				u := fmt.Sprintf("%s%s/ingest?replay=%s&seq=%d", origin, o.prefix, replay, seq)
				seq++
				t0 := time.Now()
				code, err := post(ctx, client, u, origin, cookie, b.gz)
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					break // the run ended mid-request; not the server's fault
				}
				key := strconv.Itoa(code)
				if err != nil {
					key = "error"
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
				status[key]++
				if code == http.StatusAccepted {
					lat = append(lat, d)
					mine[replay]++
					bw += int64(len(b.gz))
					br += int64(len(b.raw))
				} else if firstErr == "" && err == nil {
					firstErr = fmt.Sprintf("status %d", code)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, lat...)
			for k, v := range status {
				res.Statuses[k] += v
			}
			if res.FirstError == "" {
				res.FirstError = firstErr
			}
			wire += bw
			for k, v := range mine {
				perReplayAccepted[k] += v
			}
			raw += br
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if elapsed > o.duration.Seconds() {
		elapsed = o.duration.Seconds() // requests cut off at the deadline were not counted
	}
	res.Duration = elapsed
	for _, v := range res.Statuses {
		res.Sent += v
	}
	res.Accepted = len(latencies)
	res.AcceptedPerSec = float64(res.Accepted) / elapsed
	res.WireMBps = float64(wire) / elapsed / 1e6
	res.JSONMBps = float64(raw) / elapsed / 1e6
	slices.Sort(latencies)
	res.P50, res.P90, res.P99 = ms(pct(latencies, 50)), ms(pct(latencies, 90)), ms(pct(latencies, 99))
	if len(latencies) > 0 {
		res.Max = ms(latencies[len(latencies)-1])
	}
	if o.admin != "" {
		res.Stored, res.StoredAfter, res.StoredNote = waitStored(client, strings.TrimSuffix(o.admin, "/"), o.adminToken, perReplayAccepted, o.drain)
	}
	return res, nil
}

func makeBodies(n, size int, sizeOf string) ([]body, error) {
	if n < 1 || size < 256 {
		return nil, errors.New("--variants must be ≥ 1 and --size ≥ 256")
	}
	jsonBytes, gzipBytes := size, 0
	switch sizeOf {
	case "json":
	case "gzip":
		jsonBytes, gzipBytes = 0, size
	default:
		return nil, fmt.Errorf("--size-of %q must be json or gzip", sizeOf)
	}
	out := make([]body, n)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := range out {
		wg.Go(func() {
			// One in four segments opens a replay (Meta + full snapshot).
			raw, gz, err := newSegmentGen(uint64(i)).segment(i%4 == 0, jsonBytes, gzipBytes)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[i] = body{raw, gz}
		})
	}
	wg.Wait()
	return out, firstErr
}

// consentAll obtains n consent cookies with up to par requests at once.
func consentAll(c *http.Client, endpoint, origin string, n, par int) ([]string, error) {
	cookies := make([]string, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(par, n)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				cookies[i], errs[i] = consent(c, endpoint, origin)
				if errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("consent %d: %w", i, err)
		}
	}
	return cookies, nil
}

// consent grants consent as a visitor's page would and returns the Cookie
// header value carrying every cookie set. Decisions are rate limited by the
// server, so a 429 is waited out (Retry-After, else one second) for up to
// two minutes.
func consent(c *http.Client, endpoint, origin string) (string, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cookie, retry, err := consentOnce(c, endpoint, origin)
		if retry == 0 || time.Now().Add(retry).After(deadline) {
			return cookie, err
		}
		time.Sleep(retry)
	}
}

// consentOnce posts one grant; retry is positive when the server asked to
// come back later.
func consentOnce(c *http.Client, endpoint, origin string) (cookie string, retry time.Duration, err error) {
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"decision":"granted","language":"en"}`))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode == http.StatusTooManyRequests {
		retry = time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retry = time.Duration(s) * time.Second
		}
	}
	if resp.StatusCode/100 != 2 {
		return "", retry, fmt.Errorf("POST %s: status %d %s", endpoint, resp.StatusCode, bytes.TrimSpace(msg))
	}
	var parts []string
	for _, ck := range resp.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		return "", 0, fmt.Errorf("POST %s: no Set-Cookie in the answer", endpoint)
	}
	return strings.Join(parts, "; "), 0, nil
}

func post(ctx context.Context, c *http.Client, u, origin, cookie string, gz []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(gz))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", cookie)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func newReplayID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (p*len(d) + 99) / 100
	if i < 1 {
		i = 1
	}
	return d[i-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitStored polls the admin replay list until every accepted segment of
// our replays is listed or the drain time is up. It returns the segments
// found, the seconds it took, and a note when the API could not be used.
func waitStored(c *http.Client, admin, token string, want map[string]int, drain time.Duration) (int, float64, string) {
	total := 0
	for _, v := range want {
		total += v
	}
	start := time.Now()
	found := 0
	for {
		n, err := storedSegments(c, admin, token, want)
		if err != nil {
			return found, time.Since(start).Seconds(), err.Error()
		}
		found = n
		if found >= total || time.Since(start) > drain {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	note := ""
	if found < total {
		note = fmt.Sprintf("only %d of %d accepted segments listed after %s", found, total, drain)
	}
	return found, time.Since(start).Seconds(), note
}

func storedSegments(c *http.Client, admin, token string, want map[string]int) (int, error) {
	req, err := http.NewRequest(http.MethodGet, admin+"/api/replays", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("admin GET /api/replays: status %d", resp.StatusCode)
	}
	var list struct {
		Replays []struct {
			ID       string `json:"id"`
			Segments int    `json:"segments"`
		} `json:"replays"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, fmt.Errorf("admin GET /api/replays: %w", err)
	}
	n := 0
	for _, r := range list.Replays {
		if w, ok := want[r.ID]; ok {
			n += min(r.Segments, w)
		}
	}
	return n, nil
}
