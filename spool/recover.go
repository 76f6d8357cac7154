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
)

// recover lists the log files, truncates a torn tail in the newest one and
// opens it for appending.
func (s *Spool) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "."+cursorFile+".tmp-") {
			os.Remove(filepath.Join(s.dir, name)) // an interrupted checkpoint (durable.WriteFile)
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
		hdrLSN, version, err := readFileHeader(lf.path)
		if err == nil && hdrLSN == lf.firstLSN {
			lf.version = version
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
		if last.version < formatVersion && next == last.firstLSN {
			// An empty file in the older format: recreate it, empty, in
			// the current one (same name, same first record number).
			f, lf, err := s.createFile(next)
			if err != nil {
				return err
			}
			s.files[len(s.files)-1] = lf
			s.active = f
		} else {
			f, err := os.OpenFile(last.path, os.O_RDWR, 0o600)
			if err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			s.active = f
		}
	}
	var base int64
	for _, lf := range s.files {
		lf.base = base
		base += lf.size
	}
	s.endPos = base
	if s.files[len(s.files)-1].version < formatVersion {
		// It holds records: new ones are written in the current format,
		// to a new file.
		return s.roll()
	}
	return nil
}

// readFileHeader returns the first LSN stored in a file's header and the
// file's format version.
func readFileHeader(path string) (uint64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := make([]byte, fileHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, 0, err
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
		lsn, _, err := decodePayload(payload, sum, lf.version)
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
