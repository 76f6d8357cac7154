package spool

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"
)

// FuzzDecodePayloadResealed is FuzzDecodeRecord with the checksum
// recomputed over the mutated payload, so that the fuzzer reaches the
// field parsing (FuzzDecodeRecord's mutations nearly all fail the
// CRC-32C and test only its seeds): no panic, a gzip field surfaced only
// from version 4 on, and EventsJSON bounded.
func FuzzDecodePayloadResealed(f *testing.F) {
	for _, seg := range []Segment{
		testSeg(replayID(1), 3, 200),
		{ReplayID: replayID(2), Seq: 1, Subject: "s", Gzip: gzipOf(f, []byte(`[{"type":4}]`)),
			Summary: &Summary{Events: 1, First: 1, Last: 1, Info: [][]byte{[]byte(`{"type":4}`)}}},
		{ReplayID: replayID(3), Seq: 2, Subject: "s", Gzip: gzipOf(f, []byte(`[1]`)), Events: []byte(`[2]`)},
	} {
		rec, _ := encodeRecord(seg)
		f.Add(rec[recHeaderSize:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 1<<20 {
			return
		}
		sum := crc32.Checksum(payload, castagnoli)
		for version := 1; version <= formatVersion; version++ {
			_, seg, err := decodePayload(payload, sum, version)
			if err != nil {
				continue
			}
			if seg.Gzip != nil && version < gzipOursVersion {
				t.Fatalf("version %d surfaced its gzip field", version)
			}
			js, err := seg.EventsJSON(nil)
			if err == nil && len(js) > MaxSegmentBytes {
				t.Fatalf("EventsJSON returned %d bytes", len(js))
			}
		}
	})
}

// FuzzGunzipMember: gunzipMember never panics, never returns more than
// limit+1 bytes, and succeeds exactly when the input is one valid gzip
// member (as the standard library reads it) of at most limit bytes, with
// the same output.
func FuzzGunzipMember(f *testing.F) {
	const limit = 4096
	f.Add(gzipOf(f, []byte(`[{"type":2}]`)))
	f.Add(gzipOf(f, bytes.Repeat([]byte("a"), limit)))
	f.Add(gzipOf(f, bytes.Repeat([]byte("a"), limit+1)))
	f.Add(append(gzipOf(f, []byte(`[]`)), gzipOf(f, []byte(`[]`))...))
	big := gzipOf(f, bytes.Repeat([]byte("a"), 100))
	binary.LittleEndian.PutUint32(big[len(big)-4:], 1<<31)
	f.Add(big)
	f.Fuzz(func(t *testing.T, gz []byte) {
		got, err := gunzipMember([]byte("p"), gz, limit)
		if len(got) > 1+limit+1 {
			t.Fatalf("%d bytes out", len(got))
		}
		want, ok := refMember(gz, limit)
		if (err == nil) != ok {
			t.Fatalf("gunzipMember err %v, reference ok %v", err, ok)
		}
		if ok && string(got) != "p"+string(want) {
			t.Fatalf("output differs from the reference")
		}
	})
}

// refMember decodes gz with the standard library: ok when it is exactly
// one valid member of at most limit bytes. A header with reserved flag
// bits set is invalid (RFC 1952, 2.3.1); compress/gzip ignores them,
// gunzipMember's decoder refuses them, as the RFC asks.
func refMember(gz []byte, limit int) ([]byte, bool) {
	if len(gz) >= 4 && gz[3]&0xe0 != 0 {
		return nil, false
	}
	br := bytes.NewReader(gz) // an io.ByteReader: nothing is read past the member
	zr, err := stdgzip.NewReader(br)
	if err != nil {
		return nil, false
	}
	zr.Multistream(false)
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil || len(out) > limit {
		return nil, false
	}
	// Drain to EOF (the limit may have stopped short of the trailer).
	if n, err := io.Copy(io.Discard, zr); err != nil || n != 0 {
		return nil, false
	}
	return out, br.Len() == 0
}
