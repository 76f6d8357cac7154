// Command ttfb measures time to first byte of one URL over N sequential
// requests on a kept-alive connection and prints one JSON line with the
// median and 90th percentile of: the first response byte (status line), the
// first body byte, and the complete response.
//
// The first body byte is the honest figure for a rewriting proxy: a proxy
// can send headers at once and still hold the body back while it buffers.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"time"
)

// Result is the printed JSON line; durations are in milliseconds.
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

func main() {
	url := flag.String("url", "", "URL to fetch")
	n := flag.Int("n", 20, "measured requests")
	warm := flag.Int("warmup", 2, "unmeasured requests first")
	accept := flag.String("accept-encoding", "gzip", "Accept-Encoding request header")
	pause := flag.Duration("pause", 0, "idle time between requests (0: back to back)")
	prime := flag.String("prime", "", "URL fetched (unmeasured) right before each request, so that every peer starts from the same warm state")
	flag.Parse()
	if *url == "" || *n < 1 {
		log.Fatal("ttfb: --url and --n >= 1 are required")
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, Proxy: nil, MaxIdleConnsPerHost: 1}, Timeout: 120 * time.Second}
	res := Result{URL: *url, N: *n}
	var samples []sample
	for i := range *warm + *n {
		if i > 0 {
			time.Sleep(*pause)
		}
		if *prime != "" {
			if err := fetchAll(client, *prime); err != nil {
				log.Fatalf("ttfb: prime %s: %v", *prime, err)
			}
		}
		s, bytes, enc, status, err := once(client, *url, *accept)
		if err != nil {
			log.Fatalf("ttfb: %s: %v", *url, err)
		}
		if i < *warm {
			continue
		}
		if status/100 != 2 {
			res.Non2xx++
		}
		res.BytesPerResp, res.Encoding = bytes, enc
		samples = append(samples, s)
	}
	pick := func(f func(sample) time.Duration) (p50, p90 float64) {
		d := make([]time.Duration, len(samples))
		for i, s := range samples {
			d[i] = f(s)
		}
		slices.Sort(d)
		return ms(percentile(d, 50)), ms(percentile(d, 90))
	}
	res.HeaderP50, res.HeaderP90 = pick(func(s sample) time.Duration { return s.header })
	res.FirstByteP50, res.FirstByteP90 = pick(func(s sample) time.Duration { return s.firstByte })
	res.TotalP50, res.TotalP90 = pick(func(s sample) time.Duration { return s.total })
	json.NewEncoder(os.Stdout).Encode(res)
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
