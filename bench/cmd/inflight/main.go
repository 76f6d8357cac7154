// Command inflight measures the extra memory a proxy holds per in-flight
// response: it opens K connections, requests a large page on each, reads the
// headers and a little of the body, then stops reading, so every response
// stays in flight with the proxy blocked on a full socket. It samples the
// proxy's heap (go_memstats_heap_inuse_bytes and _heap_alloc_bytes from a
// Prometheus /metrics endpoint) and resident set (VmRSS from
// /proc/PID/status) before and while the responses are held, and prints one
// JSON line with the per-response difference.
//
// Heap figures include garbage the collector has not reclaimed yet. With
// --gc-url, before each measurement the probe sends cheap requests through
// the proxy until the process completes a garbage collection (the
// go_gc_duration_seconds_count counter moves), so both samples are taken
// just after a collection and compare live memory, not garbage. Without it
// (or without the counter) the figures err on the high side.
package main

import (
	"bufio"
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
	"syscall"
	"time"
)

// Result is the printed JSON line.
type Result struct {
	URL            string  `json:"url"`
	K              int     `json:"k"`
	Held           int     `json:"held"`
	Encoding       string  `json:"encoding"`
	Basis          string  `json:"basis"` // "heap_inuse" or "vmrss"
	GCSettled      bool    `json:"gc_settled"`
	HeapBefore     int64   `json:"heap_inuse_before,omitempty"`
	HeapDuring     int64   `json:"heap_inuse_during,omitempty"`
	HeapAfter      int64   `json:"heap_inuse_after,omitempty"`
	AllocBefore    int64   `json:"heap_alloc_before,omitempty"`
	AllocDuring    int64   `json:"heap_alloc_during,omitempty"`
	RSSBefore      int64   `json:"rss_before,omitempty"`
	RSSDuring      int64   `json:"rss_during,omitempty"`
	HeapPerRespKB  float64 `json:"heap_per_response_kb,omitempty"`
	AllocPerRespKB float64 `json:"alloc_per_response_kb,omitempty"`
	RSSPerRespKB   float64 `json:"rss_per_response_kb,omitempty"`
	PerResponseKB  float64 `json:"per_response_kb"`
	Statuses       string  `json:"statuses"`
}

type probe struct {
	metrics, token, gcURL string
	pid                   int
	client                *http.Client
}

// sample is one reading of the process's memory.
type sample struct{ inuse, alloc, rss int64 }

func main() {
	target := flag.String("url", "", "URL of a large page through the proxy")
	metrics := flag.String("metrics", "", "Prometheus /metrics URL of the proxy (optional)")
	token := flag.String("token", os.Getenv("INFLIGHT_TOKEN"), "bearer token for --metrics (env INFLIGHT_TOKEN)")
	pid := flag.Int("pid", 0, "proxy process id, for VmRSS (optional)")
	k := flag.Int("k", 32, "concurrent held responses")
	accept := flag.String("accept-encoding", "gzip", "Accept-Encoding request header")
	readFirst := flag.Int("read-first", 32<<10, "body bytes to read from each response before stalling")
	hold := flag.Duration("hold", 3*time.Second, "how long to hold the responses while sampling")
	gcURL := flag.String("gc-url", "", "cheap URL through the proxy, fetched until the process completes a GC before each measurement")
	flag.Parse()
	if *target == "" || (*metrics == "" && *pid == 0) {
		log.Fatal("inflight: --url and one of --metrics or --pid are required")
	}
	p := &probe{metrics: *metrics, token: *token, gcURL: *gcURL, pid: *pid, client: &http.Client{Timeout: 10 * time.Second}}
	res := Result{URL: *target, K: *k}

	heapOK := false
	if p.metrics != "" {
		if _, err := p.read(); err == nil {
			heapOK = true
		} else {
			log.Printf("inflight: heap from %s unavailable (%v); using VmRSS", p.metrics, err)
		}
	}
	if !heapOK && p.pid == 0 {
		log.Fatal("inflight: no heap metric and no --pid for VmRSS")
	}

	settled := heapOK && p.settle()
	before := p.sample(heapOK, 3, 200*time.Millisecond)

	conns := make([]net.Conn, 0, *k)
	statuses := map[string]int{}
	for range *k {
		c, status, enc, err := open(*target, *accept, *readFirst)
		if err != nil {
			log.Printf("inflight: open: %v", err)
			statuses["error"]++
			continue
		}
		statuses[strconv.Itoa(status)]++
		res.Encoding = enc
		if status == http.StatusOK {
			res.Held++
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second) // let every proxy goroutine reach its blocked write
	if settled {
		settled = p.settle()
	}
	during := p.sample(heapOK, 5, *hold/5)
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(time.Second)
	after := p.sample(heapOK, 1, 0)

	var keys []string
	for s, n := range statuses {
		keys = append(keys, fmt.Sprintf("%s×%d", s, n))
	}
	slices.Sort(keys)
	res.Statuses = strings.Join(keys, " ")
	res.GCSettled = settled
	res.HeapBefore, res.HeapDuring, res.HeapAfter = before.inuse, during.inuse, after.inuse
	res.AllocBefore, res.AllocDuring = before.alloc, during.alloc
	res.RSSBefore, res.RSSDuring = before.rss, during.rss
	if res.Held > 0 {
		per := func(a, b int64) float64 { return float64(b-a) / float64(res.Held) / 1024 }
		if heapOK {
			res.HeapPerRespKB = per(before.inuse, during.inuse)
			res.AllocPerRespKB = per(before.alloc, during.alloc)
		}
		if p.pid != 0 {
			res.RSSPerRespKB = per(before.rss, during.rss)
		}
	}
	if heapOK {
		res.Basis, res.PerResponseKB = "heap_inuse", res.HeapPerRespKB
	} else {
		res.Basis, res.PerResponseKB = "vmrss", res.RSSPerRespKB
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

// settle fetches gcURL until the process reports one more completed GC,
// then waits for the background sweep. It reports whether that happened.
func (p *probe) settle() bool {
	if p.gcURL == "" {
		return false
	}
	m, err := p.read()
	start, ok := m["go_gc_duration_seconds_count"]
	if err != nil || !ok {
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for range 20 {
			if resp, err := p.client.Get(p.gcURL); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		if m, err := p.read(); err == nil && m["go_gc_duration_seconds_count"] > start {
			time.Sleep(300 * time.Millisecond)
			return true
		}
	}
	return false
}

// sample returns the medians of n readings.
func (p *probe) sample(heapOK bool, n int, every time.Duration) sample {
	var in, al, rs []int64
	for i := range n {
		if i > 0 {
			time.Sleep(every)
		}
		if heapOK {
			if m, err := p.read(); err == nil {
				in = append(in, int64(m["go_memstats_heap_inuse_bytes"]))
				al = append(al, int64(m["go_memstats_heap_alloc_bytes"]))
			}
		}
		if p.pid != 0 {
			if r, err := vmRSS(p.pid); err == nil {
				rs = append(rs, r)
			}
		}
	}
	return sample{median(in), median(al), median(rs)}
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// read fetches /metrics and returns the unlabelled samples it needs.
func (p *probe) read() (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, p.metrics, nil)
	if err != nil {
		return nil, err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		switch name {
		case "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds_count":
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil {
				out[name] = f
			}
		}
	}
	if _, ok := out["go_memstats_heap_inuse_bytes"]; !ok {
		return nil, errors.New("no go_memstats_heap_inuse_bytes in /metrics")
	}
	return out, sc.Err()
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// open sends one GET on a connection with a small receive buffer, reads the
// response head and readFirst body bytes, and returns the connection unread
// beyond that.
func open(target, accept string, readFirst int) (net.Conn, int, string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, 0, "", err
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, 0, "", err
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: %s\r\nUser-Agent: inflight\r\n\r\n", u.RequestURI(), u.Host, accept)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, 0, "", err
	}
	if _, err := io.CopyN(io.Discard, resp.Body, int64(readFirst)); err != nil {
		c.Close()
		return nil, 0, "", fmt.Errorf("read body: %w", err)
	}
	c.SetReadDeadline(time.Time{})
	return c, resp.StatusCode, resp.Header.Get("Content-Encoding"), nil
}
