package inject

import (
	"encoding/binary"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// historySize is how much earlier input a shared-compressor stream keeps
// as dictionary for the next write (BENCH_NOTES.md: 8 KiB is the knee).
const historySize = 8 << 10

// sharedDeflate is a pool of deflate compressors at one level. A stream
// borrows one for a single Write only, so compressors are held by the
// goroutines compressing right now, not by every response in flight.
type sharedDeflate struct {
	level int
	pool  sync.Pool
}

func (s *sharedDeflate) get(w io.Writer, dict []byte) *flate.Writer {
	if fw, ok := s.pool.Get().(*flate.Writer); ok {
		fw.ResetDict(w, dict)
		return fw
	}
	fw, _ := flate.NewWriterDict(w, s.level, dict) // level validated in Config.Validate
	return fw
}

func (s *sharedDeflate) put(fw *flate.Writer) {
	fw.Reset(io.Discard)
	s.pool.Put(fw)
}

// dictEncoder writes gzip, zlib or raw deflate without owning a
// compressor: each Write borrows one from a shared pool, primes it with
// the last 8 KiB of input (so matches reach across writes), compresses
// and sync-flushes. Between writes a stream holds ~9 KiB instead of the
// 0.8–1.2 MB of a private compressor. Every Write ends byte-aligned, so
// Flush has nothing left to do.
type dictEncoder struct {
	shared  *sharedDeflate
	w       io.Writer
	format  encoding // encGzip or encDeflate
	raw     bool     // raw deflate, no zlib framing
	started bool
	sum     hash.Hash32
	size    uint32
	dict    [historySize]byte
	dictLen int
	stored  [5]byte // a stored block's header (writeStored)
	err     error
}

func newDictEncoder(shared *sharedDeflate, format encoding, raw bool, w io.Writer) *dictEncoder {
	e := &dictEncoder{}
	e.setup(shared, format, raw, w)
	return e
}

// setup starts e as a new stream of format to w; a pooled encoder keeps
// its checksum when the format stays the same.
func (e *dictEncoder) setup(shared *sharedDeflate, format encoding, raw bool, w io.Writer) {
	if e.sum == nil || e.format != format {
		if format == encGzip {
			e.sum = crc32.NewIEEE()
		} else {
			e.sum = adler32.New()
		}
	}
	e.shared, e.format, e.raw = shared, format, raw
	e.Reset(w)
}

// Reset starts a new stream to w.
func (e *dictEncoder) Reset(w io.Writer) {
	e.w, e.started, e.size, e.dictLen, e.err = w, false, 0, 0, nil
	e.sum.Reset()
}

func (e *dictEncoder) header() {
	if e.started {
		return
	}
	e.started = true
	switch {
	case e.format == encGzip:
		_, e.err = e.w.Write(gzipHeader[:])
	case !e.raw:
		_, e.err = e.w.Write(zlibHeader[:])
	}
}

var (
	// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
	gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	// CMF: deflate, 32 KiB window; FLG: default level, check bits.
	zlibHeader = [2]byte{0x78, 0x9c}
)

// Write compresses p and flushes it.
func (e *dictEncoder) Write(p []byte) (int, error) {
	if len(p) == 0 || e.err != nil {
		return 0, e.err
	}
	e.header()
	if e.err != nil {
		return 0, e.err
	}
	fw := e.shared.get(e.w, e.dict[:e.dictLen])
	_, e.err = fw.Write(p)
	if e.err == nil {
		e.err = fw.Flush() // sync flush: byte-aligned, not final
	}
	e.shared.put(fw)
	if e.err != nil {
		return 0, e.err
	}
	e.record(p)
	return len(p), nil
}

// writeStored writes p (at most 65,535 bytes) as a stored block: for a
// few hundred bytes on the way to the client's first byte (the page's
// start and the tag), borrowing, priming and flushing a compressor costs
// more time than deflate would save bytes.
func (e *dictEncoder) writeStored(p []byte) {
	if len(p) > 0xffff {
		panic("inject: writeStored of more than 65,535 bytes")
	}
	if len(p) == 0 || e.err != nil {
		return
	}
	e.header()
	if e.err != nil {
		return
	}
	// BFINAL=0 BTYPE=00, then LEN and NLEN: the stream is byte-aligned.
	n := uint16(len(p))
	e.stored = [5]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}
	if _, e.err = e.w.Write(e.stored[:]); e.err != nil {
		return
	}
	if _, e.err = e.w.Write(p); e.err != nil {
		return
	}
	e.record(p)
}

// record adds p, just written, to the checksum, the size and the history
// the next write is primed with.
func (e *dictEncoder) record(p []byte) {
	e.sum.Write(p)
	e.size += uint32(len(p))
	if len(p) >= historySize {
		e.dictLen = copy(e.dict[:], p[len(p)-historySize:])
	} else {
		keep := min(e.dictLen, historySize-len(p))
		copy(e.dict[:keep], e.dict[e.dictLen-keep:e.dictLen])
		e.dictLen = keep + copy(e.dict[keep:], p)
	}
}

// Flush is a no-op: every Write already ends on a byte boundary.
func (e *dictEncoder) Flush() error { return e.err }

// finalBlock is an empty final stored block; the stream is byte-aligned
// after every Write, so it can simply be appended.
var finalBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// Close writes the final block and the trailer.
func (e *dictEncoder) Close() error {
	e.header()
	if e.err != nil {
		return e.err
	}
	if _, e.err = e.w.Write(finalBlock); e.err != nil {
		return e.err
	}
	var t [8]byte
	switch {
	case e.format == encGzip:
		binary.LittleEndian.PutUint32(t[:4], e.sum.Sum32())
		binary.LittleEndian.PutUint32(t[4:], e.size)
		_, e.err = e.w.Write(t[:8])
	case !e.raw:
		binary.BigEndian.PutUint32(t[:4], e.sum.Sum32())
		_, e.err = e.w.Write(t[:4])
	}
	return e.err
}
