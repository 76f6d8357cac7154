package store

import (
	"github.com/replaygate/replaygate/internal/durable"

	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// maxSegmentEvents bounds a stored segment read back to rebuild its
// summary: ingest's largest max_decoded_bytes.
const maxSegmentEvents = 1 << 30

// load prepares the directory tree and reads every replay into memory.
func (s *Store) load() error {
	for _, d := range []string{s.root, filepath.Join(s.root, tombDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	// The trash holds replays whose deletion was interrupted.
	trash := filepath.Join(s.root, trashDir)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("store: empty trash: %w", err)
	}
	if err := os.Mkdir(trash, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := s.loadTombs(); err != nil {
		return fmt.Errorf("store: load tombstones: %w", err)
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var logs []string
	for _, e := range entries {
		name := e.Name()
		if name == trashDir || name == tombDir {
			continue
		}
		if !e.IsDir() || !ValidID(name) {
			if strings.HasPrefix(name, tempPrefix) {
				os.Remove(filepath.Join(s.root, name))
				continue
			}
			s.log.Warn().Str("file", name).Msg("store: ignoring unexpected file in the replays directory")
			continue
		}
		if err := s.loadReplay(name); err != nil {
			return fmt.Errorf("store: load replay %s: %w", name, err)
		}
		if _, ok := s.replays[name]; ok {
			dir := s.dir(name)
			logs = append(logs, filepath.Join(dir, logName), filepath.Join(dir, identityName), dir)
		}
	}
	if err := durable.SyncDir(s.root); err != nil {
		return err
	}
	// A record can be whole in the page cache yet not on disk: written by
	// a process that died before its flush. Now that it is taken as
	// stored, a redelivery of its segment counts as a duplicate and is
	// acknowledged, so it must be durable first (one syncfs).
	return s.commit.Commit(logs...)
}

// loadReplay reads one replay directory: removes temporary files, reads
// replay.json, scans the segment log and truncates what a crash left after
// its last whole record, and takes each record's summary from the
// segments.jsonl cache when the cache has it for that very record (it lags
// after a crash, or is unreadable), summarizing the others from the log.
// Segment files of the layout before the log ({seq}.json.gz, one per
// segment) are moved into the log. A replay without a readable replay.json
// cannot be attributed to a subject, so it could never be erased on
// request; it was never acknowledged either (replay.json is in place
// before Forward returns for the first segment): it is removed.
func (s *Store) loadReplay(id string) error {
	dir := s.dir(id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	files := make(map[int]string) // the layout before the log: seq → file
	hasLog, cleaned := false, false
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
			cleaned = true
			continue
		}
		if name == logName {
			hasLog = true
		} else if seq, ok := parseSegName(name); ok && e.Type().IsRegular() {
			files[seq] = name
		}
	}

	f, err := readIdentity(filepath.Join(dir, identityName), id)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errBadIdentity) {
		return err // cannot be read now: nothing is removed for that
	}
	if err != nil {
		if hasLog || len(files) > 0 {
			s.log.Warn().Str("replay", id).Err(err).Msg("store: replay without readable identity removed")
			s.m.deleted.WithLabelValues(reasonCorrupt).Inc()
		}
		return s.discardDir(id)
	}
	lf, recs, end, err := s.openLog(dir, id)
	if err != nil {
		return err
	}
	if lf != nil {
		defer lf.Close()
	}
	bySeqRecs := make(map[int][]logRecord, len(recs)) // the last readable record of a seq counts
	for _, rec := range recs {
		bySeqRecs[rec.seq] = append(bySeqRecs[rec.seq], rec)
	}
	cached, clean, err := readIndex(filepath.Join(dir, indexName))
	if err != nil {
		return err
	}
	changed := !clean || len(cached) != len(bySeqRecs)
	bySeq := make(map[int]segmentSummary, len(cached))
	for _, sum := range cached {
		bySeq[sum.Seq] = sum
	}
	for seq, rs := range bySeqRecs {
		if sum, ok := bySeq[seq]; ok && sum.Offset == rs[len(rs)-1].off && sum.Bytes == rs[len(rs)-1].n && sum.Events >= 0 {
			f.Segments = append(f.Segments, sum)
			continue
		}
		changed = true
		for i := len(rs) - 1; i >= 0; i-- {
			rec := rs[i]
			sum, err := summarizeGzip(io.NewSectionReader(lf, rec.off+logHeader, rec.n))
			if err != nil {
				// Written whole (its checksums hold) but not a gzip JSON
				// array: not by this store. An earlier record of the seq
				// counts, or the seq is missing.
				s.log.Warn().Str("replay", id).Int("seq", seq).Err(err).Msg("store: unreadable segment record skipped")
				continue
			}
			sum.Seq, sum.Offset, sum.Bytes, sum.ReceivedAt = seq, rec.off, rec.n, rec.receivedAt
			f.Segments = append(f.Segments, sum)
			break
		}
	}
	if len(files) > 0 {
		moved, newEnd, unread, err := s.moveFilesToLog(dir, id, files, f.Segments, bySeq, end)
		if err != nil {
			return err
		}
		f.Segments = append(f.Segments, moved...)
		end, changed = newEnd, true
		if len(f.Segments) == 0 && unread > 0 {
			// Only files that could not be read: keep them for the
			// next start, and the replay unlisted until then.
			return nil
		}
	}
	slices.SortFunc(f.Segments, func(a, b segmentSummary) int { return a.Seq - b.Seq })
	if len(f.Segments) == 0 {
		return s.discardDir(id)
	}
	if reason := s.erasedBy(f); reason != "" {
		// A deletion or erasure whose tombstone was written but whose
		// removal a crash interrupted: finish it.
		s.log.Info().Str("replay", id).Str("reason", reason).Msg("store: interrupted deletion finished")
		s.m.deleted.WithLabelValues(reason).Inc()
		return s.discardDir(id)
	}
	if changed {
		var data []byte
		for i := range f.Segments {
			line, err := json.Marshal(&f.Segments[i])
			if err != nil {
				return err
			}
			data = append(append(data, line...), '\n')
		}
		if err := writeFileAtomic(dir, indexName, data); err != nil {
			return err
		}
	} else if cleaned {
		if err := durable.SyncDir(dir); err != nil {
			return err
		}
	}

	r := &replay{file: f, logEnd: end, meta: f.meta(), listed: true}
	s.replays[id] = r
	s.indexLocked(f.Subject, id)
	s.bytes += r.meta.Bytes
	return nil
}

// openLog opens dir's segment log, if there is one, and scans it. What
// follows its last valid record (a record torn by a crash, never
// acknowledged) is cut off, durably, so that the next record is written
// right after the valid ones. The file stays open for reading.
func (s *Store) openLog(dir, id string) (*os.File, []logRecord, int64, error) {
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, 0, nil
	}
	if err != nil {
		return nil, nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: %w", logName, err)
	}
	size := fi.Size()
	recs, end, skipped, err := scanLog(f, size)
	if err == nil && skipped > 0 {
		s.log.Warn().Str("replay", id).Int64("bytes", skipped).Msg("store: damaged bytes skipped in the segment log")
	}
	if err == nil && end < size {
		ev := s.log.Warn().Str("replay", id).Int64("valid_bytes", end).Int64("bytes", size)
		if !tornTail(f, end, size) {
			// Not a record torn by a crash (never acknowledged) but a
			// damaged header, which ends the log too: what follows it
			// may be acknowledged records, kept beside the log.
			cut := fmt.Sprintf("%s.cut-%d", logName, end)
			ev = s.log.Error().Str("replay", id).Int64("valid_bytes", end).Int64("bytes", size).Str("kept_in", cut)
			err = saveTail(f, end, size, dir, cut)
		}
		ev.Msg("store: segment log cut after its last whole record")
		if err == nil {
			if err = f.Truncate(end); err == nil {
				err = f.Sync()
			}
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: %w", logName, err)
	}
	return f, recs, end, nil
}

// saveTail copies f's bytes from off to size into dir/name, durably.
func saveTail(f *os.File, off, size int64, dir, name string) error {
	data := make([]byte, size-off)
	if _, err := f.ReadAt(data, off); err != nil {
		return err
	}
	return writeFileAtomic(dir, name, data)
}

// moveFilesToLog appends the segment files of the layout before the log
// to the log, at end, except those whose seq the log already holds, flushes
// the log and removes the files it moved or found there. A segment keeps
// the receive time its summary line recorded (else the file's time). A
// file that is not a gzip JSON array is removed, and its seq counts as
// missing (the spool delivers it again if it still holds it); a file that
// cannot be read stays for the next Open. It returns the summaries of the
// segments moved and the new end of the log. A crash in between leaves
// files that the next Open moves (or, when the log has them, only removes).
func (s *Store) moveFilesToLog(dir, id string, files map[int]string, have []segmentSummary, cached map[int]segmentSummary, end int64) (moved []segmentSummary, newEnd int64, unread int, err error) {
	held := make(map[int]bool, len(have))
	for _, sum := range have {
		held[sum.Seq] = true
	}
	seqs := slices.Sorted(maps.Keys(files))
	lf, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, end, 0, err
	}
	defer lf.Close()
	var done []string
	for _, seq := range seqs {
		path := filepath.Join(dir, files[seq])
		if held[seq] {
			done = append(done, path)
			continue
		}
		data, mtime, err := readSegmentFile(path)
		if err != nil {
			s.log.Warn().Str("replay", id).Int("seq", seq).Err(err).Msg("store: segment file not read; kept for the next start")
			unread++
			continue
		}
		sum, err := summarizeGzip(bytes.NewReader(data))
		if err != nil {
			s.log.Warn().Str("replay", id).Int("seq", seq).Err(err).Msg("store: unreadable segment file removed")
			done = append(done, path)
			continue
		}
		at := mtime
		if c, ok := cached[seq]; ok && !c.ReceivedAt.IsZero() {
			at = c.ReceivedAt.UTC()
		}
		rec := appendRecord(nil, seq, at, data)
		if _, err := lf.WriteAt(rec, end); err != nil {
			return nil, end, unread, err
		}
		sum.Seq, sum.Offset, sum.Bytes, sum.ReceivedAt = seq, end, int64(len(data)), at
		end += int64(len(rec))
		moved = append(moved, sum)
		done = append(done, path)
	}
	if err := lf.Sync(); err != nil {
		return nil, end, unread, err
	}
	if err := durable.SyncDir(dir); err != nil { // a new log's name
		return nil, end, unread, err
	}
	for _, path := range done {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, end, unread, err
		}
	}
	if len(moved) > 0 {
		s.log.Info().Str("replay", id).Int("segments", len(moved)).Msg("store: segment files moved into the segment log")
	}
	return moved, end, unread, durable.SyncDir(dir)
}

// readSegmentFile reads a segment file of the layout before the log and
// its modification time, which stands in for the time it was received.
func readSegmentFile(path string) ([]byte, time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	if fi.Size() > maxLogRecord {
		return nil, time.Time{}, fmt.Errorf("larger than %d bytes", int64(maxLogRecord))
	}
	data, err := readFileLimit(path, maxLogRecord)
	if err != nil {
		return nil, time.Time{}, err
	}
	return data, fi.ModTime().UTC(), nil
}

func (s *Store) discardDir(id string) error {
	return os.RemoveAll(s.dir(id))
}

// readIndex reads the segments.jsonl cache: the summaries sorted by seq (a
// later line for the same seq wins), and whether the file was whole. A
// missing file, a torn or unreadable line, or a duplicate make it unclean,
// so that it is rewritten.
func readIndex(path string) ([]segmentSummary, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	bySeq := make(map[int]segmentSummary)
	clean := true
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxIndexLine)
	for sc.Scan() {
		var sum segmentSummary
		if err := json.Unmarshal(sc.Bytes(), &sum); err != nil || sum.Seq < 0 || sum.Seq > maxSeq {
			clean = false
			continue
		}
		if _, dup := bySeq[sum.Seq]; dup {
			clean = false
		}
		bySeq[sum.Seq] = sum
	}
	if err := sc.Err(); err != nil {
		// A line over the limit: not written by this store; rebuild.
		clean = false
	}
	segs := make([]segmentSummary, 0, len(bySeq))
	for _, sum := range bySeq {
		segs = append(segs, sum)
	}
	slices.SortFunc(segs, func(a, b segmentSummary) int { return a.Seq - b.Seq })
	return segs, clean, nil
}

// maxIdentityFile bounds replay.json.
const maxIdentityFile = 64 << 10

// maxIndexLine bounds one summary line (maxURLs URLs of maxURLLen bytes).
const maxIndexLine = 4 << 20

// errBadIdentity marks a replay.json whose content is not valid (as
// opposed to one that could not be read).
var errBadIdentity = errors.New("invalid replay identity")

// readIdentity reads replay.json, which must name replay id and a subject.
func readIdentity(path, id string) (replayFile, error) {
	var f replayFile
	name := filepath.Base(path)
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxIdentityFile {
		return f, fmt.Errorf("%w: %s is larger than %d bytes", errBadIdentity, name, maxIdentityFile)
	}
	data, err := readFileLimit(path, maxIdentityFile)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("%w: %s: %w", errBadIdentity, name, err)
	}
	switch {
	case f.Version != replayFileVersion:
		return f, fmt.Errorf("%w: %s: unknown version %d", errBadIdentity, name, f.Version)
	case f.ID != id:
		return f, fmt.Errorf("%w: %s: id does not match the directory", errBadIdentity, name)
	case f.Subject == "" || len(f.Subject) > maxSubjectLen:
		return f, fmt.Errorf("%w: %s: no valid subject", errBadIdentity, name)
	}
	f.Segments = nil
	return f, nil
}

// summarizeGzip rebuilds the summary of a stored segment from its gzip
// member; the caller sets its seq, place and time.
func summarizeGzip(r io.Reader) (segmentSummary, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(3); err != nil || !isGzipHead(head) {
		return segmentSummary{}, errors.New("not a gzip member")
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return segmentSummary{}, err
	}
	zr.Multistream(false)
	events, err := io.ReadAll(io.LimitReader(zr, maxSegmentEvents+1))
	if err != nil {
		return segmentSummary{}, err
	}
	if len(events) > maxSegmentEvents {
		return segmentSummary{}, errors.New("segment too large")
	}
	if len(events) == 0 || events[0] != '[' || events[len(events)-1] != ']' {
		return segmentSummary{}, errNotArray
	}
	return summarize(events)
}
