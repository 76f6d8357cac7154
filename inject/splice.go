package inject

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/replaygate/replaygate/inject/internal/inflate"
)

// Splicing a gzip page
//
// A gzip page that goes out gzip need not be re-encoded to its end. The
// markup shifts every later byte, which breaks only the back-references
// that reach from after the insertion point to before it; deflate
// references reach at most 32 KiB back. So once the decoder stands at a
// symbol 32 KiB past the insertion point, everything up to there has been
// re-encoded (with the markup) and every later symbol decodes the same
// after the markup as before: the rest of the upstream stream is passed
// on as it is, without decoding it.
//
// The decoder is made to hand out its output right at that point (a copy
// may overshoot it by up to 258 bytes). If it stands between blocks
// there, the upstream's next block follows the re-encoded part; inside a
// Huffman block, a new block header with the same codes does
// (inflate.Resume), and then the rest of the upstream's block. Stored
// blocks are cut only between blocks.
//
// Blocks and symbols start at any bit, and stored blocks depend on the
// position within a byte, so the re-encoded part ends, after its sync
// flush, with empty blocks that leave it as many bits into a byte as the
// upstream's symbol or block starts at (inflate.Pad, and in Resume before
// the header); that byte is shared. The gzip trailer is
// recomputed from the upstream's: its CRC-32 of the original page and the
// CRC-32s of both prefixes give the CRC-32 of the new page (crc32Shift),
// and the size grows by the markup.
//
// Only bodies whose end the transport can tell from a truncation are
// spliced (a Content-Length, chunked, HTTP/2): after the cut, a broken-off
// body must fail, not get a made-up trailer. Up to the cut every member's
// trailer is checked and further members are decoded, as gzip readers do;
// a body whose first member ends before the cut is never cut.
//
// What is not checked is what is not decoded: a body whose first member
// reaches past the cut and is followed by more members (web servers send
// one member per response) is spliced as if the last eight bytes were
// the first member's trailer, and reaches the client broken. A corrupt
// upstream stream reaches the client corrupt, as in a pass-through, and
// the CRC-32 recomputed for a page of 4 GiB or more (whose size gzip
// records modulo 2^32) is wrong.

// spliceDistance is how far past the insertion point the upstream's
// blocks stop referring to bytes before it: deflate's largest distance.
const spliceDistance = 32 << 10

// firstEager and searchEager are how much decoded output the inflater
// hands out at a time while the insertion point is searched: first a
// little, since <head> is usually within the page's first few hundred
// bytes and every decoded byte delays the page's first bytes (in a
// running proxy, with cold caches, about 8 ns each); then more. Once the
// point is found, aimCut sets where the hand-outs fall.
const (
	firstEager  = 512
	searchEager = 4 << 10
)

// rawKeep is how many consumed input bytes rawReader keeps: more than the
// inflater's bit buffer can hold, so the byte a block starts in is there.
const rawKeep = 16

var (
	errGzipHeader  = errors.New("inject: not a gzip header this rewriter can read")
	errGzipSum     = errors.New("inject: gzip trailer does not match the page (CRC-32 or size)")
	errNoTrailer   = errors.New("inject: gzip body ended without its trailer")
	errNoProgress  = errors.New("inject: upstream body returned no data")
	errUnreachable = errors.New("inject: spliced block start is no longer buffered")
)

// rawReader buffers the compressed input of a splice-capable stream for
// the inflater, keeping the last few bytes it consumed.
type rawReader struct {
	src  io.Reader
	buf  []byte
	r, w int
	base int64 // input offset of buf[0]
	err  error
}

func (z *rawReader) fill() error {
	if z.err != nil {
		return z.err
	}
	if drop := z.r - rawKeep; drop > 0 {
		copy(z.buf, z.buf[drop:z.w])
		z.base += int64(drop)
		z.r -= drop
		z.w -= drop
	}
	for i := 0; i < 100; i++ {
		n, err := z.src.Read(z.buf[z.w:])
		z.w += n
		if err != nil {
			z.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	z.err = errNoProgress
	return z.err
}

// ReadByte implements io.ByteReader for the inflater.
func (z *rawReader) ReadByte() (byte, error) {
	for z.r == z.w {
		if err := z.fill(); err != nil {
			return 0, err
		}
	}
	c := z.buf[z.r]
	z.r++
	return c, nil
}

// Read implements io.Reader (stored blocks, headers).
func (z *rawReader) Read(p []byte) (int, error) {
	for z.r == z.w {
		if err := z.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, z.buf[z.r:z.w])
	z.r += n
	return n, nil
}

// offset is the input offset of the next unread byte.
func (z *rawReader) offset() int64 { return z.base + int64(z.r) }

// readGzipHeader consumes a gzip member header (RFC 1952, 2.3).
// It returns io.EOF only if the input ends before the header's first
// byte: a header cut short is an error, not the end of the body.
func readGzipHeader(z *rawReader) error {
	start := z.offset()
	err := skipGzipHeader(z)
	if err == io.EOF && z.offset() > start {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func skipGzipHeader(z *rawReader) error {
	var h [10]byte
	for i := range h {
		c, err := z.ReadByte() // not io.ReadFull: h would escape
		if err != nil {
			return err
		}
		h[i] = c
	}
	const fhcrc, fextra, fname, fcomment = 1 << 1, 1 << 2, 1 << 3, 1 << 4
	flg := h[3]
	if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 || flg&^(fhcrc|fextra|fname|fcomment|1) != 0 {
		return errGzipHeader
	}
	if flg&fextra != 0 {
		var xlen [2]byte
		if _, err := io.ReadFull(z, xlen[:]); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, z, int64(binary.LittleEndian.Uint16(xlen[:]))); err != nil {
			return err
		}
	}
	for _, f := range []byte{fname, fcomment} {
		if flg&f == 0 {
			continue
		}
		for {
			c, err := z.ReadByte()
			if err != nil {
				return err
			}
			if c == 0 {
				break
			}
		}
	}
	if flg&fhcrc != 0 {
		if _, err := io.CopyN(io.Discard, z, 2); err != nil {
			return err
		}
	}
	return nil
}

// splicer is the decoding side of a gzip stream that may be spliced.
type splicer struct {
	raw   rawReader
	inf   *inflate.Inflater
	start int64 // input offset of the deflate data
	pos   int64 // decoded bytes read

	memberCRC  uint32 // CRC-32 of the current member's bytes
	memberSize uint32 // their number, modulo 2^32
	multi      bool   // past the first gzip member: no cut any more
}

// cutState is what a stream needs after its cut to pass the rest of the
// upstream body on and end it with a new trailer.
type cutState struct {
	cutPos  int64   // decoded bytes before the cut
	cutCRC  uint32  // their CRC-32
	outCRC  uint32  // CRC-32 of the rewritten bytes before the cut
	outSize uint32  // their number, modulo 2^32
	tail    [8]byte // the last upstream bytes read, held back: the trailer, at the end
	tailN   int
	rawErr  error // what ended the input already read at the cut
	idle    int   // empty reads in a row
}

// Read implements io.Reader: decoded bytes, counted and summed. At the end
// of a gzip member it checks the member's trailer and goes on with the
// next member, if any, as gzip readers do.
func (sp *splicer) Read(p []byte) (int, error) {
	n, err := sp.inf.Read(p)
	sp.pos += int64(n)
	sp.memberCRC = crc32.Update(sp.memberCRC, crc32.IEEETable, p[:n])
	sp.memberSize += uint32(n)
	if err == io.EOF {
		err = sp.endMember()
	}
	return n, err
}

// endMember checks the trailer of the member just decoded and starts the
// next member. It returns io.EOF at the end of the body.
func (sp *splicer) endMember() error {
	var t [8]byte
	if _, err := io.ReadFull(&sp.raw, t[:]); err != nil {
		if err == io.EOF {
			err = errNoTrailer
		}
		return err
	}
	if binary.LittleEndian.Uint32(t[:4]) != sp.memberCRC || binary.LittleEndian.Uint32(t[4:]) != sp.memberSize {
		return errGzipSum
	}
	if _, err := sp.raw.ReadByte(); err != nil {
		return err // io.EOF: the end
	}
	sp.raw.r-- // not consumed: the next member's header starts there
	if err := readGzipHeader(&sp.raw); err != nil {
		return err
	}
	sp.multi = true
	sp.memberCRC, sp.memberSize = 0, 0
	sp.inf.Reset(&sp.raw)
	return nil
}

// startSplice prepares s.in for a gzip body that may be spliced.
func (s *stream) startSplice(src io.Reader) error {
	sp := s.c.getSplicer()
	s.sp = sp
	sp.raw.src = src
	if err := readGzipHeader(&sp.raw); err != nil {
		return err
	}
	sp.start = sp.raw.offset()
	sp.inf.Reset(&sp.raw)
	sp.inf.SetEager(firstEager) // the page's start comes out early (time to first byte)
	s.in = sp
	return nil
}

// searchEagerAgain restores the search's eager hand-outs after a decoded
// read that held nothing: the decoder went on to the next gzip member
// (an empty first member), and inflate.Reset dropped them.
func (s *stream) searchEagerAgain() {
	if s.sc.off == 0 {
		s.sp.inf.SetEager(firstEager)
	} else {
		s.sp.inf.SetEager(searchEager)
	}
}

// aimCut makes the decoder's next hand-out fall where the stream may
// first be cut, spliceDistance past the insertion point (or at the end of
// its window, if that comes first): at a symbol start, usually, and so a
// cut (maybeCut). Past that point, where a hand-out fell inside a copy
// that reached the window's end, the next one comes right after that
// copy.
func (s *stream) aimCut() {
	sp := s.sp
	if need := s.insertAt + spliceDistance - sp.pos; need > 0 {
		sp.inf.SetEager(int(min(need, spliceDistance)))
	} else {
		sp.inf.SetEager(1)
	}
}

// maybeCut cuts the stream if the decoder stands at a block start or,
// inside a Huffman block, at a symbol start far enough past the insertion
// point; everything decoded has been encoded.
func (s *stream) maybeCut() {
	sp := s.sp
	// Only within the first member: its CRC is then the whole prefix's.
	if !s.inserted || sp.multi {
		return
	}
	if sp.pos < s.insertAt+spliceDistance {
		s.aimCut()
		return
	}
	// lead goes before the upstream's bytes from the cut on: empty blocks
	// that align the stream with the cut's bit (Pad) or, inside a block,
	// those and a header for the rest of the block (Resume); its last
	// byte is shared with the upstream's.
	var lead []byte
	bits, ok := sp.inf.BlockStart()
	if ok {
		lead, _ = inflate.Pad(int(bits % 8))
	} else if bits, ok = sp.inf.SymbolStart(); ok {
		lead = sp.inf.Resume(int(bits % 8))
	} else {
		s.aimCut()
		return
	}
	e := s.enc.(*dictEncoder) // every Write ends byte-aligned
	at := sp.start + bits/8 - sp.raw.base
	if at < 0 || at > int64(sp.raw.w) || (bits%8 != 0 && at == int64(sp.raw.w)) {
		s.fail(errUnreachable) // cannot happen: rawKeep covers the bit buffer
		return
	}
	s.cutAt, s.cutIn = sp.pos, sp.start+bits/8
	s.cut = &cutState{cutPos: sp.pos, cutCRC: sp.memberCRC, outCRC: e.sum.Sum32(), outSize: e.size}
	rest := sp.raw.buf[at:sp.raw.w]
	if r := int(bits % 8); r > 0 {
		s.out.Write(lead[:len(lead)-1])
		s.out.WriteByte(lead[len(lead)-1] | rest[0]&^(1<<r-1))
		rest = rest[1:]
	} else {
		s.out.Write(lead)
	}
	s.c.m.cut()
	s.c.m.passed(len(rest))
	s.pushRaw(rest)
	s.cut.rawErr = sp.raw.err // the input may have ended (or failed) with these bytes
	s.phase = phSplice
	s.c.putEncoder(s.enc) // unfinished on purpose: the upstream's blocks end the stream
	s.enc = nil
	s.sp = nil
	s.c.putSplicer(sp)
	s.releaseScratch()
}

// pushRaw passes upstream bytes on, holding back the last eight (the
// trailer, at the end).
func (s *stream) pushRaw(b []byte) {
	c := s.cut
	if len(b) >= 8 {
		s.out.Write(c.tail[:c.tailN])
		s.out.Write(b[:len(b)-8])
		c.tailN = copy(c.tail[:], b[len(b)-8:])
		return
	}
	all := append(c.tail[:c.tailN:c.tailN], b...)
	if over := len(all) - 8; over > 0 {
		s.out.Write(all[:over])
		all = all[over:]
	}
	c.tailN = copy(c.tail[:], all)
}

// spliceRead copies the rest of the upstream body, then the new trailer.
func (s *stream) spliceRead(p []byte) (int, error) {
	c := s.cut
	var n, got int // bytes returned in p, bytes read from the upstream
	var err error
	switch {
	case c.rawErr != nil:
		err, c.rawErr = c.rawErr, nil
	case len(p) < 64:
		var small [512]byte
		got, err = s.src.Read(small[:])
		s.pushRaw(small[:got])
	default:
		// Into all of p: a buffered reader below (the transport's, 32 KiB)
		// passes reads at least its size straight through; 8 bytes fewer
		// and every other read returned the 8 it kept (BENCH_NOTES.md).
		got, err = s.src.Read(p)
		n = c.hold(p, got)
	}
	s.c.m.passed(got)
	c.idle++
	if got > 0 || err != nil {
		c.idle = 0
	} else if c.idle > 100 {
		err = errNoProgress
	}
	switch {
	case err == io.EOF:
		if c.tailN < 8 {
			s.err = errNoTrailer
			break
		}
		upCRC := binary.LittleEndian.Uint32(c.tail[:4])
		upSize := binary.LittleEndian.Uint32(c.tail[4:])
		after := upSize - uint32(c.cutPos) // decoded bytes after the cut, modulo 2^32
		var t [8]byte
		binary.LittleEndian.PutUint32(t[:4], upCRC^crc32Shift(c.cutCRC^c.outCRC, after))
		binary.LittleEndian.PutUint32(t[4:], c.outSize+after)
		s.out.Write(t[:])
		s.phase = phEOF
		s.cut = nil
		if s.onEnd != nil {
			s.onEnd(c.cutPos+int64(after), c.cutPos)
		}
	case err != nil:
		s.err = err
	}
	return n, nil
}

// hold puts the bytes held back before the got bytes just read into p
// and holds back the last eight of them all. It returns how many bytes of
// p go on.
func (c *cutState) hold(p []byte, got int) int {
	all := c.tailN + got
	if all <= 8 {
		c.tailN += copy(c.tail[c.tailN:], p[:got])
		return 0
	}
	var next [8]byte // the last eight of tail and p[:got]
	if got >= 8 {
		copy(next[:], p[got-8:got])
		copy(p[c.tailN:], p[:got-8])
		copy(p, c.tail[:c.tailN])
	} else {
		keep := 8 - got // bytes of the tail held back again
		copy(next[keep:], p[:got])
		copy(next[:keep], c.tail[c.tailN-keep:c.tailN])
		copy(p, c.tail[:c.tailN-keep])
	}
	c.tail, c.tailN = next, 8
	return all - 8
}

func (c *codecs) getSplicer() *splicer {
	if sp, ok := c.splicers.Get().(*splicer); ok {
		return sp
	}
	return &splicer{raw: rawReader{buf: make([]byte, 4096+rawKeep)}, inf: inflate.New(&rawReader{})}
}

func (c *codecs) putSplicer(sp *splicer) {
	buf, inf := sp.raw.buf, sp.inf
	*sp = splicer{raw: rawReader{buf: buf}, inf: inf}
	c.splicers.Put(sp)
}

// crc32Shift returns crc multiplied by x^(8n) modulo the CRC-32
// polynomial: what a CRC-32 of some bytes contributes to the CRC-32 of
// those bytes followed by n more (zlib's crc32_combine, which is linear in
// its first argument).
func crc32Shift(crc, n uint32) uint32 {
	// x^(2^k) for k = 3, 4, …: n bytes are 8n bits.
	p := uint32(1) << 31  // x^0
	sq := uint32(1) << 30 // x^1
	for k := 0; k < 3; k++ {
		sq = multModP(sq, sq)
	}
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = multModP(sq, p)
		}
		sq = multModP(sq, sq)
	}
	return multModP(p, crc)
}

// multModP multiplies a and b modulo the reflected CRC-32 polynomial.
func multModP(a, b uint32) uint32 {
	const poly = 0xedb88320
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return p
}
