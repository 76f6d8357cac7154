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
// bytes decode to it. Host and path (never the query string) and at most
// maxStartRaw + storedStart bytes per path are kept, in memory only, for
// at most maxStarts paths; when full, an arbitrary sixteenth is dropped.

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
}

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
func (p *pageStarts) put(key string, raw, prefix []byte) {
	if len(raw) > maxStartRaw || len(prefix) > storedStart {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.m[key]; old != nil && bytes.Equal(old.raw, raw) && bytes.Equal(old.prefix, prefix) {
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
	p.m[key] = &pageStart{raw: bytes.Clone(raw), prefix: bytes.Clone(prefix)}
}

// sendAhead sends ps's start and the markup if the body's raw bytes read
// so far begin with ps.raw, and reports whether it did. It runs right
// after the splicer read the gzip header, before any decoding.
func (s *stream) sendAhead(ps *pageStart) bool {
	raw := &s.sp.raw
	d, ok := s.enc.(*dictEncoder)
	if !ok || raw.base != 0 || raw.w < len(ps.raw) || len(ps.prefix)+len(s.markup) > storedStart ||
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

// aheadStep decodes the first chunk after its start was sent ahead, checks
// that it is the start sent, and goes on as searchStep would have.
func (s *stream) aheadStep() {
	ps := s.ahead
	s.ahead = nil
	buf := *s.scratch
	n, err := s.in.Read(buf)
	k := len(ps.prefix)
	if n > 0 && err == nil {
		if v, at := s.sc.scan(buf[:n]); v == found && at == int64(k) && bytes.Equal(buf[:k], ps.prefix) {
			s.inserted, s.insertAt = true, at
			s.aimCut()
			s.phase = phCopy
			s.hold = copy(buf, buf[k:n])
			return
		}
	}
	if err == nil || err == io.EOF {
		// The chunk differs (or the page ends in it, which the remembered
		// one did not): what was sent is not this page's start.
		err = errAhead
	}
	s.fail(err)
}

// rememberStart records the page's start after searchStep found the
// insertion point at k in the first chunk, which it sent as stored blocks.
func (s *stream) rememberStart(chunk []byte, k int) {
	raw := &s.sp.raw
	if s.starts == nil || raw.base != 0 {
		return
	}
	s.starts.put(s.startKey, raw.buf[:raw.r], chunk[:k])
}
