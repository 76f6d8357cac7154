package inject

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"
)

type phase uint8

const (
	phSearch phase = iota // looking for the insertion point
	phCopy                // insertion done (or abandoned): copy the rest
	phRaw                 // abandoned a compressed body: replay the raw bytes, then copy src
	phSplice              // cut a gzip body: pass the rest of it on (splice.go)
	phAhead               // the page's start was sent ahead: decode and check it (pagestart.go)
	phEOF
)

// errRawLimit stops a decoder that consumes raw input without producing
// enough output to decide (e.g. endless brotli metadata).
var errRawLimit = errors.New("inject: raw bytes held during search exceed the limit")

// rawTee records the raw upstream bytes while the insertion point is being
// searched, so that a compressed body can be passed through byte for byte
// when the search is abandoned.
type rawTee struct {
	src   io.Reader
	c     *codecs
	held  *bytes.Buffer // pooled, while on
	limit int
	on    bool
}

func (t *rawTee) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if t.on {
		if t.held == nil {
			t.held = t.c.getTeeBuf()
		}
		t.held.Write(p[:n])
		if t.held.Len() > t.limit && err == nil {
			err = errRawLimit
		}
	}
	return n, err
}

// stop ends the recording and returns its buffer.
func (t *rawTee) stop() {
	t.on = false
	if t.held != nil {
		t.c.putTeeBuf(t.held)
		t.held = nil
	}
}

// stream is the rewriting body: it reads the upstream body, inserts the
// markup once, and re-encodes in the response's content coding.
//
// Output produced while searching a compressed body is held back (and the
// raw input kept) until the insertion point is found, so that giving up
// can still pass the original bytes through. Afterwards each upstream read
// is decoded, encoded and flushed before Read returns, so progressive
// pages reach the client as the upstream sends them.
type stream struct {
	c      *codecs
	src    io.ReadCloser
	tee    *rawTee // nil unless the fallback is byte-for-byte (same coding in and out, compressed)
	inEnc  encoding
	outEnc encoding
	dec    decoder
	in     io.Reader // decoded input; src itself for identity
	enc    encoder   // nil for identity output
	sc     scanner
	markup []byte
	limit  int64 // MaxHeadBytes

	scratch *[]byte
	hold    int // scratch[:hold] are decoded bytes not yet emitted
	out     bytes.Buffer
	phase   phase
	err     error

	inserted bool  // the markup was inserted
	insertAt int64 // at this offset of the decoded document
	closed   atomic.Bool

	onEnd      func(decoded, cutAt int64) // called at a clean end of a spliceable stream
	spliceable bool                       // gzip in and out: the body may be cut (splice.go)
	sp         *splicer                   // its decoder, until the cut
	cut        *cutState                  // after the cut: what the trailer needs
	cutAt      int64                      // decoded offset of the cut, 0 if none
	cutIn      int64                      // input offset of the byte the cut is in

	starts   *pageStarts // nil: page starts are not remembered (pagestart.go)
	startKey string      // the page's key in starts
	ahead    *pageStart  // sent ahead, not yet checked
}

// newStream wraps src. The decoder is created on the first Read: creating
// it reads from src, which must not happen in the response hook.
func newStream(c *codecs, src io.ReadCloser, inEnc, outEnc encoding, xml bool, markup []byte, limit int) *stream {
	s := &stream{c: c, src: src, inEnc: inEnc, outEnc: outEnc, sc: newScanner(xml), markup: markup, limit: int64(limit)}
	s.spliceable = c.splice && inEnc == encGzip && outEnc == encGzip
	if inEnc != encIdentity && inEnc == outEnc {
		// Raw input is at most a little more than the decoded bytes
		// searched plus one decoder read-ahead.
		s.tee = &rawTee{src: src, c: c, limit: limit + 64<<10, on: true}
	}
	return s
}

// Read implements io.Reader.
func (s *stream) Read(p []byte) (int, error) {
	for {
		if s.out.Len() > 0 && (s.phase != phSearch || s.tee == nil) {
			n, _ := s.out.Read(p)
			return n, nil
		}
		if s.err != nil {
			return 0, s.err
		}
		if s.closed.Load() {
			return 0, errors.New("inject: read after close")
		}
		switch s.phase {
		case phEOF:
			return 0, io.EOF
		case phRaw:
			n, err := s.src.Read(p)
			if err == io.EOF {
				s.phase = phEOF
			}
			return n, err
		case phSplice:
			if n, _ := s.spliceRead(p); n > 0 {
				return n, nil
			}
		case phAhead:
			s.aheadStep()
		case phCopy:
			if s.enc == nil && s.inEnc == encIdentity {
				// Identity after the insertion: plain pass-through.
				if s.out.Cap() > 0 {
					s.out = bytes.Buffer{} // drained: do not hold its memory for the rest of the body
				}
				n, err := s.src.Read(p)
				if err == io.EOF {
					s.finish()
				}
				return n, err
			}
			s.copyStep()
		case phSearch:
			s.searchStep()
		}
	}
}

func (s *stream) start() error {
	s.scratch = s.c.getScratch()
	if s.inEnc == encIdentity {
		s.in = s.src
	} else {
		var r io.Reader = s.src
		if s.tee != nil {
			r = s.tee
		}
		if s.spliceable {
			if err := s.startSplice(r); err != nil {
				return err
			}
			s.enc = s.c.getDictEncoder(encGzip, false, &s.out)
			return nil
		}
		d, err := s.c.getDecoder(s.inEnc, r)
		s.dec = d
		if err != nil {
			return err
		}
		s.in = d.r
	}
	if s.outEnc != encIdentity {
		// Raw deflate in, raw deflate out: the client evidently copes.
		s.enc = s.c.getEncoder(s.outEnc, s.dec.raw, false, &s.out)
	}
	return nil
}

// storedStart is the most of the page's start and the markup that a
// shared-compressor stream sends as stored blocks (writeStored): on a
// page's first bytes time counts more than a few dozen bytes.
const storedStart = 2 << 10

// emit sends decoded bytes towards the client.
func (s *stream) emit(b []byte) {
	if len(b) == 0 {
		return
	}
	if s.enc != nil {
		_, _ = s.enc.Write(b) // writes into s.out, which cannot fail
		return
	}
	s.out.Write(b)
}

func (s *stream) searchStep() {
	if s.scratch == nil {
		if err := s.start(); err != nil {
			s.abandon(err)
			return
		}
		if s.sp != nil && s.starts != nil {
			if ps := s.starts.get(s.startKey); ps != nil && s.sendAhead(ps) {
				return
			}
		}
	}
	buf := *s.scratch
	n, err := s.in.Read(buf[s.hold:])
	if n > 0 {
		chunk := buf[:s.hold+n]
		base := s.sc.off - int64(s.hold) // document offset of chunk[0]
		v, at := s.sc.scan(buf[s.hold : s.hold+n])
		switch v {
		case found:
			k := int(at - base)
			s.inserted, s.insertAt = true, at
			if s.sp != nil {
				s.aimCut()
			}
			if d, ok := s.enc.(*dictEncoder); ok && k+len(s.markup) <= storedStart {
				d.writeStored(chunk[:k])
				d.writeStored(s.markup)
				if s.sp != nil && base == 0 && err == nil {
					s.rememberStart(chunk, k)
				}
			} else {
				s.emit(chunk[:k])
				s.emit(s.markup)
			}
			s.phase = phCopy
			if s.enc != nil && err == nil {
				// Send the page's start and our tag at once (time to first
				// byte, and the browser can fetch the gate early); the
				// rest of the chunk is encoded with the next read.
				s.hold = copy(buf, chunk[k:])
				if s.tee != nil {
					s.tee.stop()
				}
				_ = s.enc.Flush()
				return
			}
			s.emit(chunk[k:])
			s.hold = 0
			if s.enc == nil && s.inEnc == encIdentity {
				s.releaseScratch() // the rest is read straight into the caller's buffer
			}
			if s.tee != nil {
				s.tee.stop()
			}
		case giveUp:
			s.hold += n // everything read is original and still unsent
			s.abandon(nil)
			if err == nil || s.phase == phRaw {
				return
			}
		case undecided:
			if s.sp != nil {
				s.sp.inf.SetEager(searchEager)
			}
			k := int(s.sc.safe() - base)
			s.emit(chunk[:k])
			s.hold = copy(buf, chunk[k:])
			if s.sc.off > s.limit {
				s.abandon(nil)
				if err == nil || s.phase == phRaw {
					return
				}
			}
		}
	}
	switch {
	case err == nil:
		if s.enc != nil && n > 0 {
			_ = s.enc.Flush()
		}
		if n == 0 && s.sp != nil {
			s.searchEagerAgain()
		}
	case s.phase == phSearch && (err == io.EOF || s.tee != nil):
		// No insertion point before the end, or the compressed input is
		// broken: leave the body as it was.
		s.abandon(err)
	case err == io.EOF:
		s.end()
	default:
		s.fail(err)
	}
}

func (s *stream) copyStep() {
	buf := *s.scratch
	if s.hold > 0 {
		// The rest of the chunk the insertion point was found in: sent
		// before reading on, which may wait for a progressive upstream.
		_, _ = s.enc.Write(buf[:s.hold])
		s.hold = 0
		_ = s.enc.Flush()
		return
	}
	n, err := s.in.Read(buf)
	if n > 0 {
		_, _ = s.enc.Write(buf[:n])
	}
	switch {
	case err == nil:
		if n > 0 {
			_ = s.enc.Flush()
		}
		if s.sp != nil {
			s.maybeCut()
		}
	case err == io.EOF:
		s.end()
	default:
		s.fail(err)
	}
}

// abandon stops searching. A compressed body is replayed from its raw
// bytes; an identity body simply continues (everything emitted so far is
// the original). cause is the read or decode error, if any.
func (s *stream) abandon(cause error) {
	if cause == nil || cause == io.EOF {
		s.c.m.noInsertionPoint()
	}
	if s.tee != nil {
		s.out.Reset()
		s.phase = phRaw
		if s.tee.held != nil {
			s.out.Write(s.tee.held.Bytes())
		}
		s.tee.stop()
		s.tee = nil
		if s.enc != nil {
			s.enc = nil // dropped, not pooled: it holds a half-written stream
		}
		s.sp = nil
		s.releaseScratch()
		return
	}
	if s.hold > 0 {
		s.emit((*s.scratch)[:s.hold])
		s.hold = 0
	}
	s.phase = phCopy
	if s.enc == nil && s.inEnc == encIdentity {
		s.releaseScratch() // plain pass-through from here on
	}
	if cause == io.EOF {
		s.end()
	} else if cause != nil {
		s.fail(cause)
	}
}

// end finishes the output after the input's clean end.
func (s *stream) end() {
	if s.hold > 0 {
		s.emit((*s.scratch)[:s.hold])
		s.hold = 0
	}
	if s.enc != nil {
		_ = s.enc.Close()
	}
	s.finish()
}

// fail flushes what was produced and reports err after it.
func (s *stream) fail(err error) {
	if s.enc != nil {
		_ = s.enc.Flush()
		s.enc = nil
	}
	s.err = err
}

// finish returns the pooled parts; called from the reading goroutine only.
func (s *stream) finish() {
	s.phase = phEOF
	if s.enc != nil {
		s.c.putEncoder(s.enc)
		s.enc = nil
	}
	if s.dec.r != nil {
		s.c.putDecoder(s.inEnc, s.dec)
		s.dec = decoder{}
	}
	if s.sp != nil {
		if s.onEnd != nil {
			s.onEnd(s.sp.pos, 0) // decoded to the end without a cut
		}
		s.c.putSplicer(s.sp)
		s.sp = nil
	}
	s.releaseScratch()
}

func (s *stream) releaseScratch() {
	if s.scratch != nil {
		s.c.putScratch(s.scratch)
		s.scratch = nil
	}
}

// Close closes the upstream body. Pooled parts of an unfinished stream are
// left to the garbage collector, because Close may race with Read.
func (s *stream) Close() error {
	s.closed.Store(true)
	return s.src.Close()
}
