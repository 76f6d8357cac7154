package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
)

// asIngestSpools returns the segment ingest spools for an upload whose
// scrubbed output is out (res: the scrubber's result): the trimmed output
// as one gzip member at level 1, and the scrubber's summary.
func asIngestSpools(t testing.TB, id string, out []byte, res scrub.Result) spool.Segment {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, 1)
	zw.Write(bytes.TrimSpace(out))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := &spool.Summary{Events: res.Events, First: res.FirstTimestamp, Last: res.LastTimestamp, Clicks: res.Clicks, Info: [][]byte{}}
	for _, sp := range res.Info {
		sum.Info = append(sum.Info, out[sp.Start:sp.End])
	}
	return spool.Segment{ReplayID: id, Seq: 0, Subject: "subj", ReceivedAt: t0, Gzip: buf.Bytes(), Summary: sum}
}

// FuzzIngestedSegmentReadsBack: whatever the scrubber accepts, once
// spooled as ingest spools it (gzip member + summary), is stored by
// Forward and read back by WriteEvents as a valid JSON array equal to
// the scrubbed events, or dropped at Forward; it never makes the replay
// unreadable.
func FuzzIngestedSegmentReadsBack(f *testing.F) {
	f.Add([]byte(`[{"type":4,"timestamp":1,"data":{"href":"https://x/"}}]`))
	f.Add([]byte(" \n[]\n "))
	f.Add([]byte("\ufeff[]"))
	f.Add([]byte("\ufeff[{\"type\":3,\"timestamp\":1,\"data\":{}}]"))
	f.Add([]byte("\u00a0[{\"type\":3,\"timestamp\":1,\"data\":{}}]"))
	f.Add([]byte("[{\"type\":3,\"timestamp\":1,\"data\":{}}]\u0085"))
	sc, err := scrub.New(scrub.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	s := openTest(f, f.TempDir())
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, upload []byte) {
		out, res, err := sc.Scrub(nil, upload)
		if err != nil {
			return
		}
		id := fmt.Sprintf("%032x", n.Add(1))
		if err := s.Forward(context.Background(), asIngestSpools(t, id, out, res)); err != nil {
			t.Fatalf("Forward: %v", err)
		}
		if _, err := s.Get(context.Background(), id); err != nil {
			return // dropped (or no events)
		}
		var buf bytes.Buffer
		if err := s.WriteEvents(context.Background(), id, &buf); err != nil {
			t.Fatalf("stored, but WriteEvents: %v (scrubbed %q)", err, out)
		}
		if !json.Valid(buf.Bytes()) {
			t.Fatalf("read back invalid JSON %q", buf.Bytes())
		}
	})
}

// TestStoredBodyIsWhatForwardersSend: the store keeps the same JSON that
// the remote forwarders send (spool.Segment.EventsJSON) for every
// combination of Events and Gzip, so the local store and the other
// destinations never hold different recordings of one segment: Events,
// when set, win (as in EventsJSON), and an empty Gzip is no gzip.
func TestStoredBodyIsWhatForwardersSend(t *testing.T) {
	evA, evB := events(0, 2), events(0, 3)
	tests := []struct {
		name string
		seg  spool.Segment
	}{
		{"gzip only", gzSeg(idA, 0, gzipOf(t, evB), nil)},
		{"events only", seg(idA, 0, "subj", evA, t0)},
		{"both set", spool.Segment{ReplayID: idA, Seq: 0, Subject: "subj", ReceivedAt: t0, Events: evA, Gzip: gzipOf(t, evB)}},
		{"empty gzip", spool.Segment{ReplayID: idA, Seq: 0, Subject: "subj", ReceivedAt: t0, Events: evA, Gzip: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := tt.seg.EventsJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			s := openTest(t, t.TempDir())
			forward(t, s, tt.seg)
			var buf bytes.Buffer
			if err := s.WriteEvents(context.Background(), idA, &buf); err != nil {
				t.Fatalf("WriteEvents: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), bytes.TrimSpace(want)) {
				t.Fatalf("store holds %s\nforwarders send %s", buf.Bytes(), want)
			}
		})
	}
}
