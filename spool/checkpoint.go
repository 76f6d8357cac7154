package spool

import (
	"github.com/replaygate/replaygate/internal/durable"

	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

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
	err = durable.WriteFile(filepath.Join(s.dir, cursorFile), b, 0o600)
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
		if err := durable.SyncDir(s.dir); err != nil {
			s.log.Warn().Err(err).Msg("spool directory sync failed")
		}
	}
}
