package spool

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends of 20 KB segments (write +
// fsync each acknowledged) from many concurrent callers, as ingest does.
func BenchmarkAppend(b *testing.B) {
	for _, callers := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s := openT(b, DefaultConfig(), b.TempDir())
			defer s.Close()
			seg := testSeg(replayID(1), 0, 20000)
			b.SetBytes(int64(len(seg.Events)))
			b.ReportAllocs()
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, callers/testingProcs()))
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				seg := seg
				var mine []time.Duration
				for pb.Next() {
					seg.Seq = int(seq.Add(1))
					t0 := time.Now()
					if err := s.Append(seg); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "appends/s")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkAppendAndDeliver measures the end-to-end throughput of 64
// concurrent appenders with Run delivering to a forwarder that does nothing:
// the spool must drain as fast as ingest fills it.
func BenchmarkAppendAndDeliver(b *testing.B) {
	s := openT(b, DefaultConfig(), b.TempDir(), nopForwarder{})
	defer s.Close()
	stop := runT(b, s)
	defer stop()
	seg := testSeg(replayID(1), 0, 20000)
	b.SetBytes(int64(len(seg.Events)))
	b.ReportAllocs()
	b.SetParallelism(32)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		seg := seg
		for pb.Next() {
			seg.Seq = int(seq.Add(1))
			if err := s.Append(seg); err != nil {
				b.Fatal(err)
			}
		}
	})
	waitFor(b, "drain", time.Minute, func() bool { d, _ := s.Depth(); return d == 0 })
}
