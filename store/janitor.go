package store

import (
	"context"
	"slices"
	"time"
)

// RunJanitor enforces retention and max_bytes: once at start, then every
// janitor_interval, and as soon as a write takes the store over max_bytes.
// It returns when ctx is cancelled.
func (s *Store) RunJanitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.JanitorInterval)
	defer t.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// sweep deletes replays older than the retention period, expires old
// tombstones, then deletes the least recently updated replays while the
// store is over max_bytes.
func (s *Store) sweep(ctx context.Context) {
	now := s.now()
	cutoff := now.Add(-s.cfg.Retention)
	expired := s.candidates(func(m Meta) bool { return m.UpdatedAt.Before(cutoff) })
	for _, id := range expired {
		if ctx.Err() != nil {
			return
		}
		s.removeIf(id, reasonRetention, func(m Meta) bool { return m.UpdatedAt.Before(cutoff) })
	}
	s.expireTombs(now)

	if s.cfg.MaxBytes <= 0 {
		return
	}
	for _, id := range s.candidates(func(Meta) bool { return true }) {
		if ctx.Err() != nil {
			return
		}
		if _, total := s.usage(); total <= s.cfg.MaxBytes {
			return
		}
		s.removeIf(id, reasonMaxBytes, func(Meta) bool { return true })
	}
}

// candidates returns the ids of listed replays matching keep, least
// recently updated first.
func (s *Store) candidates(match func(Meta) bool) []string {
	s.mu.Lock()
	var metas []Meta
	for _, r := range s.replays {
		if r.listed && match(r.meta) {
			metas = append(metas, r.meta)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(metas, func(a, b Meta) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	ids := make([]string, len(metas))
	for i, m := range metas {
		ids[i] = m.ID
	}
	return ids
}

// removeIf deletes replay id if it still matches once locked (a segment may
// have arrived since it was picked).
func (s *Store) removeIf(id, reason string, match func(Meta) bool) {
	s.mu.Lock()
	r := s.replays[id]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	ok := r.listed && match(r.meta)
	s.mu.Unlock()
	if !ok {
		return
	}
	if _, err := s.remove(r, reason); err != nil {
		s.log.Error().Err(err).Str("replay", id).Str("reason", reason).Msg("store: janitor could not delete replay")
	}
}
