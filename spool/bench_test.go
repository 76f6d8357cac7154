package spool

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends of 20 KB segments (write +
// fsync each acknowledged) from many concurrent callers, as ingest does.
func BenchmarkAppend(b *testing.B) {
	for _, callers := range []int{1, 16, 64} {
		b.Run(map[int]string{1: "callers=1", 16: "callers=16", 64: "callers=64"}[callers], func(b *testing.B) {
			s := openT(b, DefaultConfig(), b.TempDir())
			defer s.Close()
			seg := testSeg(replayID(1), 0, 20000)
			b.SetBytes(int64(len(seg.Events)))
			b.ReportAllocs()
			b.SetParallelism(max(1, callers/max(1, testingProcs())))
			var seq atomic.Int64
			start := time.Now()
			b.ResetTimer()
			if callers == 1 {
				for b.Loop() {
					seg.Seq = int(seq.Add(1))
					if err := s.Append(seg); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					seg := seg
					for pb.Next() {
						seg.Seq = int(seq.Add(1))
						if err := s.Append(seg); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "appends/s")
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
