package inject

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// Sending a spliced page's start ahead
//
// The first bytes of a spliced gzip page (splice.go) are its start up to
// the insertion point and the tag, sent as stored blocks. Finding them
// means decoding the page's first chunk, and on a proxy whose caches went
// cold since the last request, building the first block's Huffman tables
// is the largest part of the time to the first byte.
//
// A page kept precompressed starts with the same bytes on every request.
// pageStarts remembers, per path, the raw bytes the decoder consumed for
// the first chunk and what that chunk held before the insertion point.
// When a later body starts with the same raw bytes, the decoder must
// decode them to the same chunk, so the stream sends the remembered start
// and the tag at once and decodes the chunk afterwards (phAhead). The
// decoded chunk is still compared with what was sent; the comparison
// cannot fail (inflating is deterministic), and if it did, the response
// would fail rather than go on with a page that differs from the
// upstream's.
//
// Nothing is shared between visitors that their own response did not
// hold: a remembered start is sent only in a response whose own first
// bytes decode to it. Host and path (never the query string, at most
// maxStartKey bytes) and at most maxStartRaw + storedStart bytes per path
// are kept, in memory only, for at most maxStarts paths; when full, an
// arbitrary sixteenth is dropped. A start that failed its check is
// dropped too. The first chunk may take several reads (a first hand-out
// that ends in a BOM or a tag name, an empty first member): aheadStep
// reads as searchStep did. XHTML pages, whose insertion points differ,
// use only starts remembered from XHTML responses.

// maxStarts bounds the paths whose starts are remembered.
const maxStarts = 1024

// maxStartRaw bounds the raw bytes remembered per path: one fill of the
// splicer's raw buffer, within which the first chunk is nearly always
// decoded.
const maxStartRaw = 4 << 10

// errAhead fails a stream whose first chunk differs from the start it sent
// ahead.
var errAhead = errors.New("inject: the decoded page start differs from the one sent ahead")

// pageStart is a page's first decoded chunk up to its insertion point.
type pageStart struct {
	raw    []byte // the body's first bytes, through the last the decoder consumed for the chunk
	prefix []byte // the decoded bytes before the insertion point
	xml    bool   // found by the XHTML scanner, whose insertion points differ
}

// maxStartKey bounds the length of a remembered page's host and path, so
// that the memory kept is bounded in bytes, not only in paths.
const maxStartKey = 1 << 10

type pageStarts struct {
	mu sync.Mutex
	m  map[string]*pageStart
}

// get returns the start remembered for key, or nil. Entries are never
// modified: the caller may read it without the lock.
func (p *pageStarts) get(key string) *pageStart {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key]
}

// put remembers raw and prefix (copied) for key, unless they are already.
func (p *pageStarts) put(key string, raw, prefix []byte, xml bool) {
	if len(key) > maxStartKey || len(raw) > maxStartRaw || len(prefix) > storedStart {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.m[key]; old != nil && old.xml == xml && bytes.Equal(old.raw, raw) && bytes.Equal(old.prefix, prefix) {
		return
	}
	if p.m == nil {
		p.m = make(map[string]*pageStart)
	}
	if _, ok := p.m[key]; !ok && len(p.m) >= maxStarts {
		drop := maxStarts / 16
		for k := range p.m {
			delete(p.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	p.m[key] = &pageStart{raw: bytes.Clone(raw), prefix: bytes.Clone(prefix), xml: xml}
}

// forget drops ps, if it is still what key holds: a start that failed
// its check is not sent again.
func (p *pageStarts) forget(key string, ps *pageStart) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[key] == ps {
		delete(p.m, key)
	}
}

// sendAhead sends ps's start and the markup if the body's raw bytes read
// so far begin with ps.raw, and reports whether it did. It runs right
// after the splicer read the gzip header, before any decoding.
func (s *stream) sendAhead(ps *pageStart) bool {
	raw := &s.sp.raw
	d, ok := s.enc.(*dictEncoder)
	if !ok || ps.xml != s.sc.xml || raw.base != 0 || raw.w < len(ps.raw) || len(ps.prefix)+len(s.markup) > storedStart ||
		!bytes.Equal(raw.buf[:len(ps.raw)], ps.raw) {
		return false
	}
	d.writeStored(ps.prefix)
	d.writeStored(s.markup)
	_ = s.enc.Flush()
	if s.tee != nil {
		s.tee.stop() // sent: there is no passing the body through unchanged any more
	}
	s.ahead = ps
	s.phase = phAhead
	s.c.m.sentAhead()
	return true
}

// aheadStep decodes the first chunk after its start was sent ahead, reading
// as searchStep did when it remembered the start (a first read may hand
// out nothing, or nothing the search can release: it reads on), checks
// that the chunk is the start sent, and goes on as searchStep would have.
func (s *stream) aheadStep() {
	ps := s.ahead
	buf := *s.scratch
	n, err := s.in.Read(buf[s.hold:])
	if err == nil {
		if n == 0 {
			s.searchEagerAgain() // as searchStep does
			return               // searchStep reads again
		}
		k := len(ps.prefix)
		chunk := buf[:s.hold+n]
		v, at := s.sc.scan(chunk[s.hold:])
		switch {
		case v == found && at == int64(k) && bytes.Equal(chunk[:k], ps.prefix):
			s.ahead = nil
			s.inserted, s.insertAt = true, at
			s.aimCut()
			s.phase = phCopy
			s.hold = copy(buf, chunk[k:])
			return
		case v == undecided && s.sc.safe() == 0 && s.sc.off <= s.limit:
			// Nothing to release yet: searchStep held the chunk back
			// and read on with more eager hand-outs.
			s.sp.inf.SetEager(searchEager)
			s.hold = len(chunk)
			return
		}
	}
	if err == nil || err == io.EOF {
		// The chunk differs (or the page ends in it, which the remembered
		// one did not): what was sent is not this page's start.
		err = errAhead
	}
	if err == errAhead {
		s.starts.forget(s.startKey, ps)
	}
	s.ahead = nil
	s.fail(err)
}

// rememberStart records the page's start after searchStep found the
// insertion point at k in the first chunk, which it sent as stored blocks.
func (s *stream) rememberStart(chunk []byte, k int) {
	raw := &s.sp.raw
	if s.starts == nil || raw.base != 0 {
		return
	}
	s.starts.put(s.startKey, raw.buf[:raw.r], chunk[:k], s.sc.xml)
}
