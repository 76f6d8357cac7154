package inject

import (
	"encoding/binary"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// statelessDict is the most history flate.StatelessDeflate uses.
const statelessDict = 8 << 10

// statelessEncoder writes gzip, zlib or raw deflate where every Write is
// compressed on its own by flate.StatelessDeflate, with the previous 8 KiB
// of input as dictionary. A stream then keeps about 9 KiB between reads
// instead of the 0.8–1.2 MB of a stateful compressor (BENCH_NOTES.md),
// for output about a tenth larger. Every Write ends byte-aligned, like a
// sync flush, so Flush has nothing left to do.
type statelessEncoder struct {
	w       io.Writer
	format  encoding // encGzip or encDeflate
	raw     bool     // raw deflate, no zlib framing
	started bool
	sum     hash.Hash32
	size    uint32
	dict    [statelessDict]byte
	dictLen int
	err     error
}

func newStatelessEncoder(format encoding, raw bool, w io.Writer) *statelessEncoder {
	e := &statelessEncoder{format: format, raw: raw}
	if format == encGzip {
		e.sum = crc32.NewIEEE()
	} else {
		e.sum = adler32.New()
	}
	e.Reset(w)
	return e
}

// Reset starts a new stream to w.
func (e *statelessEncoder) Reset(w io.Writer) {
	e.w, e.started, e.size, e.dictLen, e.err = w, false, 0, 0, nil
	e.sum.Reset()
}

func (e *statelessEncoder) header() {
	if e.started {
		return
	}
	e.started = true
	switch {
	case e.format == encGzip:
		// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=4 (fastest) OS=255 (unknown)
		_, e.err = e.w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255})
	case !e.raw:
		// CMF: deflate, 32 KiB window; FLG: fastest, check bits.
		_, e.err = e.w.Write([]byte{0x78, 0x01})
	}
}

// Write compresses p and flushes it.
func (e *statelessEncoder) Write(p []byte) (int, error) {
	if len(p) == 0 || e.err != nil {
		return 0, e.err
	}
	e.header()
	if e.err == nil {
		e.err = flate.StatelessDeflate(e.w, p, false, e.dict[:e.dictLen])
	}
	if e.err != nil {
		return 0, e.err
	}
	e.sum.Write(p)
	e.size += uint32(len(p))
	if len(p) >= statelessDict {
		e.dictLen = copy(e.dict[:], p[len(p)-statelessDict:])
	} else {
		keep := min(e.dictLen, statelessDict-len(p))
		copy(e.dict[:keep], e.dict[e.dictLen-keep:e.dictLen])
		e.dictLen = keep + copy(e.dict[keep:], p)
	}
	return len(p), nil
}

// Flush is a no-op: every Write already ends on a byte boundary.
func (e *statelessEncoder) Flush() error { return e.err }

// Close writes the final block and the trailer.
func (e *statelessEncoder) Close() error {
	e.header()
	if e.err != nil {
		return e.err
	}
	if e.err = flate.StatelessDeflate(e.w, nil, true, nil); e.err != nil {
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
