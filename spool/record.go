package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"
)

// On-disk layout of a log file:
//
//	file header: magic "RGSPOOL4" | first LSN (uint64 LE)
//	records:     payload length (uint32 LE) | CRC-32C of payload (uint32 LE) | payload
//	payload:     LSN (uint64) | received at, Unix ns (int64) | seq (int64) |
//	             replay id len (uint16) | replay id | subject len (uint16) | subject |
//	             gzip len (uint32) | gzip | summary len (uint32) | summary | events
//	summary:     events (uint32) | first (int64) | last (int64) | clicks (uint32) |
//	             info count (uint32) | info count × (len (uint32) | JSON object)
//
// In "RGSPOOL4" files the gzip field is ingest's own compression of the
// scrubbed events (Segment.Gzip) and the events field is then empty.
// Older files are still read: "RGSPOOL1" payloads end with the subject and
// the events; "RGSPOOL2" payloads have the gzip field but no summary;
// "RGSPOOL3" payloads have both. In "RGSPOOL2" and "RGSPOOL3" files the
// gzip field held an upload's own compressed bytes, which are untrusted
// (bits a decoder ignores can carry data past the scrubber): it is skipped
// and the events are used.
// A record is valid only if its length fits, its checksum matches and its
// LSN is the one expected next; the first invalid record in the newest file
// marks a torn tail.
// formatVersion is the version of the files this spool writes; the file
// magic is "RGSPOOL" followed by the version digit.
const formatVersion = 4

// gzipOursVersion is the first version whose gzip field is ingest's own
// compression of the scrubbed events.
const gzipOursVersion = 4

const (
	fileMagic      = "RGSPOOL4"
	fileMagicV3    = "RGSPOOL3"
	fileMagicV1    = "RGSPOOL1"
	fileMagicV2    = "RGSPOOL2"
	fileHeaderSize = 16
	recHeaderSize  = 8
	payloadFixedV1 = 8 + 8 + 8 + 2 + 2
	payloadFixed   = payloadFixedV1 + 4 + 4
	// MaxSegmentBytes bounds one encoded segment; ingest limits uploads far
	// below it.
	MaxSegmentBytes = 64 << 20
	// noTime encodes a zero ReceivedAt, whose UnixNano is undefined.
	noTime = math.MinInt64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord reports a record that fails its checks.
var errBadRecord = errors.New("spool: bad record")

// encodeRecord returns the full record for seg with LSN and checksum left
// zero; the writer fills them in with sealRecord when it orders the batch.
func encodeRecord(seg Segment) ([]byte, error) { return encodeRecordInto(nil, seg) }

// encodeRecordInto is encodeRecord into dst's storage, which it reuses
// when large enough (every byte of the record is written).
func encodeRecordInto(dst []byte, seg Segment) ([]byte, error) {
	if len(seg.ReplayID) > math.MaxUint16 || len(seg.Subject) > math.MaxUint16 {
		return nil, fmt.Errorf("spool: replay id or subject longer than %d bytes", math.MaxUint16)
	}
	sum := encodeSummary(seg.Summary)
	n := payloadFixed + len(seg.ReplayID) + len(seg.Subject) + len(seg.Gzip) + len(sum) + len(seg.Events)
	if n > MaxSegmentBytes {
		return nil, fmt.Errorf("spool: segment of %d bytes exceeds %d", n, MaxSegmentBytes)
	}
	buf := slices.Grow(dst[:0], recHeaderSize+n)[:recHeaderSize+n]
	binary.LittleEndian.PutUint32(buf[0:], uint32(n))
	binary.LittleEndian.PutUint32(buf[4:], 0) // the checksum, from sealRecord
	p := buf[recHeaderSize:]
	binary.LittleEndian.PutUint64(p[0:], 0) // the LSN, from sealRecord
	at := int64(noTime)
	if !seg.ReceivedAt.IsZero() {
		at = seg.ReceivedAt.UnixNano()
	}
	binary.LittleEndian.PutUint64(p[8:], uint64(at))
	binary.LittleEndian.PutUint64(p[16:], uint64(int64(seg.Seq)))
	i := 24
	binary.LittleEndian.PutUint16(p[i:], uint16(len(seg.ReplayID)))
	i += 2
	i += copy(p[i:], seg.ReplayID)
	binary.LittleEndian.PutUint16(p[i:], uint16(len(seg.Subject)))
	i += 2
	i += copy(p[i:], seg.Subject)
	binary.LittleEndian.PutUint32(p[i:], uint32(len(seg.Gzip)))
	i += 4
	i += copy(p[i:], seg.Gzip)
	binary.LittleEndian.PutUint32(p[i:], uint32(len(sum)))
	i += 4
	i += copy(p[i:], sum)
	copy(p[i:], seg.Events)
	return buf, nil
}

// sealRecord stamps rec with its LSN and checksum.
func sealRecord(rec []byte, lsn uint64) {
	binary.LittleEndian.PutUint64(rec[recHeaderSize:], lsn)
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[recHeaderSize:], castagnoli))
}

// parseRecordHeader returns the payload length and checksum of a record
// header, rejecting lengths no valid record can have.
func parseRecordHeader(h []byte) (n int, sum uint32, err error) {
	n = int(binary.LittleEndian.Uint32(h[0:]))
	if n < payloadFixedV1 || n > MaxSegmentBytes {
		return 0, 0, fmt.Errorf("%w: length %d", errBadRecord, n)
	}
	return n, binary.LittleEndian.Uint32(h[4:]), nil
}

// decodePayload checks payload against sum and decodes it; version is
// the format of the file it comes from. The returned segment's Events,
// Gzip and Summary.Info alias payload.
func decodePayload(payload []byte, sum uint32, version int) (lsn uint64, seg Segment, err error) {
	if len(payload) < payloadFixedV1 {
		return 0, Segment{}, fmt.Errorf("%w: short payload", errBadRecord)
	}
	if crc32.Checksum(payload, castagnoli) != sum {
		return 0, Segment{}, fmt.Errorf("%w: checksum mismatch", errBadRecord)
	}
	lsn = binary.LittleEndian.Uint64(payload[0:])
	if at := int64(binary.LittleEndian.Uint64(payload[8:])); at != noTime {
		seg.ReceivedAt = time.Unix(0, at).UTC()
	}
	seg.Seq = int(int64(binary.LittleEndian.Uint64(payload[16:])))
	rest := payload[24:]
	field := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		l := int(binary.LittleEndian.Uint16(rest))
		if len(rest) < 2+l {
			return "", false
		}
		s := string(rest[2 : 2+l])
		rest = rest[2+l:]
		return s, true
	}
	var ok1, ok2 bool
	seg.ReplayID, ok1 = field()
	seg.Subject, ok2 = field()
	if !ok1 || !ok2 {
		return 0, Segment{}, fmt.Errorf("%w: field overruns payload", errBadRecord)
	}
	if version >= 2 {
		gz, r, ok := lenPrefixed(rest)
		if !ok {
			return 0, Segment{}, fmt.Errorf("%w: field overruns payload", errBadRecord)
		}
		// Before version 4 the field held the upload's own bytes: never
		// surfaced.
		if len(gz) > 0 && version >= gzipOursVersion {
			seg.Gzip = gz
		}
		rest = r
	}
	if version >= 3 {
		sum, r, ok := lenPrefixed(rest)
		if !ok {
			return 0, Segment{}, fmt.Errorf("%w: field overruns payload", errBadRecord)
		}
		// A summary that does not parse is dropped, not the record: the
		// store then reads the events themselves.
		seg.Summary = decodeSummary(sum)
		rest = r
	}
	if len(rest) > 0 {
		seg.Events = rest
	}
	return lsn, seg, nil
}

// lenPrefixed splits b into a uint32-length-prefixed field (capped, so
// appends cannot reach past it) and the rest.
func lenPrefixed(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	l := binary.LittleEndian.Uint32(b)
	if uint64(l) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+l : 4+l], b[4+l:], true
}

// encodeSummary returns the record form of sum; nil for no summary.
func encodeSummary(sum *Summary) []byte {
	if sum == nil {
		return nil
	}
	n := 4 + 8 + 8 + 4 + 4
	for _, e := range sum.Info {
		n += 4 + len(e)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(sum.Events))
	b = binary.LittleEndian.AppendUint64(b, uint64(sum.First))
	b = binary.LittleEndian.AppendUint64(b, uint64(sum.Last))
	b = binary.LittleEndian.AppendUint32(b, uint32(sum.Clicks))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sum.Info)))
	for _, e := range sum.Info {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

// decodeSummary parses the record form of a summary; Info aliases b. It
// returns nil for none or for one that does not parse.
func decodeSummary(b []byte) *Summary {
	if len(b) < 28 {
		return nil
	}
	sum := &Summary{
		Events: int(binary.LittleEndian.Uint32(b)),
		First:  int64(binary.LittleEndian.Uint64(b[4:])),
		Last:   int64(binary.LittleEndian.Uint64(b[12:])),
		Clicks: int(binary.LittleEndian.Uint32(b[20:])),
	}
	count := uint64(binary.LittleEndian.Uint32(b[24:]))
	rest := b[28:]
	if count > uint64(len(rest)/4) {
		return nil
	}
	sum.Info = make([][]byte, 0, int(count))
	for range count {
		e, r, ok := lenPrefixed(rest)
		if !ok {
			return nil
		}
		sum.Info = append(sum.Info, e)
		rest = r
	}
	if len(rest) != 0 {
		return nil
	}
	return sum
}

// fileHeader returns the header of a log file whose first record is lsn.
func fileHeader(firstLSN uint64) []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	binary.LittleEndian.PutUint64(h[8:], firstLSN)
	return h
}

// parseFileHeader returns the first LSN recorded in a file header and the
// file's format version.
func parseFileHeader(h []byte) (firstLSN uint64, version int, err error) {
	if len(h) < fileHeaderSize {
		return 0, 0, errors.New("spool: not a spool log file")
	}
	switch string(h[:8]) {
	case fileMagic:
		version = formatVersion
	case fileMagicV3:
		version = 3
	case fileMagicV2:
		version = 2
	case fileMagicV1:
		version = 1
	default:
		return 0, 0, errors.New("spool: not a spool log file")
	}
	return binary.LittleEndian.Uint64(h[8:]), version, nil
}
