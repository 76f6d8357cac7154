package store

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// FuzzSegmentLog scans arbitrary bytes as a segment log: it never panics,
// every record it returns checks out when read again, lies inside the file
// after the previous one, and the valid end is the end of the last record.
// Seeds are real logs, also cut short and with a byte flipped.
func FuzzSegmentLog(f *testing.F) {
	var valid []byte
	for seq := range 3 {
		valid = appendRecord(valid, seq, time.Unix(1764336000, 0), []byte("\x1f\x8b\x08 gzip-ish bytes of the segment"))
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	flipped := bytes.Clone(valid)
	flipped[logHeader+5] ^= 1
	f.Add(flipped)
	f.Add([]byte(logMagic + logMagic + "garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, end, skipped, err := scanLog(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("scan of bytes in memory failed: %v", err)
		}
		if end > int64(len(data)) || skipped < 0 || skipped > end {
			t.Fatalf("end %d, skipped %d of %d bytes", end, skipped, len(data))
		}
		prev := int64(0)
		buf := make([]byte, 1024)
		for i, r := range recs {
			if r.off < prev || r.n < 0 || r.off+logHeader+r.n > int64(len(data)) {
				t.Fatalf("record %d at %d (+%d) after %d in %d bytes", i, r.off, r.n, prev, len(data))
			}
			again, err := readRecordAt(bytes.NewReader(data), r.off, int64(len(data)), buf)
			if err != nil || again != r {
				t.Fatalf("record %d does not read back: %+v, %v", i, again, err)
			}
			prev = r.off + logHeader + r.n
		}
		if prev != end {
			t.Fatalf("valid end %d, last record ends at %d", end, prev)
		}
		// Appending to the valid part yields one more record.
		more := appendRecord(bytes.Clone(data[:end]), 7, time.Unix(0, 5), []byte("x"))
		got, _, _, err := scanLog(bytes.NewReader(more), int64(len(more)))
		if err != nil || len(got) < len(recs)+1 || got[len(got)-1].seq != 7 || got[len(got)-1].off != end {
			t.Fatalf("record appended at %d not found: %+v, %v", end, got, err)
		}
	})
}

// TestScanLogSkipsDamage: a damaged record inside the log is skipped, a
// torn one at its end ends it.
func TestScanLogSkipsDamage(t *testing.T) {
	var log []byte
	var offs []int64
	for seq := range 4 {
		offs = append(offs, int64(len(log)))
		log = appendRecord(log, seq, time.Unix(int64(seq), 0), bytes.Repeat([]byte{byte(seq)}, 100+seq))
	}
	full := int64(len(log))
	damaged := bytes.Clone(log)
	damaged[offs[1]+logHeader+50] ^= 0xff
	torn := append(bytes.Clone(log), log[:30]...)
	tests := []struct {
		name     string
		data     []byte
		seqs     []int
		end      int64
		skipped  int64
		received time.Time
	}{
		{"whole", log, []int{0, 1, 2, 3}, full, 0, time.Unix(3, 0).UTC()},
		{"damaged inside", damaged, []int{0, 2, 3}, full, offs[2] - offs[1], time.Unix(3, 0).UTC()},
		{"torn tail", torn, []int{0, 1, 2, 3}, full, 0, time.Unix(3, 0).UTC()},
		{"last record cut", log[:full-1], []int{0, 1, 2}, offs[3], 0, time.Unix(2, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, end, skipped, err := scanLog(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int
			for _, r := range recs {
				seqs = append(seqs, r.seq)
			}
			if !slices.Equal(seqs, tt.seqs) || end != tt.end || skipped != tt.skipped || !recs[len(recs)-1].receivedAt.Equal(tt.received) {
				t.Fatalf("seqs %v end %d skipped %d (last received %v); want %v %d %d", seqs, end, skipped, recs[len(recs)-1].receivedAt, tt.seqs, tt.end, tt.skipped)
			}
		})
	}
}
