package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Tombstones remember deletions for one retention period, so that segments
// accepted before a deletion but still in the spool do not recreate the
// replay. They are files in {data_dir}/replays/.tombstones holding the
// deletion time: "r-{id}" for a replay, "s-{sha256(subject)}" for a subject
// (subjects never become file names).

func replayTomb(id string) string { return "r-" + id }

func subjectTomb(subject string) string {
	h := sha256.Sum256([]byte(subject))
	return "s-" + hex.EncodeToString(h[:])
}

func validTombName(name string) bool {
	if id, ok := strings.CutPrefix(name, "r-"); ok {
		return ValidID(id)
	}
	if h, ok := strings.CutPrefix(name, "s-"); ok {
		if len(h) != 64 {
			return false
		}
		_, err := hex.DecodeString(h)
		return err == nil && strings.ToLower(h) == h
	}
	return false
}

// addTomb durably records a deletion at the current time.
func (s *Store) addTomb(name string) error { return s.addTombAt(name, s.now()) }

// addTombAt durably records a deletion at t. A later deletion already
// recorded under the name stays: a tombstone never moves back in time.
func (s *Store) addTombAt(name string, t time.Time) error {
	t = t.UTC()
	s.tombMu.Lock()
	defer s.tombMu.Unlock()
	s.mu.Lock()
	old, ok := s.tombs[name]
	s.mu.Unlock()
	if ok && !old.Before(t) {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(s.root, tombDir), name, []byte(t.Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("write tombstone: %w", err)
	}
	s.mu.Lock()
	s.tombs[name] = t
	s.mu.Unlock()
	return nil
}

// loadTombs reads the tombstones, removing temporary and unreadable files.
func (s *Store) loadTombs() error {
	dir := filepath.Join(s.root, tombDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if !validTombName(name) || !e.Type().IsRegular() {
			if strings.HasPrefix(name, tempPrefix) {
				os.Remove(path)
			} else {
				s.log.Warn().Str("file", name).Msg("store: ignoring unexpected file among tombstones")
			}
			continue
		}
		data, err := readFileLimit(path, 64)
		if err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, string(data))
		if err != nil {
			// A tombstone is written atomically, so this is damage from
			// outside; keep the deletion in force from when the file was
			// written (its time is that of the deletion, or later), so
			// that what was recorded after the deletion is not taken
			// for what it erased.
			s.log.Warn().Str("file", name).Msg("store: unreadable tombstone, renewed")
			t = s.now().UTC()
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(t) {
				t = fi.ModTime().UTC()
			}
			if err := writeFileAtomic(dir, name, []byte(t.Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		s.tombs[name] = t
	}
	return nil
}

// expireTombs removes tombstones older than the retention period: any
// segment they guard against has been retried for longer than a replay is
// kept.
func (s *Store) expireTombs(now time.Time) {
	cutoff := now.Add(-s.cfg.Retention)
	dir := filepath.Join(s.root, tombDir)
	s.mu.Lock()
	var expired []string
	for name, t := range s.tombs {
		if t.Before(cutoff) {
			expired = append(expired, name)
			delete(s.tombs, name)
		}
	}
	s.mu.Unlock()
	for _, name := range expired {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			s.log.Error().Err(err).Msg("store: remove expired tombstone")
		}
	}
}
