package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"
)

const (
	// maxRetryAfter caps a destination's Retry-After.
	maxRetryAfter = time.Hour
	// maxAhead is how many segments a forwarder may have finished past
	// its oldest unfinished one.
	maxAhead = 1024
)

func uint64From(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// Run delivers spooled segments to every forwarder until ctx is cancelled
// or the spool is closed, checkpointing progress and deleting delivered
// files as it goes. Each forwarder is fed independently, with up to
// Config.Concurrency deliveries in flight (in LSN order when it is 1), each
// retried with exponential backoff and jitter. Run returns nil after an
// orderly stop.
func (s *Spool) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.running {
		s.mu.Unlock()
		return errors.New("spool: Run called twice")
	}
	s.running = true
	s.runDone = make(chan struct{})
	cursors := append([]*cursor(nil), s.cursors...)
	s.mu.Unlock()
	defer close(s.runDone)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	var wg sync.WaitGroup
	for _, c := range cursors {
		wg.Go(func() { s.deliverLoop(ctx, c) })
	}
	t := time.NewTicker(s.cfg.CheckpointInterval)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-t.C:
			s.checkpoint()
		case <-ctx.Done():
			done = true
		}
	}
	wg.Wait()
	s.checkpoint()
	return nil
}

// reader walks the log for one forwarder, ahead of its cursor by the
// segments in flight. Only that forwarder's deliverLoop uses it.
type reader struct {
	s   *Spool
	c   *cursor
	lf  *logFile
	f   *os.File
	off int64  // offset in lf of the next record to read
	lsn uint64 // LSN expected there
}

func (s *Spool) newReader(c *cursor) *reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.files), func(i int) bool { return s.files[i].base > c.pos }) - 1
	i = max(i, 0)
	r := &reader{s: s, c: c, lf: s.files[i], off: c.pos - s.files[i].base, lsn: c.lsn}
	if r.off < fileHeaderSize {
		r.off = fileHeaderSize
	}
	return r
}

func (r *reader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// job is one step of a forwarder's progress: a segment to deliver, or
// (seg unset, done from the start) a jump over a file boundary or a
// corrupt record. When it and every job before it are done, the cursor
// moves to (nextLSN, nextPos).
type job struct {
	seg     Segment
	isSeg   bool
	done    bool
	nextLSN uint64
	nextPos int64
}

// poll returns the next job without waiting, or, when every committed
// record has been read, a channel that is closed at the next commit.
func (r *reader) poll() (*job, <-chan struct{}) {
	s := r.s
	s.mu.Lock()
	if r.lsn >= s.nextLSN {
		defer s.mu.Unlock()
		return nil, s.commitCh
	}
	if r.off >= r.lf.size {
		defer s.mu.Unlock()
		// Past the end of a sealed file: move to the next one. LSNs may
		// jump if a corrupt file was set aside.
		var nextFile *logFile
		for _, lf := range s.files {
			if lf.firstLSN > r.lf.firstLSN {
				nextFile = lf
				break
			}
		}
		if nextFile == nil {
			// Only a skipped corrupt tail of the active file gets here.
			r.off, r.lsn = r.lf.size, s.nextLSN
			return &job{done: true, nextLSN: r.lsn, nextPos: s.endPos}, nil
		}
		r.close()
		r.lf, r.off = nextFile, fileHeaderSize
		r.lsn = max(r.lsn, nextFile.firstLSN)
		return &job{done: true, nextLSN: r.lsn, nextPos: nextFile.base + fileHeaderSize}, nil
	}
	lf, want := r.lf, r.lsn
	s.mu.Unlock()

	seg, lsn, end, err := r.read(lf, r.off)
	if err == nil && lsn >= want {
		r.off, r.lsn = end, lsn+1
		return &job{seg: seg, isSeg: true, nextLSN: lsn + 1, nextPos: lf.base + end}, nil
	}
	// A committed record that does not read back is disk corruption. If
	// its length still leads to the next record, skip just it; otherwise
	// skip the rest of the file rather than stall.
	s.m.corrupt.Inc()
	if end > 0 && end < lf.size {
		if _, nextLSN, _, nerr := r.read(lf, end); nerr == nil && nextLSN == want+1 {
			s.log.Error().Str("forwarder", r.c.fwd.Name()).Uint64("lsn", want).
				Str("file", lf.path).AnErr("cause", err).Msg("corrupt spool record skipped")
			r.off, r.lsn = end, want+1
			return &job{done: true, nextLSN: r.lsn, nextPos: lf.base + end}, nil
		}
	}
	s.log.Error().Str("forwarder", r.c.fwd.Name()).Uint64("lsn", want).
		Str("file", lf.path).AnErr("cause", err).Msg("corrupt spool record; skipping rest of file")
	s.mu.Lock()
	defer s.mu.Unlock()
	r.off = lf.size
	if lf == s.files[len(s.files)-1] {
		r.lsn = s.nextLSN
		return &job{done: true, nextLSN: r.lsn, nextPos: s.endPos}, nil
	}
	return &job{done: true, nextLSN: r.lsn, nextPos: lf.base + lf.size}, nil
}

// read reads and verifies the record at off in lf. When the header is sane
// but the payload is not, it still returns the offset past the record.
func (r *reader) read(lf *logFile, off int64) (Segment, uint64, int64, error) {
	if r.f == nil {
		f, err := os.Open(lf.path)
		if err != nil {
			return Segment{}, 0, 0, err
		}
		r.f = f
	}
	var h [recHeaderSize]byte
	if _, err := r.f.ReadAt(h[:], off); err != nil {
		return Segment{}, 0, 0, err
	}
	n, sum, err := parseRecordHeader(h[:])
	if err != nil {
		return Segment{}, 0, 0, err
	}
	payload := make([]byte, n)
	if _, err := r.f.ReadAt(payload, off+recHeaderSize); err != nil {
		return Segment{}, 0, 0, err
	}
	end := off + recHeaderSize + int64(n)
	lsn, seg, err := decodePayload(payload, sum, lf.version)
	if err != nil {
		return Segment{}, 0, end, err
	}
	return seg, lsn, end, nil
}

// InFlightLimiter is implemented by forwarders that want a different
// number of concurrent deliveries than the spool's configured concurrency
// (1 keeps strict order).
type InFlightLimiter interface {
	MaxInFlight() int
}

// deliverLoop feeds one forwarder until ctx ends, keeping up to its
// in-flight limit of deliveries running. The cursor advances only over
// the contiguous prefix of finished jobs, so a restart redelivers what was
// in flight, never skips it.
func (s *Spool) deliverLoop(ctx context.Context, c *cursor) {
	limit := s.cfg.Concurrency
	if l, ok := c.fwd.(InFlightLimiter); ok && l.MaxInFlight() > 0 {
		limit = l.MaxInFlight()
	}
	r := s.newReader(c)
	defer r.close()
	var queue []*job // in LSN order, oldest first
	type result struct {
		j  *job
		ok bool
	}
	finished := make(chan result, limit)
	inFlight := 0

	advance := func() {
		var last *job
		for len(queue) > 0 && queue[0].done {
			last, queue = queue[0], queue[1:]
		}
		if last != nil {
			s.mu.Lock()
			c.lsn, c.pos = last.nextLSN, last.nextPos
			s.mu.Unlock()
		}
	}
	for {
		var wait <-chan struct{}
		// maxAhead bounds how far reading runs past a segment that is
		// still being retried, and so the memory the queue holds.
		if inFlight < limit && len(queue) < maxAhead {
			j, w := r.poll()
			if j != nil {
				queue = append(queue, j)
				if j.isSeg {
					inFlight++
					go func() { finished <- result{j, s.deliver(ctx, c, j.seg)} }()
				} else {
					advance()
				}
				continue
			}
			wait = w
		}
		select {
		case res := <-finished:
			inFlight--
			res.j.done, res.j.seg = res.ok, Segment{}
			advance()
		case <-wait:
		case <-ctx.Done():
			for ; inFlight > 0; inFlight-- {
				res := <-finished
				res.j.done = res.ok
			}
			advance()
			return
		}
	}
}

// deliver tries seg until it is delivered or permanently rejected (true),
// or ctx ends (false).
func (s *Spool) deliver(ctx context.Context, c *cursor, seg Segment) bool {
	name := c.fwd.Name()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
		start := time.Now()
		err := c.fwd.Forward(actx, seg)
		cancel()
		s.m.forwardSeconds.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err == nil {
			s.m.delivered.WithLabelValues(name).Inc()
			if c.failing.CompareAndSwap(true, false) {
				s.log.Info().Str("forwarder", name).Msg("forwarder recovered")
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if IsPermanent(err) {
			s.m.forwardErrors.WithLabelValues(name, "permanent").Inc()
			s.log.Warn().Str("forwarder", name).Str("key", seg.Key()).Err(err).
				Msg("segment rejected by destination; skipped")
			return true
		}
		s.m.forwardErrors.WithLabelValues(name, "retryable").Inc()
		wait := backoff(s.cfg.RetryMin, s.cfg.RetryMax, attempt)
		if ra := min(RetryAfterOf(err), maxRetryAfter); ra > wait {
			wait = ra
		}
		if c.failing.CompareAndSwap(false, true) {
			s.log.Warn().Str("forwarder", name).Err(err).Msg("forwarder failing; retrying with backoff")
		} else {
			s.log.Debug().Str("forwarder", name).Int("attempt", attempt).Dur("wait", wait).Err(err).Msg("retrying")
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// backoff returns the wait before retry number attempt (from 1): an
// exponential step from lo capped at hi, with "equal jitter" (half fixed,
// half random) so that retries of many forwarders spread out.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := hi
	if attempt < 32 {
		if step := lo << (attempt - 1); step > 0 && step < hi {
			d = step
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}
