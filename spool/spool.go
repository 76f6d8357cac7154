package spool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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
	s := &Spool{
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
		return nil, err
	}
	if err := s.loadCursors(); err != nil {
		s.active.Close()
		return nil, err
	}
	if reg != nil {
		if err := s.m.register(reg, s); err != nil {
			s.active.Close()
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

// recover lists the log files, truncates a torn tail in the newest one and
// opens it for appending.
func (s *Spool) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(s.dir, name)) // an interrupted checkpoint
			continue
		}
		if !strings.HasSuffix(name, logSuffix) {
			continue
		}
		lsn, err := strconv.ParseUint(strings.TrimSuffix(name, logSuffix), 10, 64)
		if err != nil {
			continue
		}
		path := filepath.Join(s.dir, name)
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.files = append(s.files, &logFile{path: path, firstLSN: lsn, size: st.Size()})
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].firstLSN < s.files[j].firstLSN })

	// Sealed files were fully synced before the next one was created; one
	// with a bad header is set aside rather than read.
	kept := s.files[:0]
	for i, lf := range s.files {
		hdrLSN, err := readFileHeader(lf.path)
		if err == nil && hdrLSN == lf.firstLSN {
			kept = append(kept, lf)
			continue
		}
		if i == len(s.files)-1 {
			// The newest file was being created when the process died: it
			// holds no acknowledged record.
			s.log.Warn().Str("file", filepath.Base(lf.path)).Msg("removing half-created spool file")
			if err := os.Remove(lf.path); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		s.log.Error().Str("file", filepath.Base(lf.path)).Msg("spool file has a bad header; set aside as .corrupt")
		if err := os.Rename(lf.path, lf.path+".corrupt"); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	s.files = kept

	if len(s.files) == 0 {
		// Nothing on disk: continue numbering after any saved cursor so
		// that no forwarder believes new records were already delivered.
		first := uint64(1)
		for _, v := range s.readCheckpoint() {
			first = max(first, v)
		}
		f, lf, err := s.createFile(first)
		if err != nil {
			return err
		}
		s.files = []*logFile{lf}
		s.active = f
		s.nextLSN = first
	} else {
		last := s.files[len(s.files)-1]
		next, err := s.recoverTail(last)
		if err != nil {
			return err
		}
		s.nextLSN = next
		f, err := os.OpenFile(last.path, os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.active = f
	}
	var base int64
	for _, lf := range s.files {
		lf.base = base
		base += lf.size
	}
	s.endPos = base
	return nil
}

// readFileHeader returns the first LSN stored in a file's header.
func readFileHeader(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := make([]byte, fileHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, err
	}
	return parseFileHeader(h)
}

// recoverTail validates every record of the newest file, truncates it after
// the last valid one, and returns the next LSN.
func (s *Spool) recoverTail(lf *logFile) (uint64, error) {
	f, err := os.OpenFile(lf.path, os.O_RDWR, 0o600)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(fileHeaderSize, io.SeekStart); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	good := int64(fileHeaderSize)
	next := lf.firstLSN
	hdr := make([]byte, recHeaderSize)
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			break
		}
		n, sum, err := parseRecordHeader(hdr)
		if err != nil {
			break
		}
		if cap(payload) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			break
		}
		lsn, _, err := decodePayload(payload, sum)
		if err != nil || lsn != next {
			break
		}
		next++
		good += int64(recHeaderSize + n)
	}
	if good < lf.size {
		s.log.Warn().Str("file", filepath.Base(lf.path)).Int64("bytes", lf.size-good).
			Msg("truncating torn tail of spool (records never acknowledged)")
		if err := f.Truncate(good); err != nil {
			return 0, fmt.Errorf("spool: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("spool: truncate torn tail: %w", err)
		}
		lf.size = good
	}
	return next, nil
}

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
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("spool: create %s: %w", filepath.Base(path), err)
	}
	return f, &logFile{path: path, firstLSN: firstLSN, size: fileHeaderSize}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readCheckpoint returns the saved cursors, or nil when there are none or
// the file cannot be read (delivery then restarts from the oldest record:
// duplicates, never loss).
func (s *Spool) readCheckpoint() map[string]uint64 {
	b, err := os.ReadFile(filepath.Join(s.dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var st cursorState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("unreadable spool checkpoint; redelivering everything spooled")
		return nil
	}
	return st.Cursors
}

// loadCursors positions one cursor per forwarder from the checkpoint.
func (s *Spool) loadCursors() error {
	saved := s.readCheckpoint()
	oldest := s.files[0].firstLSN
	var known []uint64
	for _, f := range s.fwds {
		if v, ok := saved[f.Name()]; ok {
			known = append(known, v)
		}
	}
	for _, f := range s.fwds {
		lsn, ok := saved[f.Name()]
		if !ok {
			// A new forwarder gets everything still pending for the others.
			lsn = oldest
			if len(known) > 0 {
				lsn = known[0]
				for _, v := range known {
					lsn = min(lsn, v)
				}
			}
		}
		lsn = min(max(lsn, oldest), s.nextLSN)
		at, pos, err := s.locate(lsn)
		if err != nil {
			return err
		}
		c := &cursor{fwd: f, lsn: at, pos: pos, persisted: at}
		if !ok || at != lsn {
			c.persisted = 0 // make the first checkpoint save it
		}
		s.cursors = append(s.cursors, c)
	}
	return nil
}

// locate finds the first record at or after lsn and returns its LSN and
// logical position.
func (s *Spool) locate(lsn uint64) (uint64, int64, error) {
	i := sort.Search(len(s.files), func(i int) bool { return s.files[i].firstLSN > lsn }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(s.files); i++ {
		lf := s.files[i]
		cur, off := lf.firstLSN, int64(fileHeaderSize)
		if cur >= lsn {
			return cur, lf.base + off, nil
		}
		f, err := os.Open(lf.path)
		if err != nil {
			return 0, 0, fmt.Errorf("spool: %w", err)
		}
		h := make([]byte, recHeaderSize+8)
		for off < lf.size && cur < lsn {
			if _, err := f.ReadAt(h, off); err != nil {
				break
			}
			n, _, err := parseRecordHeader(h)
			if err != nil {
				break
			}
			cur = uint64From(h[recHeaderSize:]) + 1
			off += int64(recHeaderSize + n)
		}
		f.Close()
		if cur >= lsn && off <= lf.size || i == len(s.files)-1 {
			return cur, lf.base + min(off, lf.size), nil
		}
	}
	return s.nextLSN, s.endPos, nil
}

// Append writes seg to the spool and returns once it is durable. It
// returns ErrFull when the spool is at its configured cap, and ErrClosed
// after Close.
func (s *Spool) Append(seg Segment) error {
	start := time.Now()
	rec, err := encodeRecord(seg)
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
	return err
}

// checkpoint saves the cursors if they moved and deletes files that every
// forwarder has passed.
func (s *Spool) checkpoint() error {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.mu.Lock()
	st := cursorState{Version: 1, Cursors: make(map[string]uint64, len(s.cursors))}
	changed := false
	for _, c := range s.cursors {
		st.Cursors[c.fwd.Name()] = c.lsn
		changed = changed || c.lsn != c.persisted
	}
	s.mu.Unlock()
	if changed {
		if err := s.writeCheckpoint(st); err != nil {
			s.log.Error().Err(err).Msg("spool checkpoint failed")
			return err
		}
		s.mu.Lock()
		for _, c := range s.cursors {
			c.persisted = st.Cursors[c.fwd.Name()]
		}
		s.mu.Unlock()
	}
	s.compact()
	return nil
}

func (s *Spool) writeCheckpoint(st cursorState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, cursorFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: checkpoint: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("spool: checkpoint: %w", err)
	}
	return nil
}

// compact deletes sealed files whose records every forwarder has durably
// passed.
func (s *Spool) compact() {
	s.mu.Lock()
	floor := s.nextLSN
	for _, c := range s.cursors {
		floor = min(floor, c.persisted, c.lsn)
	}
	var drop []*logFile
	for len(s.files) > 1 && s.files[1].firstLSN <= floor {
		drop = append(drop, s.files[0])
		s.files = s.files[1:]
	}
	s.mu.Unlock()
	for _, lf := range drop {
		if err := os.Remove(lf.path); err != nil {
			s.log.Warn().Err(err).Str("file", filepath.Base(lf.path)).Msg("cannot remove delivered spool file")
		}
	}
	if len(drop) > 0 {
		if err := syncDir(s.dir); err != nil {
			s.log.Warn().Err(err).Msg("spool directory sync failed")
		}
	}
}
