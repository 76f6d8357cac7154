package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"time"
)

// The segment log
//
// A replay's segments are records appended to one file, segments.log, in
// the order they arrive (not necessarily seq order):
//
//	magic "RGS1" | CRC-32C (uint32 LE) of what follows it in the record |
//	seq (uint32 LE) | gzip length n (uint32 LE) | received at, Unix ns
//	(int64 LE) | n bytes: one gzip member, the segment's JSON array
//
// A record is written at the end of the valid log and flushed before
// Forward returns; records of one replay are written one at a time, each
// after the previous one's flush. A crash can therefore leave only the last
// record torn, and Open cuts off whatever follows the last record that
// checks out (a damaged record inside the log is skipped, not taken as its
// end). A seq appears once, except when a segment whose record was
// damaged is delivered again: the last record of a seq counts.
//
// One file per replay instead of one per segment: a file is created (an
// inode allocated) once per replay, and a segment costs one write and one
// shared flush instead of a file creation, a rename and two flushes
// (docs/benchmarks.md).

const (
	logName      = "segments.log"
	logMagic     = "RGS1"
	logHeader    = 24
	maxLogRecord = 64 << 20 // bounds the gzip of one segment
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logRecord locates one segment in the log.
type logRecord struct {
	seq        int
	off        int64 // where the record (its header) starts
	n          int64 // gzip bytes, from off+logHeader
	receivedAt time.Time
}

// appendRecord appends the record of gz (a whole gzip member) to dst, which
// must be empty or hold whole records.
func appendRecord(dst []byte, seq int, receivedAt time.Time, gz []byte) []byte {
	h := recordHeader(seq, receivedAt)
	start := len(dst)
	dst = append(append(dst, h[:]...), gz...)
	sealRecord(dst[start:])
	return dst
}

// sealRecord fills in the length and checksum of a record built in place:
// rec is a header whose seq and time are set, followed by the gzip bytes.
func sealRecord(rec []byte) {
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(rec)-logHeader))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], castagnoli))
}

// recordHeader returns a header for seq and receivedAt with the length and
// checksum left for sealRecord.
func recordHeader(seq int, receivedAt time.Time) [logHeader]byte {
	var h [logHeader]byte
	copy(h[:4], logMagic)
	binary.LittleEndian.PutUint32(h[8:], uint32(seq))
	binary.LittleEndian.PutUint64(h[16:], uint64(receivedAt.UnixNano()))
	return h
}

// errBadRecord marks a record that is cut short or does not check out.
var errBadRecord = errors.New("store: bad segment record")

// scanLog reads a segment log of size bytes and returns its valid records,
// in file order, where the last one ends, and how many bytes before that
// were skipped. A record that does not check out ends the log when no
// valid record follows it (a record torn by a crash); otherwise (a
// corruption inside the file) the scan skips to the next valid record, so
// a damaged record does not take the later ones with it. It fails only
// when reading fails.
func scanLog(ra io.ReaderAt, size int64) (recs []logRecord, end, skipped int64, err error) {
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; {
		rec, err := readRecordAt(ra, off, size, buf)
		if errors.Is(err, errBadRecord) {
			next, err := resync(ra, off, size, buf)
			if err != nil {
				return recs, end, skipped, err
			}
			if next < 0 {
				break
			}
			skipped += next - off
			off = next
			continue
		}
		if err != nil {
			return recs, end, skipped, err
		}
		recs = append(recs, rec)
		off += logHeader + rec.n
		end = off
	}
	return recs, end, skipped, nil
}

// readRecordAt reads and checks the record at off.
func readRecordAt(ra io.ReaderAt, off, size int64, buf []byte) (logRecord, error) {
	var h [logHeader]byte
	if size-off < logHeader {
		return logRecord{}, errBadRecord
	}
	if _, err := ra.ReadAt(h[:], off); err != nil {
		return logRecord{}, err
	}
	seq := binary.LittleEndian.Uint32(h[8:])
	n := int64(binary.LittleEndian.Uint32(h[12:]))
	if string(h[:4]) != logMagic || seq > maxSeq || n > maxLogRecord || n > size-off-logHeader {
		return logRecord{}, errBadRecord
	}
	crc := crc32.Checksum(h[8:], castagnoli)
	for pos, left := off+logHeader, n; left > 0; {
		k := int(min(left, int64(len(buf))))
		if _, err := ra.ReadAt(buf[:k], pos); err != nil {
			return logRecord{}, err
		}
		crc = crc32.Update(crc, castagnoli, buf[:k])
		pos, left = pos+int64(k), left-int64(k)
	}
	if crc != binary.LittleEndian.Uint32(h[4:]) {
		return logRecord{}, errBadRecord
	}
	at := int64(binary.LittleEndian.Uint64(h[16:]))
	return logRecord{seq: int(seq), off: off, n: n, receivedAt: time.Unix(0, at).UTC()}, nil
}

// resync returns the offset of the first valid record after off, or -1.
func resync(ra io.ReaderAt, off, size int64, buf []byte) (int64, error) {
	window := make([]byte, 1<<20)
	for pos := off + 1; pos <= size-logHeader; {
		k, err := ra.ReadAt(window[:min(int64(len(window)), size-pos)], pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, err
		}
		w := window[:k]
		for i := 0; ; {
			j := bytes.Index(w[i:], []byte(logMagic))
			if j < 0 {
				break
			}
			cand := pos + int64(i+j)
			if _, err := readRecordAt(ra, cand, size, buf); err == nil {
				return cand, nil
			} else if !errors.Is(err, errBadRecord) {
				return -1, err
			}
			i += j + 1
		}
		if k < len(logMagic) {
			break
		}
		pos += int64(k - len(logMagic) + 1) // a magic may straddle windows
	}
	return -1, nil
}
