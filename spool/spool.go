package spool

import (
	"github.com/replaygate/replaygate/internal/durable"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

const (
	// maxBatch and maxBatchBytes bound one group commit.
	maxBatch      = 256
	maxBatchBytes = 16 << 20
	cursorFile    = "cursors.json"
	logSuffix     = ".log"
)

// Spool is a durable, append-only queue of segments with one delivery
// cursor per forwarder. Append is safe for concurrent use.
type Spool struct {
	cfg     Config
	dir     string
	log     zerolog.Logger
	m       *metrics
	fwds    []Forwarder
	reqs    chan *appendReq
	stopW   chan struct{} // closed to stop the writer
	writerD chan struct{} // closed when the writer has stopped
	closing chan struct{} // closed by Close; wakes readers
	lock    *os.File      // holds the directory lock until Close
	appends sync.WaitGroup
	ckMu    sync.Mutex // serializes checkpoints

	// active is the file the writer appends to; only the writer and Close
	// touch it.
	active *os.File

	mu       sync.Mutex
	files    []*logFile // by first LSN; the last one is active
	nextLSN  uint64     // every LSN below it is durable
	endPos   int64      // logical position of the durable end
	commitCh chan struct{}
	cursors  []*cursor
	failed   error
	closed   bool
	running  bool
	runDone  chan struct{}
}

// logFile is one file of the log. base is the logical position of its
// first byte, so that byte distances can be measured across files.
type logFile struct {
	path     string
	firstLSN uint64
	base     int64
	size     int64 // durable size
	version  int   // format version (formatVersion for files this spool wrote)
}

// cursor is one forwarder's delivery progress: every LSN below lsn has been
// delivered (or skipped as permanently rejected).
type cursor struct {
	fwd       Forwarder
	lsn       uint64
	pos       int64
	persisted uint64
	failing   atomic.Bool // logged as failing; set by delivery workers
}

type appendReq struct {
	rec  []byte
	done chan error
}

// cursorState is the JSON checkpoint of delivery progress.
type cursorState struct {
	Version int               `json:"version"`
	Cursors map[string]uint64 `json:"cursors"`
}

// Open opens or creates the spool under dataDir/spool, recovers from a
// crash (truncating a torn tail) and positions one cursor per forwarder.
// Forwarder names must be unique; a new name starts with every segment
// still pending for another forwarder. Call Run to deliver and Close when
// done.
func Open(cfg Config, dataDir string, forwarders []Forwarder, log zerolog.Logger, reg prometheus.Registerer) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	seen := map[string]bool{}
	for _, f := range forwarders {
		if f == nil || f.Name() == "" || seen[f.Name()] {
			return nil, errors.New("spool: forwarders need unique, non-empty names")
		}
		seen[f.Name()] = true
	}
	dir := filepath.Join(dataDir, "spool")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		lock:     lock,
		cfg:      cfg,
		dir:      dir,
		log:      log.With().Str("component", "spool").Logger(),
		m:        newMetrics(),
		fwds:     forwarders,
		reqs:     make(chan *appendReq, maxBatch),
		stopW:    make(chan struct{}),
		writerD:  make(chan struct{}),
		closing:  make(chan struct{}),
		commitCh: make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := s.loadCursors(); err != nil {
		s.active.Close()
		lock.Close()
		return nil, err
	}
	if reg != nil {
		if err := s.m.register(reg, s); err != nil {
			s.active.Close()
			lock.Close()
			return nil, fmt.Errorf("spool: register metrics: %w", err)
		}
	}
	for _, f := range forwarders {
		s.m.forwardErrors.WithLabelValues(f.Name(), "retryable")
		s.m.forwardErrors.WithLabelValues(f.Name(), "permanent")
		s.m.delivered.WithLabelValues(f.Name())
	}
	s.compact()
	go s.writeLoop()
	segs, bytes := s.Depth()
	s.log.Info().Uint64("next_lsn", s.nextLSN).Int64("pending_segments", segs).
		Int64("pending_bytes", bytes).Int("files", len(s.files)).Msg("spool opened")
	return s, nil
}

func logName(firstLSN uint64) string { return fmt.Sprintf("%020d%s", firstLSN, logSuffix) }

// createFile creates a log file starting at firstLSN, durably.
func (s *Spool) createFile(firstLSN uint64) (*os.File, *logFile, error) {
	path := filepath.Join(s.dir, logName(firstLSN))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Write(fileHeader(firstLSN)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = durable.SyncDir(s.dir)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("spool: create %s: %w", filepath.Base(path), err)
	}
	return f, &logFile{path: path, firstLSN: firstLSN, size: fileHeaderSize, version: formatVersion}, nil
}

// recordBuffers hold records being appended: a segment's record is as
// large as its compressed events and summary, and allocating (and zeroing) it anew for every
// segment showed in profiles.
var recordBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledRecord keeps the buffers of unusually large segments out of
// recordBuffers.
const maxPooledRecord = 4 << 20

// Append writes seg to the spool and returns once it is durable. It
// returns ErrFull when the spool is at its configured cap, and ErrClosed
// after Close.
func (s *Spool) Append(seg Segment) error {
	start := time.Now()
	bp := recordBuffers.Get().(*[]byte)
	rec, err := encodeRecordInto(*bp, seg)
	defer func() {
		// Written (or refused) by the time Append returns: the buffer
		// goes back for the next segment, unless unusually large.
		if cap(rec) <= maxPooledRecord {
			*bp = rec[:0]
			recordBuffers.Put(bp)
		}
	}()
	if err != nil {
		s.m.appends.WithLabelValues("error").Inc()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.appends.Add(1)
	s.mu.Unlock()
	defer s.appends.Done()

	req := &appendReq{rec: rec, done: make(chan error, 1)}
	s.reqs <- req
	err = <-req.done
	switch {
	case err == nil:
		s.m.appends.WithLabelValues("ok").Inc()
		s.m.appendSeconds.Observe(time.Since(start).Seconds())
	case errors.Is(err, ErrFull):
		s.m.appends.WithLabelValues("full").Inc()
	default:
		s.m.appends.WithLabelValues("error").Inc()
	}
	return err
}

// writeLoop is the single writer: it takes whatever appends are waiting
// and commits them with one write pass and one fsync.
func (s *Spool) writeLoop() {
	defer close(s.writerD)
	batch := make([]*appendReq, 0, maxBatch)
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.stopW:
			return
		}
		batch = append(batch[:0], first)
		size := len(first.rec)
	gather:
		for len(batch) < maxBatch && size < maxBatchBytes {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				size += len(r.rec)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// commit admits what fits under the caps, writes it, fsyncs, publishes the
// new durable end, and answers every request in batch.
func (s *Spool) commit(batch []*appendReq) {
	results := make([]error, len(batch))
	s.mu.Lock()
	failed := s.failed
	needRoll := s.files[len(s.files)-1].size >= s.cfg.FileBytes
	s.mu.Unlock()
	if failed == nil && needRoll {
		failed = s.roll()
	}

	s.mu.Lock()
	lf := s.files[len(s.files)-1]
	live := s.endPos - s.minPosLocked()
	pendingSegs := int64(s.nextLSN - s.minLSNLocked())
	s.mu.Unlock()
	var admitted []int
	for i, r := range batch {
		switch {
		case failed != nil:
			results[i] = failed
		case live+int64(len(r.rec)) > s.cfg.MaxBytes,
			s.cfg.MaxSegments > 0 && pendingSegs+1 > s.cfg.MaxSegments:
			results[i] = ErrFull
		default:
			admitted = append(admitted, i)
			live += int64(len(r.rec))
			pendingSegs++
		}
	}

	if len(admitted) > 0 {
		off0 := lf.size
		off := off0
		lsn := s.nextLSN // only this goroutine advances nextLSN
		var err error
		for _, i := range admitted {
			rec := batch[i].rec
			sealRecord(rec, lsn)
			lsn++
			if _, err = s.active.WriteAt(rec, off); err != nil {
				break
			}
			off += int64(len(rec))
		}
		if err == nil {
			err = s.active.Sync()
		}
		if err != nil {
			// After a failed write or fsync the file's contents are
			// unknown; stop accepting rather than acknowledge on top.
			err = fmt.Errorf("spool: write: %w", err)
			s.active.Truncate(off0)
			s.log.Error().Err(err).Msg("spool write failed; refusing further appends until restart")
			s.mu.Lock()
			s.failed = err
			s.mu.Unlock()
			for _, i := range admitted {
				results[i] = err
			}
		} else {
			s.mu.Lock()
			lf.size = off
			s.endPos += off - off0
			s.nextLSN = lsn
			close(s.commitCh)
			s.commitCh = make(chan struct{})
			s.mu.Unlock()
			s.m.batchSegments.Observe(float64(len(admitted)))
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// roll seals the active file and starts a new one at the next LSN.
func (s *Spool) roll() error {
	f, lf, err := s.createFile(s.nextLSN)
	if err != nil {
		s.log.Error().Err(err).Msg("spool cannot start a new file")
		return err
	}
	old := s.active
	s.mu.Lock()
	lf.base = s.endPos
	s.endPos += lf.size
	s.files = append(s.files, lf)
	s.active = f
	s.mu.Unlock()
	old.Close()
	return nil
}

func (s *Spool) minPosLocked() int64 {
	p := s.endPos
	for _, c := range s.cursors {
		p = min(p, c.pos)
	}
	return p
}

func (s *Spool) minLSNLocked() uint64 {
	l := s.nextLSN
	for _, c := range s.cursors {
		l = min(l, c.lsn)
	}
	return l
}

// Depth returns the segments and bytes spooled but not yet delivered to
// every forwarder. Readiness checks and metrics use it.
func (s *Spool) Depth() (segments, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.nextLSN - s.minLSNLocked()), s.endPos - s.minPosLocked()
}

// Pending returns, per forwarder name, the segments not yet delivered to it.
func (s *Spool) Pending() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.cursors))
	for _, c := range s.cursors {
		m[c.fwd.Name()] = int64(s.nextLSN - c.lsn)
	}
	return m
}

// Err returns the error that stopped the spool accepting appends (a failed
// write or fsync), or nil while it is healthy.
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Close waits for in-flight appends, stops delivery, saves the cursors and
// closes the log. Cancel Run's context first for an orderly stop; Close
// also stops a running Run. It does not close the forwarders.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	running, runDone := s.running, s.runDone
	s.mu.Unlock()

	s.appends.Wait()
	close(s.stopW)
	<-s.writerD
	close(s.closing)
	if running {
		<-runDone
	}
	err := s.checkpoint()
	if cerr := s.active.Close(); err == nil {
		err = cerr
	}
	s.lock.Close()
	return err
}
