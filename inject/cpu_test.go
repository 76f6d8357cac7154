package inject

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time consumed by the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUCost reports CPU time (not wall time) per 150 KB page for each
// path, which stays meaningful on a loaded machine where wall-clock
// benchmarks do not. Run with INJECT_CPU=1; see BENCH_NOTES.md.
func TestCPUCost(t *testing.T) {
	if os.Getenv("INJECT_CPU") == "" {
		t.Skip("set INJECT_CPU=1 to measure")
	}
	page := loadPage(t)
	markup := DefaultMarkup("/__replay")("0123456789abcdefghijkl")
	type row struct {
		name    string
		in, out encoding
		read    int
		mod     func(*Config)
	}
	lowOff := func(c *Config) { c.LowMemory = false }
	rows := []row{
		{"identity", encIdentity, encIdentity, 16 << 10, nil},
		{"gzip->gzip spliced (default)", encGzip, encGzip, 16 << 10, nil},
		{"gzip->gzip lowmem, splice off", encGzip, encGzip, 16 << 10, func(c *Config) { c.SpliceGzip = false }},
		{"gzip->gzip level1, splice off", encGzip, encGzip, 16 << 10, func(c *Config) { c.LowMemory, c.SpliceGzip = false, false }},
		{"deflate->deflate lowmem", encDeflate, encDeflate, 16 << 10, nil},
		{"br->br q1", encBrotli, encBrotli, 16 << 10, nil},
		{"identity->gzip lowmem", encIdentity, encGzip, 16 << 10, nil},
		{"identity->gzip lowmem 1MiB reads", encIdentity, encGzip, 1 << 20, nil},
		{"identity->gzip lowmem 4KiB reads", encIdentity, encGzip, 4 << 10, nil},
		{"identity->gzip level1", encIdentity, encGzip, 16 << 10, lowOff},
		{"identity->gzip level5", encIdentity, encGzip, 16 << 10, func(c *Config) { c.LowMemory = false; c.GzipLevel = 5 }},
		{"identity->br q0", encIdentity, encBrotli, 16 << 10, func(c *Config) { c.BrotliLevel = 0 }},
		{"identity->br q1", encIdentity, encBrotli, 16 << 10, nil},
		{"identity->br q4", encIdentity, encBrotli, 16 << 10, func(c *Config) { c.BrotliLevel = 4 }},
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, r := range rows {
		cfg := DefaultConfig()
		if r.mod != nil {
			r.mod(&cfg)
		}
		c, err := newCodecs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		body := upstreamEncode(t, r.in, page)
		run := func() int64 {
			s := newStream(c, &chunkReader{data: body, sizes: []int{r.read}}, r.in, r.out, false, markup, cfg.MaxHeadBytes)
			n, err := io.Copy(io.Discard, s)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		run() // warm pools
		const iters = 200
		start := threadCPU()
		var n int64
		for range iters {
			n = run()
		}
		per := (threadCPU() - start) / iters
		t.Logf("%-34s %7.0f µs CPU/page  %6.0f MB/s per core  out %5.2f%%",
			r.name, float64(per.Microseconds()), float64(len(page))/per.Seconds()/1e6, float64(n)*100/float64(len(page)))
	}
	for _, e := range []encoding{encGzip, encDeflate, encBrotli} {
		c := testCodecs(t)
		body := upstreamEncode(t, e, page)
		const iters = 200
		start := threadCPU()
		for range iters {
			d, err := c.getDecoder(e, &chunkReader{data: body, sizes: []int{16 << 10}})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, struct{ io.Reader }{d.r})
			c.putDecoder(e, d)
		}
		per := (threadCPU() - start) / iters
		t.Logf("decode only %-22v %7.0f µs CPU/page  %6.0f MB/s per core", e, float64(per.Microseconds()), float64(len(page))/per.Seconds()/1e6)
	}
}
