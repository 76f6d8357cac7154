package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/replaygate/replaygate/spool"
)

// segment20K returns a realistic ~20 KB segment: a full snapshot, mouse
// moves, clicks, inputs and mutations.
func segment20K(b *testing.B) json.RawMessage {
	fix := strings.TrimSpace(string(fixture(b)))
	var sb strings.Builder
	sb.WriteString(fix[:len(fix)-1])
	for i := 0; sb.Len() < 20<<10; i++ {
		fmt.Fprintf(&sb, `,{"type":3,"data":{"source":1,"positions":[{"x":%d,"y":%d,"id":9,"timeOffset":-20}]},"timestamp":%d}`, i%1280, i%720, 1764336007000+i*50)
		if i%10 == 0 {
			fmt.Fprintf(&sb, `,{"type":3,"data":{"source":0,"texts":[{"id":12,"value":"*** ** ****"}],"attributes":[],"removes":[],"adds":[]},"timestamp":%d}`, 1764336007000+i*50)
		}
	}
	sb.WriteByte(']')
	return json.RawMessage(sb.String())
}

// BenchmarkForward measures storing one 20 KB segment durably (a record
// appended to the replay's segment log, group-committed flushes):
// "events" as the JSON array, compressed by the store; "gzip" as ingest
// spools it, its gzip member (level 1) and the scrubber's summary, written
// as it is. SetBytes counts the JSON in both.
func BenchmarkForward(b *testing.B) {
	ev := segment20K(b)
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, 1)
	zw.Write(ev)
	zw.Close()
	sum := scrubberSummary(b, ev)
	for _, bc := range []struct {
		name string
		seg  func(id string, seq int) spool.Segment
	}{
		{"events", func(id string, seq int) spool.Segment { return seg(id, seq, "subj", ev, t0) }},
		{"gzip", func(id string, seq int) spool.Segment {
			return spool.Segment{ReplayID: id, Seq: seq, Subject: "subj", ReceivedAt: t0, Gzip: zb.Bytes(), Summary: sum}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTest(b, b.TempDir())
			ctx := context.Background()
			b.SetBytes(int64(len(ev)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// A new replay every 100 segments keeps the per-replay state realistic.
				id := fmt.Sprintf("%032x", i/100)
				if err := s.Forward(ctx, bc.seg(id, i%100)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSummarize measures metadata extraction alone.
func BenchmarkSummarize(b *testing.B) {
	ev := segment20K(b)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := summarize(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteEvents measures streaming a 50-segment replay back.
func BenchmarkWriteEvents(b *testing.B) {
	s := openTest(b, b.TempDir())
	ev := segment20K(b)
	for i := 0; i < 50; i++ {
		forward(b, s, seg(idA, i, "subj", ev, t0))
	}
	b.SetBytes(int64(50 * len(ev)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.WriteEvents(context.Background(), idA, discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkForwardParallel measures Forward from concurrent callers, each
// on its own replays: the store's throughput when deliveries overlap.
func BenchmarkForwardParallel(b *testing.B) {
	s := openTest(b, b.TempDir())
	ev := segment20K(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			id := fmt.Sprintf("%032x", i)
			if err := s.Forward(ctx, seg(id, 0, "subj", ev, t0)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSummarizeReference is the encoding/json decoder summarize
// replaced, for comparison.
func BenchmarkSummarizeReference(b *testing.B) {
	ev := segment20K(b)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := summarizeReference(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONValid is the floor of any validating pass: json.Valid alone.
func BenchmarkJSONValid(b *testing.B) {
	ev := segment20K(b)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !json.Valid(ev) {
			b.Fatal("invalid")
		}
	}
}
