package store

import (
	"github.com/replaygate/replaygate/internal/durable"

	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// Errors returned to callers that look replays up.
var (
	// ErrNotFound means no replay has that id.
	ErrNotFound = errors.New("store: replay not found")
	// ErrInvalidID means the id is not 32 lowercase hex digits.
	ErrInvalidID = errors.New("store: invalid replay id")
	// ErrInvalidSubject means the subject is empty or too long.
	ErrInvalidSubject = errors.New("store: invalid subject")
)

// errRecordTooLarge refuses a segment whose gzip exceeds maxLogRecord.
var errRecordTooLarge = errors.New("compressed segment too large")

// maxPooledRecord keeps the buffers of unusually large segments out of
// the pool.
const maxPooledRecord = 4 << 20

// maxSubjectLen bounds subject ids; the consent package issues short ones.
const maxSubjectLen = 256

// Option adjusts a Store at Open.
type Option func(*Store)

// WithClock replaces time.Now, for tests of retention and erasure.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Store is the embedded replay store. It is safe for concurrent use: writes
// to one replay are serialized, different replays proceed in parallel.
type Store struct {
	cfg     Config
	root    string // {data_dir}/replays
	log     zerolog.Logger
	now     func() time.Time
	m       *metrics
	gzPool  sync.Pool // *gzip.Writer at cfg.GzipLevel
	recPool sync.Pool // *bytes.Buffer: a segment's log record being built
	kick    chan struct{}
	commit  *durable.Group // makes segment writes durable in shared flushes
	tombMu  sync.Mutex     // serializes tombstone writes

	mu        sync.Mutex
	replays   map[string]*replay
	bySubject map[string]map[string]struct{}
	tombs     map[string]time.Time // tombstone name → deletion time
	bytes     int64                // stored size of listed replays
}

// replay is the in-memory state of one replay. Its mutex serializes all
// disk work on the replay.
type replay struct {
	mu   sync.Mutex
	file replayFile // guarded by mu; Subject is set once admitted
	gone bool       // guarded by mu; the entry was removed, look it up again
	// logEnd is where the next record of the segment log goes: the end of
	// its valid records. Guarded by mu.
	logEnd int64
	// dirtyTail says that a failed write may have left bytes after
	// logEnd, which the next write cuts off first. Guarded by mu.
	dirtyTail bool
	// deleted mirrors gone for readers that do not hold mu.
	deleted atomic.Bool

	meta   Meta // guarded by Store.mu
	listed bool // guarded by Store.mu; at least one segment is stored
}

// Open loads (or creates) the store under dataDir/replays. Leftovers of
// interrupted writes are removed, metadata is reconciled with the segment
// logs on disk, and deletions a crash interrupted are finished. reg may be
// nil.
func Open(cfg Config, dataDir string, log zerolog.Logger, reg prometheus.Registerer, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{
		cfg:       cfg,
		root:      filepath.Join(dataDir, "replays"),
		log:       log,
		now:       time.Now,
		kick:      make(chan struct{}, 1),
		replays:   make(map[string]*replay),
		bySubject: make(map[string]map[string]struct{}),
		tombs:     make(map[string]time.Time),
	}
	for _, o := range opts {
		o(s)
	}
	m, err := newMetrics(s, reg)
	if err != nil {
		return nil, fmt.Errorf("store: register metrics: %w", err)
	}
	s.m = m
	level := cfg.GzipLevel
	s.gzPool.New = func() any {
		w, _ := gzip.NewWriterLevel(nil, level) // level is validated
		return w
	}
	s.recPool.New = func() any { return new(bytes.Buffer) }
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if s.commit, err = durable.NewGroup(s.root); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.load(); err != nil {
		s.commit.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the store's directory handle. Forward must not be called
// after Close.
func (s *Store) Close() error { return s.commit.Close() }

// Name identifies the forwarder: "local".
func (s *Store) Name() string { return "local" }

func (s *Store) dir(id string) string { return filepath.Join(s.root, id) }

// Forward stores one scrubbed segment durably: its gzip member
// (seg.Gzip, ingest's compression) as it is, or else its events compressed
// at store.gzip_level (see segmentBody). It returns nil once the
// segment's record (and a new replay's subject) are in place and flushed
// to disk, so a crash never loses it. A segment already stored (same
// replay and seq) is not stored again. Segments that can never be stored
// (invalid, of a deleted replay or an erased subject, or naming another
// subject than the replay's) are dropped with a warning and a metric, and
// Forward returns nil so the spool does not retry them forever.
func (s *Store) Forward(ctx context.Context, seg spool.Segment) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	body := bodyOf(seg)
	if reason := checkSegment(seg, &body); reason != "" {
		s.drop(seg, resultInvalid, reason)
		return nil
	}
	sum, err := summaryOf(seg, &body)
	if errors.Is(err, errBadGzipBody) {
		s.drop(seg, resultInvalid, "its gzip member does not decompress")
		return nil
	}
	if err != nil {
		s.drop(seg, resultInvalid, "events are not a valid JSON array")
		return nil
	}
	receivedAt := seg.ReceivedAt
	if receivedAt.IsZero() {
		receivedAt = s.now()
	}
	sum.Seq, sum.ReceivedAt = seg.Seq, receivedAt.UTC()

	r := s.lockEntry(seg.ReplayID)
	defer r.mu.Unlock()
	s.mu.Lock()
	result := s.admitLocked(r, seg, receivedAt)
	s.mu.Unlock()
	switch result {
	case "":
	case resultDeleted, resultErased:
		s.forgetIfEmpty(r, seg.ReplayID)
		s.drop(seg, result, "its replay was deleted or its subject erased")
		return nil
	default:
		s.drop(seg, result, "the replay belongs to another subject")
		return nil
	}
	if _, dup := r.file.find(seg.Seq); dup {
		s.m.segments.WithLabelValues(resultDuplicate).Inc()
		return nil
	}
	start := time.Now()
	if err := s.write(r, &body, sum); err != nil {
		s.forgetIfEmpty(r, seg.ReplayID)
		if errors.Is(err, errRecordTooLarge) {
			s.drop(seg, resultInvalid, "its compressed events exceed 1 GiB")
			return nil
		}
		return fmt.Errorf("store: replay %s seq %d: %w", seg.ReplayID, seg.Seq, err)
	}
	s.m.writeSeconds.Observe(time.Since(start).Seconds())
	s.m.segments.WithLabelValues(resultStored).Inc()
	return nil
}

// segmentBody is what Forward stores of a segment: the gzip member it
// carries (spool.Segment.Gzip, compressed by ingest from the scrubbed
// events), written as it is, or else its events, compressed here.
type segmentBody struct {
	gz     []byte // the member to store; nil: compress events
	events []byte // the JSON array without surrounding whitespace; nil until decoded when gz is set
	size   int    // length of the JSON: len(events), or the member's ISIZE
}

// errBadGzipBody means a segment's gzip member does not decompress to
// at most spool.MaxSegmentBytes.
var errBadGzipBody = errors.New("segment gzip member does not decompress")

// maxDeflateRatio bounds how much deflate data can expand: a 258-byte
// match per 2 bits at best.
const maxDeflateRatio = 1032

// minGzipMember is the size of the smallest gzip member: a 10-byte
// header, an empty final block, an 8-byte trailer.
const minGzipMember = 10 + 2 + 8

// bodyOf returns seg's body: its gzip member when it carries one and no
// events, else its events; the same choice as spool.Segment.EventsJSON,
// so the store keeps what the other forwarders send.
func bodyOf(seg spool.Segment) segmentBody {
	if len(seg.Events) == 0 && len(seg.Gzip) > 0 {
		b := segmentBody{gz: seg.Gzip, size: -1}
		if len(seg.Gzip) >= minGzipMember {
			b.size = int(binary.LittleEndian.Uint32(seg.Gzip[len(seg.Gzip)-4:]))
		}
		return b
	}
	events := bytes.TrimSpace(seg.Events)
	return segmentBody{events: events, size: len(events)}
}

// decode fills in b.events from the gzip member, when it has not been
// read. A member whose JSON has surrounding whitespace is not stored as
// it is (stored arrays have none): its trimmed events are compressed
// again instead.
func (b *segmentBody) decode() error {
	if b.events != nil {
		return nil
	}
	js, err := spool.Segment{Gzip: b.gz}.EventsJSON(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadGzipBody, err)
	}
	b.events = bytes.TrimSpace(js)
	if len(b.events) != len(js) {
		b.gz = nil
	}
	b.size = len(b.events)
	return nil
}

// summaryOf returns the segment's summary. A segment from ingest carries
// what the scrubber saw in its single pass (the events were validated
// there): counts, timestamps, and the few Meta and custom events, which
// are read here exactly as summarize reads them; its gzip member is then
// not decompressed. Other segments, or a summary that does not hold
// together, are summarized from the events (decompressed first when only
// the gzip member was given: segments of older spools or direct callers).
func summaryOf(seg spool.Segment, body *segmentBody) (segmentSummary, error) {
	fallback := func() (segmentSummary, error) {
		if err := body.decode(); err != nil {
			return segmentSummary{}, err
		}
		return summarize(body.events)
	}
	given := seg.Summary
	if given == nil || given.Events < 0 || given.Clicks < 0 || given.First > given.Last ||
		given.First < 0 || given.Last > maxTimestamp || (given.First == 0) != (given.Last == 0) ||
		given.Clicks+len(given.Info) > given.Events || given.Events > body.size/2 {
		return fallback()
	}
	var sum segmentSummary
	for _, raw := range given.Info {
		var ev eventHead
		sc := scanner{b: raw}
		if err := sc.event(&ev); err != nil || sc.i != len(raw) || len(raw) == 0 || raw[0] != '{' {
			return fallback()
		}
		sum.add(&ev)
	}
	// The scrubber saw every event; add saw only the Meta and custom ones.
	sum.Events, sum.First, sum.Last, sum.Clicks = given.Events, given.First, given.Last, given.Clicks
	return sum, nil
}

// isGzipHead reports whether b starts like a gzip member of deflate data.
func isGzipHead(b []byte) bool { return len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 }

// erasedBy returns why f was to be deleted: a tombstone, of the replay
// (an API deletion) or of its subject (an erasure), as late as one of its
// segments. It returns "" when none is.
func (s *Store) erasedBy(f replayFile) string {
	if t, ok := s.tombs[replayTomb(f.ID)]; ok && receivedBy(f, t) {
		return reasonAPI
	}
	if t, ok := s.tombs[subjectTomb(f.Subject)]; ok && receivedBy(f, t) {
		return reasonErasure
	}
	return ""
}

// receivedBy reports whether one of f's segments was received at or
// before t.
func receivedBy(f replayFile, t time.Time) bool {
	for _, sum := range f.Segments {
		if !sum.ReceivedAt.After(t) {
			return true
		}
	}
	return false
}

// checkSegment returns why seg cannot be stored, or "". Beyond it, events
// without a summary are fully validated by summarize (FuzzMeta checks it
// accepts exactly the valid JSON arrays); a segment with one comes from
// ingest, whose scrubber validated every byte. A gzip member is checked
// only as far as it can be without decompressing it: it starts like a
// gzip member of deflate data without optional header fields (ingest's
// compressor writes none), and its trailer announces a size that is
// positive, within spool.MaxSegmentBytes and within deflate's ratio of
// the member's length.
func checkSegment(seg spool.Segment, body *segmentBody) string {
	switch {
	case !ValidID(seg.ReplayID):
		return "replay id is not 32 lowercase hex digits"
	case seg.Seq < 0 || seg.Seq > maxSeq:
		return "seq is out of range"
	case seg.Subject == "" || len(seg.Subject) > maxSubjectLen:
		return "subject is missing or too long"
	case body.gz != nil:
		if len(body.gz) < minGzipMember || !isGzipHead(body.gz) || body.gz[3] != 0 ||
			body.size <= 0 || body.size > spool.MaxSegmentBytes || body.size/maxDeflateRatio > len(body.gz) {
			return "its gzip member is not one of ingest's"
		}
	case len(body.events) == 0 || body.events[0] != '[':
		return "events are not a JSON array"
	}
	return ""
}

func (s *Store) drop(seg spool.Segment, result, why string) {
	s.m.segments.WithLabelValues(result).Inc()
	ev := s.log.Warn()
	if ValidID(seg.ReplayID) {
		ev = ev.Str("replay", seg.ReplayID)
	}
	ev.Int("seq", seg.Seq).Str("reason", result).Msg("store: segment dropped: " + why)
}

// lockEntry returns the locked live entry of id, creating it if needed.
func (s *Store) lockEntry(id string) *replay {
	for {
		s.mu.Lock()
		r := s.replays[id]
		if r == nil {
			r = &replay{}
			s.replays[id] = r
		}
		s.mu.Unlock()
		r.mu.Lock()
		if !r.gone {
			return r
		}
		r.mu.Unlock()
	}
}

// admitLocked decides whether seg may be written to r, and reserves a new
// replay for its subject in the index. Tombstones are checked under the same
// lock that EraseSubject sets them under, so a segment is either refused or
// visible to the erasure.
func (s *Store) admitLocked(r *replay, seg spool.Segment, receivedAt time.Time) string {
	if t, ok := s.tombs[replayTomb(seg.ReplayID)]; ok && !receivedAt.After(t) {
		return resultDeleted
	}
	if t, ok := s.tombs[subjectTomb(seg.Subject)]; ok && !receivedAt.After(t) {
		return resultErased
	}
	if r.file.Subject == "" {
		r.file = replayFile{Version: replayFileVersion, ID: seg.ReplayID, Subject: seg.Subject}
		s.indexLocked(seg.Subject, seg.ReplayID)
		return ""
	}
	if r.file.Subject != seg.Subject {
		return resultSubjectMismatch
	}
	return ""
}

func (s *Store) indexLocked(subject, id string) {
	ids := s.bySubject[subject]
	if ids == nil {
		ids = make(map[string]struct{})
		s.bySubject[subject] = ids
	}
	ids[id] = struct{}{}
}

func (s *Store) unindexLocked(subject, id string) {
	if ids := s.bySubject[subject]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.bySubject, subject)
		}
	}
}

// forgetIfEmpty removes the entry of a replay that has no stored segment
// (its first write failed or was refused), with whatever its failed write
// left on disk. r.mu is held.
func (s *Store) forgetIfEmpty(r *replay, id string) {
	if len(r.file.Segments) > 0 {
		return
	}
	r.gone = true
	s.mu.Lock()
	if s.replays[id] == r {
		delete(s.replays, id)
	}
	if r.file.Subject != "" {
		s.unindexLocked(r.file.Subject, id)
	}
	s.mu.Unlock()
	if err := os.RemoveAll(s.dir(id)); err != nil {
		s.log.Error().Err(err).Str("replay", id).Msg("store: remove unfinished replay")
	}
}

// write stores one segment of r: its record goes at the end of the
// replay's segment log (seglog.go) and is flushed before write returns. A
// new replay's replay.json is written to a temporary file first, flushed
// with the record, renamed into place and flushed again. The flushes are
// group commits (syncfs, shared with the concurrent writes of other
// replays). Until the last one Forward has not returned nil, so after a
// crash the spool delivers the segment again, and Open has truncated what
// the crash left of the record. The summary line is appended to
// segments.jsonl afterwards: a cache, which Open completes from the log.
// r.mu is held.
func (s *Store) write(r *replay, body *segmentBody, sum segmentSummary) error {
	dir := s.dir(r.file.ID)
	created := len(r.file.Segments) == 0
	var ident *tempFile
	defer func() {
		if ident != nil {
			ident.discard()
		}
	}()
	if created {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		data, err := json.Marshal(replayFile{Version: replayFileVersion, ID: r.file.ID, Subject: r.file.Subject})
		if err != nil {
			return err
		}
		if ident, err = createTemp(dir, identityName); err != nil {
			return err
		}
		if _, err := ident.Write(data); err != nil {
			return err
		}
		if err := ident.close(); err != nil {
			return err
		}
	}

	buf := s.recPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledRecord {
			s.recPool.Put(buf)
		}
	}()
	buf.Reset()
	h := recordHeader(sum.Seq, sum.ReceivedAt)
	buf.Write(h[:])
	// Ingest's compression of the scrubbed events is stored as it is
	// (spool.Segment.Gzip is only ever ours: the spool does not surface
	// an upload's own bytes); events given without it are compressed here.
	if body.gz != nil {
		buf.Write(body.gz)
	} else {
		zw := s.gzPool.Get().(*gzip.Writer)
		zw.Reset(buf)
		_, err := zw.Write(body.events)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		s.gzPool.Put(zw)
		if err != nil {
			return err
		}
	}
	rec := buf.Bytes()
	if len(rec)-logHeader > maxLogRecord {
		return fmt.Errorf("%w: %d bytes", errRecordTooLarge, len(rec)-logHeader)
	}
	sealRecord(rec)
	logPath := filepath.Join(dir, logName)
	if r.dirtyTail {
		if err := os.Truncate(logPath, r.logEnd); err != nil {
			return err
		}
		r.dirtyTail = false
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	stored := false
	defer func() {
		// What a failed write or flush left must not stay after the
		// valid records: a shorter record written there later would end
		// inside it, and Open would read on from there.
		if !stored && os.Truncate(logPath, r.logEnd) != nil {
			r.dirtyTail = true
		}
	}()
	_, err = f.WriteAt(rec, r.logEnd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	if created {
		// The contents are durable before replay.json's name appears: a
		// crash then leaves a replay without identity (removed at Open,
		// never acknowledged), never an identity file of the right size
		// with blocks that were not written.
		if err := s.commit.Commit(ident.f.Name(), logPath); err != nil {
			return err
		}
		if err := ident.rename(); err != nil {
			return err
		}
		if err := s.commit.Commit(ident.dest, logPath, dir, s.root); err != nil {
			return err
		}
	} else if err := s.commit.Commit(logPath); err != nil {
		return err
	}
	sum.Offset, sum.Bytes = r.logEnd, int64(len(rec)-logHeader)
	r.logEnd += int64(len(rec))
	stored = true

	line, err := json.Marshal(&sum)
	if err == nil {
		err = appendFile(dir, indexName, append(line, '\n'))
	}
	if err != nil {
		// The segment is stored; Open completes the cache from the log.
		s.log.Warn().Err(err).Str("replay", r.file.ID).Msg("store: summary cache not appended")
	}

	i, _ := r.file.find(sum.Seq)
	r.file.Segments = slices.Insert(r.file.Segments, i, sum)
	meta := r.file.meta()
	s.mu.Lock()
	s.bytes += meta.Bytes - r.meta.Bytes
	r.meta, r.listed = meta, true
	over := s.cfg.MaxBytes > 0 && s.bytes > s.cfg.MaxBytes
	s.mu.Unlock()
	if over {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// List returns the metadata of every replay, newest first.
func (s *Store) List(ctx context.Context) ([]Meta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]Meta, 0, len(s.replays))
	for _, r := range s.replays {
		if r.listed {
			out = append(out, r.meta)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Meta) int {
		if c := sortTime(b).Compare(sortTime(a)); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func sortTime(m Meta) time.Time {
	if m.StartedAt.IsZero() {
		return m.UpdatedAt
	}
	return m.StartedAt
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns the metadata of one replay.
func (s *Store) Get(ctx context.Context, id string) (Meta, error) {
	if !ValidID(id) {
		return Meta{}, ErrInvalidID
	}
	if err := ctx.Err(); err != nil {
		return Meta{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replays[id]
	if r == nil || !r.listed {
		return Meta{}, ErrNotFound
	}
	return r.meta, nil
}

// usage returns the number of replays and their stored size.
func (s *Store) usage() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.replays {
		if r.listed {
			n++
		}
	}
	return n, s.bytes
}

// Delete removes one replay. A segment of it still in the spool, accepted
// before the deletion, is dropped when it arrives.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrInvalidID
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	r := s.replays[id]
	found := r != nil && r.listed
	s.mu.Unlock()
	if !found {
		return ErrNotFound
	}
	if err := s.addTomb(replayTomb(id)); err != nil {
		return fmt.Errorf("store: delete %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	removed, err := s.remove(r, reasonAPI)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", id, err)
	}
	if !removed {
		return ErrNotFound
	}
	return nil
}

// EraseSubject deletes every replay of subject, for callers that need no
// count.
func (s *Store) EraseSubject(ctx context.Context, subject string) error {
	_, err := s.EraseSubjectCount(ctx, subject)
	return err
}

// EraseSubjectBefore deletes every replay of subject that holds a segment
// received at or before at, and drops such segments still in the spool
// when they arrive. Replays recorded entirely after at (the visitor gave
// consent again) are kept. The consent package erases a withdrawal with
// its time, also when it retries a failed erasure later.
func (s *Store) EraseSubjectBefore(ctx context.Context, subject string, at time.Time) error {
	_, err := s.eraseSubject(ctx, subject, at, false)
	return err
}

// EraseSubjectCount deletes every replay of subject and returns how many it
// deleted. Segments of the subject accepted before the erasure and still in
// the spool are dropped when they arrive.
func (s *Store) EraseSubjectCount(ctx context.Context, subject string) (int, error) {
	return s.eraseSubject(ctx, subject, s.now(), true)
}

// eraseSubject records the erasure at at and deletes the subject's
// replays: all of them, or those holding a segment received by at.
func (s *Store) eraseSubject(ctx context.Context, subject string, at time.Time, all bool) (int, error) {
	if subject == "" || len(subject) > maxSubjectLen {
		return 0, ErrInvalidSubject
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.addTombAt(subjectTomb(subject), at); err != nil {
		return 0, fmt.Errorf("store: erase subject: %w", err)
	}
	s.mu.Lock()
	var entries []*replay
	for id := range s.bySubject[subject] {
		if r := s.replays[id]; r != nil {
			entries = append(entries, r)
		}
	}
	s.mu.Unlock()
	n := 0
	var errs []error
	for _, r := range entries {
		r.mu.Lock()
		// Under r.mu, after any write in flight: a segment admitted
		// before the tombstone is on disk by now and counts.
		if r.file.Subject == subject && (all || receivedBy(r.file, at) || len(r.file.Segments) == 0) {
			removed, err := s.remove(r, reasonErasure)
			if err != nil {
				errs = append(errs, err)
			} else if removed {
				n++
			}
		}
		r.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("store: erase subject: %w", err)
	}
	return n, nil
}

// remove deletes r from disk and memory: its directory is renamed into the
// trash (one atomic step, made durable), then removed. It reports whether r
// had stored segments. r.mu is held.
func (s *Store) remove(r *replay, reason string) (bool, error) {
	if r.gone {
		return false, nil
	}
	id := r.file.ID
	had := len(r.file.Segments) > 0
	trash := filepath.Join(s.root, trashDir, id+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(s.dir(id), trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	r.gone = true
	r.deleted.Store(true)
	s.mu.Lock()
	delete(s.replays, id)
	s.unindexLocked(r.file.Subject, id)
	if r.listed {
		s.bytes -= r.meta.Bytes
	}
	s.mu.Unlock()
	if had {
		s.m.deleted.WithLabelValues(reason).Inc()
		s.log.Info().Str("replay", id).Str("reason", reason).Msg("store: replay deleted")
	}
	err := durable.SyncDir(s.root)
	if rerr := os.RemoveAll(trash); rerr != nil {
		s.log.Error().Err(rerr).Str("replay", id).Msg("store: empty trash")
	}
	return had, err
}
