// Command ttfb measures time to first byte of one path on one or more
// peers over N rounds on kept-alive connections and prints, per peer, one
// JSON line with the median and 90th percentile of: the first response
// byte (status line), the first body byte, and the complete response.
//
// The first body byte is the honest figure for a rewriting proxy: a proxy
// can send headers at once and still hold the body back while it buffers.
//
// Peers are measured interleaved: each round fetches the path once from
// every peer, in a new random order, so that a slow spell of the machine
// (a noisy neighbour, a CPU frequency change) falls on every peer alike
// instead of on whichever ran then, and no peer always follows the same
// one (a rotating order would put every request of one peer right after
// the slowest peer's). The lines come out in the order the peers were
// given.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Result is one printed JSON line; durations are in milliseconds.
type Result struct {
	URL          string  `json:"url"`
	N            int     `json:"n"`
	HeaderP50    float64 `json:"header_p50_ms"`
	HeaderP90    float64 `json:"header_p90_ms"`
	FirstByteP50 float64 `json:"first_body_byte_p50_ms"`
	FirstByteP90 float64 `json:"first_body_byte_p90_ms"`
	TotalP50     float64 `json:"total_p50_ms"`
	TotalP90     float64 `json:"total_p90_ms"`
	BytesPerResp int64   `json:"bytes_per_response"`
	Encoding     string  `json:"encoding"`
	Non2xx       int     `json:"non2xx"`
}

type sample struct{ header, firstByte, total time.Duration }

// peer is one origin measured, with its own connection.
type peer struct {
	url, prime string
	client     *http.Client
	res        Result
	samples    []sample
}

// urls collects repeated --url flags.
type urls []string

func (u *urls) String() string     { return strings.Join(*u, " ") }
func (u *urls) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	var targets urls
	flag.Var(&targets, "url", "URL to fetch; repeat the flag to compare peers interleaved")
	n := flag.Int("n", 20, "measured rounds")
	warm := flag.Int("warmup", 2, "unmeasured rounds first")
	accept := flag.String("accept-encoding", "gzip", "Accept-Encoding request header")
	pause := flag.Duration("pause", 0, "idle time before each request (0: back to back)")
	prime := flag.String("prime", "", "path fetched (unmeasured) from the same peer right before each request, so that every peer starts from the same warm state")
	flag.Parse()
	if len(targets) == 0 || *n < 1 {
		log.Fatal("ttfb: at least one --url and --n >= 1 are required")
	}
	peers := make([]*peer, len(targets))
	for i, t := range targets {
		p := &peer{url: t, res: Result{URL: t, N: *n}}
		p.client = &http.Client{Transport: &http.Transport{DisableCompression: true, Proxy: nil, MaxIdleConnsPerHost: 1}, Timeout: 120 * time.Second}
		if *prime != "" {
			u, err := url.Parse(t)
			if err != nil {
				log.Fatalf("ttfb: --url %q: %v", t, err)
			}
			p.prime = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: *prime}).String()
		}
		peers[i] = p
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the same orders in every run
	order := make([]*peer, len(peers))
	copy(order, peers)
	for round := range *warm + *n {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, p := range order {
			if err := p.fetch(*accept, *pause, round >= *warm); err != nil {
				log.Fatalf("ttfb: %v", err)
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	for _, p := range peers {
		p.summarize()
		_ = enc.Encode(p.res)
	}
}

// fetch primes the peer if asked, then measures one request.
func (p *peer) fetch(accept string, pause time.Duration, keep bool) error {
	time.Sleep(pause)
	if p.prime != "" {
		if err := fetchAll(p.client, p.prime); err != nil {
			return fmt.Errorf("prime %s: %w", p.prime, err)
		}
	}
	s, bytes, enc, status, err := once(p.client, p.url, accept)
	if err != nil {
		return fmt.Errorf("%s: %w", p.url, err)
	}
	if !keep {
		return nil
	}
	if status/100 != 2 {
		p.res.Non2xx++
	}
	p.res.BytesPerResp, p.res.Encoding = bytes, enc
	p.samples = append(p.samples, s)
	return nil
}

func (p *peer) summarize() {
	pick := func(f func(sample) time.Duration) (p50, p90 float64) {
		d := make([]time.Duration, len(p.samples))
		for i, s := range p.samples {
			d[i] = f(s)
		}
		slices.Sort(d)
		return ms(percentile(d, 50)), ms(percentile(d, 90))
	}
	p.res.HeaderP50, p.res.HeaderP90 = pick(func(s sample) time.Duration { return s.header })
	p.res.FirstByteP50, p.res.FirstByteP90 = pick(func(s sample) time.Duration { return s.firstByte })
	p.res.TotalP50, p.res.TotalP90 = pick(func(s sample) time.Duration { return s.total })
}

func once(c *http.Client, url, accept string) (sample, int64, string, int, error) {
	var s sample
	var start time.Time
	trace := &httptrace.ClientTrace{
		GotFirstResponseByte: func() { s.header = time.Since(start) },
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return s, 0, "", 0, err
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	req.Header.Set("Accept-Encoding", accept)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	start = time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return s, 0, "", 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && total == 0 {
			s.firstByte = time.Since(start)
		}
		total += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, total, "", 0, err
		}
	}
	s.total = time.Since(start)
	return s, total, resp.Header.Get("Content-Encoding"), resp.StatusCode, nil
}

// fetchAll gets url and discards the body.
func fetchAll(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// percentile uses the nearest-rank method on sorted d.
func percentile(d []time.Duration, p int) time.Duration {
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
