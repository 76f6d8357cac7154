package spool

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record parser of every
// format version: it must never panic, whatever it accepts must re-encode
// to the same record, a gzip field is surfaced only from version 4 on, and
// EventsJSON never panics on what it decoded.
func FuzzDecodeRecord(f *testing.F) {
	rec, _ := encodeRecord(testSeg(replayID(1), 3, 200))
	sealRecord(rec, 9)
	f.Add(rec)
	withSum := testSeg(replayID(2), 1, 120)
	withSum.Summary = &Summary{Events: 1, First: 1, Last: 2, Clicks: 1, Info: [][]byte{[]byte(`{"type":5}`)}}
	rec2, _ := encodeRecord(withSum)
	sealRecord(rec2, 3)
	f.Add(rec2)
	// Version 4: the gzip field (ingest's compression) and no events.
	gz := testSeg(replayID(3), 2, 0)
	gz.Events = nil
	gz.Gzip = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	gz.Summary = &Summary{Events: 0, Info: [][]byte{}}
	rec3, _ := encodeRecord(gz)
	sealRecord(rec3, 4)
	f.Add(rec3)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < recHeaderSize {
			return
		}
		n, sum, err := parseRecordHeader(data)
		if err != nil || len(data)-recHeaderSize < n {
			return
		}
		for version := 1; version <= formatVersion; version++ {
			lsn, seg, err := decodePayload(data[recHeaderSize:recHeaderSize+n], sum, version)
			if err != nil {
				continue
			}
			again, err := encodeRecord(seg)
			if err != nil {
				t.Fatalf("decoded segment does not re-encode: %v", err)
			}
			sealRecord(again, lsn)
			_, seg2, err := decodePayload(again[recHeaderSize:], uint32From(again[4:]), formatVersion)
			if err != nil || seg2.Key() != seg.Key() || string(seg2.Events) != string(seg.Events) || string(seg2.Gzip) != string(seg.Gzip) ||
				!reflect.DeepEqual(seg2.Summary, seg.Summary) {
				t.Fatalf("re-encoded record differs: %v", err)
			}
			if seg.Gzip != nil && version < gzipOursVersion {
				t.Fatalf("version %d record surfaced its gzip field", version)
			}
			seg.EventsJSON(nil)
		}
	})
}

func uint32From(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// FuzzRecoverTail appends arbitrary bytes after three good records: Open
// must keep exactly the good records (the fuzzer cannot forge a CRC-32C
// that also carries the next LSN in practice) and accept new appends.
func FuzzRecoverTail(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		r := replayID(1)
		cfg := testConfig()
		cfg.CheckpointInterval = time.Millisecond
		s := openT(t, cfg, dir)
		appendN(t, s, r, 0, 3, 100)
		s.Close()
		logs, _ := filepath.Glob(filepath.Join(dir, "spool", "*.log"))
		f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(tail)
		f.Close()

		c := newCollector("c")
		s = openT(t, cfg, dir, c)
		defer s.Close()
		appendN(t, s, r, 3, 1, 100)
		stop := runT(t, s)
		defer stop()
		waitFor(t, "delivery", 5*time.Second, func() bool { return len(c.received()) >= 4 })
		if got := c.received(); !slices.Equal(got, keysOf(r, 0, 4)) {
			t.Fatalf("got %v", got)
		}
	})
}
