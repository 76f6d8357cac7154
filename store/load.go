package store

import (
	"github.com/replaygate/replaygate/internal/durable"

	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxSegmentEvents bounds a segment file read back to rebuild its summary.
const maxSegmentEvents = 256 << 20

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
	}
	return durable.SyncDir(s.root)
}

// loadReplay reads one replay directory: removes temporary files, reads
// replay.json and the segments.jsonl cache, forgets cached segments whose
// file is missing and summarizes segment files the cache does not list (it
// lags after a crash, or is unreadable). A replay without a readable
// replay.json cannot be attributed to a subject, so it could never be erased
// on request; it was never acknowledged either (replay.json is renamed
// into place before the first segment, and Forward returns only after
// both renames are flushed): it is removed.
func (s *Store) loadReplay(id string) error {
	dir := s.dir(id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	files := make(map[int]fs.DirEntry)
	cleaned := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
			cleaned = true
			continue
		}
		if seq, ok := parseSegName(name); ok && e.Type().IsRegular() {
			files[seq] = e
		}
	}

	f, err := readIdentity(filepath.Join(dir, identityName), id)
	if err != nil {
		if len(files) > 0 {
			s.log.Warn().Str("replay", id).Err(err).Msg("store: replay without readable identity removed")
			s.m.deleted.WithLabelValues(reasonCorrupt).Inc()
		}
		return s.discardDir(id)
	}
	segs, clean, err := readIndex(filepath.Join(dir, indexName))
	if err != nil {
		return err
	}
	f.Segments = segs
	changed := !clean
	kept := f.Segments[:0]
	for _, sum := range f.Segments {
		// A cached summary counts only for a file of the size it recorded;
		// other files are summarized again below.
		if e, ok := files[sum.Seq]; ok && sizeOf(e) == sum.Bytes && sum.Events >= 0 {
			kept = append(kept, sum)
			delete(files, sum.Seq)
		} else {
			changed = true
		}
	}
	f.Segments = kept
	for seq, e := range files {
		sum, err := summarizeFile(filepath.Join(dir, e.Name()))
		if err != nil {
			s.log.Warn().Str("replay", id).Int("seq", seq).Err(err).Msg("store: unreadable segment file removed")
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
			cleaned = true
			continue
		}
		sum.Seq = seq
		i, _ := f.find(seq)
		f.Segments = slices.Insert(f.Segments, i, sum)
		changed = true
	}
	if len(f.Segments) == 0 {
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

	r := &replay{file: f, meta: f.meta(), listed: true}
	s.replays[id] = r
	s.indexLocked(f.Subject, id)
	s.bytes += r.meta.Bytes
	return nil
}

func sizeOf(e fs.DirEntry) int64 {
	fi, err := e.Info()
	if err != nil {
		return -1
	}
	return fi.Size()
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

// readIdentity reads replay.json, which must name replay id and a subject.
func readIdentity(path, id string) (replayFile, error) {
	var f replayFile
	name := filepath.Base(path)
	data, err := readFileLimit(path, maxIdentityFile)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case f.Version != replayFileVersion:
		return f, fmt.Errorf("%s: unknown version %d", name, f.Version)
	case f.ID != id:
		return f, fmt.Errorf("%s: id does not match the directory", name)
	case f.Subject == "" || len(f.Subject) > maxSubjectLen:
		return f, fmt.Errorf("%s: no valid subject", name)
	}
	f.Segments = nil
	return f, nil
}

// summarizeFile rebuilds the summary of a stored segment file; the file's
// modification time stands in for the time it was received.
func summarizeFile(path string) (segmentSummary, error) {
	fh, err := os.Open(path)
	if err != nil {
		return segmentSummary{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return segmentSummary{}, err
	}
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return segmentSummary{}, err
	}
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
	sum, err := summarize(events)
	if err != nil {
		return segmentSummary{}, err
	}
	sum.Bytes = fi.Size()
	sum.ReceivedAt = fi.ModTime().UTC()
	return sum, nil
}
