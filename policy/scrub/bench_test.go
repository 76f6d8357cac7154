package scrub

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// cpuMeter reports MB per second of the benchmark goroutine's thread CPU
// time ("cpu-MB/s"): wall-clock MB/s drops when other processes share the
// cores, CPU-time MB/s measures the code. GC work on other threads is not
// counted; the scanner allocates almost nothing.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU(b *testing.B) *cpuMeter {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return &cpuMeter{start: start, ok: ok}
}

func (m *cpuMeter) report(b *testing.B, bytesPerOp int) {
	defer runtime.UnlockOSThread()
	end, ok := threadCPU()
	if !m.ok || !ok || end <= m.start {
		return
	}
	b.ReportMetric(float64(bytesPerOp)*float64(b.N)/(end-m.start).Seconds()/1e6, "cpu-MB/s")
}

func loadCorpus(tb testing.TB) []byte {
	tb.Helper()
	src, err := os.ReadFile("testdata/recording.json")
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

//go:generate go run ./testdata/gen -o testdata/recording.json

// BenchmarkScrub measures the single pass on the corpus with every default
// detector on.
func BenchmarkScrub(b *testing.B) {
	src := loadCorpus(b)
	sc, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, len(src)+len(src)/8)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		var err error
		dst, _, err = sc.Scrub(dst[:0], src)
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, len(src))
}

// BenchmarkScrubString measures ScrubString on a typical log line.
func BenchmarkScrubString(b *testing.B) {
	sc, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	line := "GET /v2/cart?locale=en-US&page=2 from Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 took 143 ms"
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		_ = sc.ScrubString(line)
	}
}
