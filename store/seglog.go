package store

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"time"
)

// The segment log
//
// A replay's segments are records appended to one file, segments.log, in
// the order they arrive (not necessarily seq order):
//
//	magic "RGS2" | CRC-32C of the rest of the header (uint32 LE) |
//	CRC-32C of the gzip bytes (uint32 LE) | seq (uint32 LE) |
//	gzip length n (uint32 LE) | received at, Unix ns (int64 LE) |
//	n bytes: one gzip member, the segment's JSON array
//
// A record is written at the end of the valid log and flushed before
// Forward returns; records of one replay are written one at a time, each
// after the previous one's flush; what a failed write left is cut off, at
// once or before the next write. A crash can therefore leave only the last
// record torn, and Open cuts off whatever follows the last record that
// checks out (keeping it beside the log when a damaged header, not a torn
// record, ended the log). A record whose header checks out but whose
// bytes do not (damage inside the file) is skipped by its length, so it
// does not take the later records with it. The log is only ever read at offsets that
// headers which check out lead to: the bytes of a segment, which may come
// from the visitor's own compression, are never searched for a record, so
// they cannot pass for one. A seq appears once, except when a segment
// whose record was damaged is delivered again: the last readable record
// of a seq counts.
//
// One file per replay instead of one per segment: a file is created (an
// inode allocated) once per replay, and a segment costs one write and one
// shared flush instead of a file creation, a rename and two flushes
// (docs/benchmarks.md).

const (
	logName      = "segments.log"
	logMagic     = "RGS2"
	logHeader    = 28
	maxLogRecord = 1 << 30 // bounds the gzip of one segment (ingest: at most spool.MaxSegmentBytes of JSON)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logRecord locates one segment in the log.
type logRecord struct {
	seq        int
	off        int64 // where the record (its header) starts
	n          int64 // gzip bytes, from off+logHeader
	receivedAt time.Time
}

// appendRecord appends the record of gz (a whole gzip member) to dst.
func appendRecord(dst []byte, seq int, receivedAt time.Time, gz []byte) []byte {
	h := recordHeader(seq, receivedAt)
	start := len(dst)
	dst = append(append(dst, h[:]...), gz...)
	sealRecord(dst[start:])
	return dst
}

// recordHeader returns a header for seq and receivedAt with the length and
// checksums left for sealRecord.
func recordHeader(seq int, receivedAt time.Time) [logHeader]byte {
	var h [logHeader]byte
	copy(h[:4], logMagic)
	binary.LittleEndian.PutUint32(h[12:], uint32(seq))
	binary.LittleEndian.PutUint64(h[20:], uint64(receivedAt.UnixNano()))
	return h
}

// sealRecord fills in the length and checksums of a record built in place:
// rec is a header from recordHeader followed by the gzip bytes.
func sealRecord(rec []byte) {
	binary.LittleEndian.PutUint32(rec[16:], uint32(len(rec)-logHeader))
	binary.LittleEndian.PutUint32(rec[8:], crc32.Checksum(rec[logHeader:], castagnoli))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:logHeader], castagnoli))
}

// scanLog reads a segment log of size bytes and returns its valid records,
// in file order, where the last one ends, and how many bytes of damaged
// records it skipped before that. The scan ends at the first header that
// does not check out or whose record the file cuts short. It fails only
// when reading fails.
func scanLog(ra io.ReaderAt, size int64) (recs []logRecord, end, skipped int64, err error) {
	buf := make([]byte, 64<<10)
	var h [logHeader]byte
	var damaged int64 // bytes of damaged records since the last valid one
	for off := int64(0); size-off >= logHeader; {
		if _, err := ra.ReadAt(h[:], off); err != nil {
			return recs, end, skipped, err
		}
		seq := binary.LittleEndian.Uint32(h[12:])
		n := int64(binary.LittleEndian.Uint32(h[16:]))
		if string(h[:4]) != logMagic || crc32.Checksum(h[8:], castagnoli) != binary.LittleEndian.Uint32(h[4:]) ||
			seq > maxSeq || n > maxLogRecord || n > size-off-logHeader {
			break // a torn or damaged header, or a record cut short: the end
		}
		crc := uint32(0)
		for pos, left := off+logHeader, n; left > 0; {
			k := int(min(left, int64(len(buf))))
			if _, err := ra.ReadAt(buf[:k], pos); err != nil {
				return recs, end, skipped, err
			}
			crc = crc32.Update(crc, castagnoli, buf[:k])
			pos, left = pos+int64(k), left-int64(k)
		}
		next := off + logHeader + n
		if crc != binary.LittleEndian.Uint32(h[8:]) {
			damaged += next - off
			off = next
			continue
		}
		at := int64(binary.LittleEndian.Uint64(h[20:]))
		recs = append(recs, logRecord{seq: int(seq), off: off, n: n, receivedAt: time.Unix(0, at).UTC()})
		skipped += damaged
		damaged, off, end = 0, next, next
	}
	return recs, end, skipped, nil
}

// tornTail reports whether the bytes of a log from end to size are what a
// crash leaves of one record being appended: less than a header, or a
// header that checks out with fewer bytes after it than it announces.
// Anything else (a header that does not check out) may be damage followed
// by records worth keeping.
func tornTail(ra io.ReaderAt, end, size int64) bool {
	if size-end < logHeader {
		return true
	}
	var h [logHeader]byte
	if _, err := ra.ReadAt(h[:], end); err != nil {
		return false
	}
	n := int64(binary.LittleEndian.Uint32(h[16:]))
	return string(h[:4]) == logMagic && crc32.Checksum(h[8:], castagnoli) == binary.LittleEndian.Uint32(h[4:]) &&
		n > size-end-logHeader
}
