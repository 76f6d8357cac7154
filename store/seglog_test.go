package store

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzSegmentLog scans arbitrary bytes as a segment log: it never panics,
// every record it returns is one that sealRecord wrote (its header and
// bytes check out), lies inside the file after the previous one, and the
// valid end is where the last record ends. Seeds (testdata/fuzz) are real
// logs, also cut short and with a byte flipped.
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
		for i, r := range recs {
			if r.off < prev || r.n < 0 || r.off+logHeader+r.n > int64(len(data)) {
				t.Fatalf("record %d at %d (+%d) after %d in %d bytes", i, r.off, r.n, prev, len(data))
			}
			checkRecord(t, data, r)
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

// checkRecord checks that r is a record as sealRecord writes it.
func checkRecord(t *testing.T, data []byte, r logRecord) {
	t.Helper()
	h := data[r.off : r.off+logHeader]
	body := data[r.off+logHeader : r.off+logHeader+r.n]
	le := binary.LittleEndian
	if string(h[:4]) != logMagic || le.Uint32(h[4:]) != crc32.Checksum(h[8:], castagnoli) ||
		le.Uint32(h[8:]) != crc32.Checksum(body, castagnoli) || int(le.Uint32(h[12:])) != r.seq ||
		int64(le.Uint32(h[16:])) != r.n || !time.Unix(0, int64(le.Uint64(h[20:]))).Equal(r.receivedAt) {
		t.Fatalf("record %+v does not check out", r)
	}
}

// TestScanLog: damaged bytes of a record whose header checks out are
// skipped; a torn or damaged header, or a record cut short, ends the log;
// a record hidden in another record's bytes (a visitor's gzip can carry
// any bytes) is never taken for one.
func TestScanLog(t *testing.T) {
	var log []byte
	var offs []int64
	for seq := range 4 {
		offs = append(offs, int64(len(log)))
		log = appendRecord(log, seq, time.Unix(int64(seq), 0), bytes.Repeat([]byte{byte(seq)}, 100+seq))
	}
	full := int64(len(log))
	damaged := bytes.Clone(log)
	damaged[offs[1]+logHeader+50] ^= 0xff
	badHeader := bytes.Clone(log)
	badHeader[offs[1]+13] ^= 0x01 // its seq
	hidden := appendRecord(nil, 9, time.Unix(9, 0), []byte("forged"))
	carrier := appendRecord(log[:offs[1]:offs[1]], 1, time.Unix(1, 0), append(append([]byte("\x1f\x8b"), hidden...), make([]byte, 64)...))
	torn := carrier[:len(carrier)-10]
	tests := []struct {
		name         string
		data         []byte
		seqs         []int
		end, skipped int64
		lastReceived time.Time
	}{
		{"whole", log, []int{0, 1, 2, 3}, full, 0, time.Unix(3, 0)},
		{"damaged bytes inside", damaged, []int{0, 2, 3}, full, offs[2] - offs[1], time.Unix(3, 0)},
		{"damaged bytes last", damaged[:offs[2]], []int{0}, offs[1], 0, time.Unix(0, 0)},
		{"damaged header", badHeader, []int{0}, offs[1], 0, time.Unix(0, 0)},
		{"garbage after", append(bytes.Clone(log), log[:30]...), []int{0, 1, 2, 3}, full, 0, time.Unix(3, 0)},
		{"last record cut", log[:full-1], []int{0, 1, 2}, offs[3], 0, time.Unix(2, 0)},
		{"record hidden in a torn one", torn, []int{0}, offs[1], 0, time.Unix(0, 0)},
		{"record hidden in a whole one", carrier, []int{0, 1}, int64(len(carrier)), 0, time.Unix(1, 0)},
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
				checkRecord(t, tt.data, r)
			}
			// What follows the end is a torn record unless a header that
			// does not check out starts it.
			wantTorn := !strings.Contains(tt.name, "damaged header") && tt.name != "damaged bytes last"
			if end < int64(len(tt.data)) && tornTail(bytes.NewReader(tt.data), end, int64(len(tt.data))) != wantTorn {
				t.Errorf("tornTail = %v, want %v", !wantTorn, wantTorn)
			}
			if !slices.Equal(seqs, tt.seqs) || end != tt.end || skipped != tt.skipped || !recs[len(recs)-1].receivedAt.Equal(tt.lastReceived) {
				t.Fatalf("seqs %v end %d skipped %d (last received %v); want %v %d %d %v",
					seqs, end, skipped, recs[len(recs)-1].receivedAt, tt.seqs, tt.end, tt.skipped, tt.lastReceived)
			}
		})
	}
}
