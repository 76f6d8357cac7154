package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// WithdrawnFile lists withdrawn subjects in the data dir.
const WithdrawnFile = "consent-withdrawn.jsonl"

// withdrawal is one line of the withdrawn-subjects file; a later line for the
// same subject replaces an earlier one.
type withdrawal struct {
	Subject string    `json:"subject"`
	At      time.Time `json:"at"`
	// Erased is true once the subject's recordings were erased (or erasure
	// is not configured).
	Erased bool `json:"erased"`
}

// withdrawals remembers which subjects withdrew and when, so a granted cookie
// issued before the withdrawal is refused even while it is still unexpired.
// It is small (one entry per withdrawing visitor, dropped after the longest
// cookie lifetime), held in memory and persisted as fsync'd JSON lines.
type withdrawals struct {
	mu   sync.Mutex
	path string
	f    *os.File
	m    map[string]withdrawal
}

func openWithdrawals(dataDir string) (*withdrawals, error) {
	path := filepath.Join(dataDir, WithdrawnFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("policy: open withdrawn subjects: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("policy: repair withdrawn subjects: %w", err)
	}
	w := &withdrawals{path: path, f: f, m: make(map[string]withdrawal)}
	if err := eachLine(f, func(line []byte) bool {
		var e withdrawal
		if json.Unmarshal(line, &e) == nil && isSubject(e.Subject) {
			w.m[e.Subject] = e
		}
		return true
	}); err != nil {
		f.Close()
		return nil, fmt.Errorf("policy: read withdrawn subjects: %w", err)
	}
	return w, nil
}

// put records e durably, then in memory.
func (w *withdrawals) put(e withdrawal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.putLocked(e)
}

// add records a new withdrawal of subject, stamped with now() under the
// lock get takes: a grant checked before the withdrawal took effect (get
// found none) was checked, and its upload received, before that time, so
// everything accepted under the old grant compares as not after it. The
// time keeps its nanoseconds for that comparison.
func (w *withdrawals) add(subject string, now func() time.Time, erased bool) (withdrawal, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := withdrawal{Subject: subject, At: now().UTC(), Erased: erased}
	return e, w.putLocked(e)
}

// markErased records that e's erasure succeeded, unless a later withdrawal
// of the subject replaced e meanwhile (its own erasure is still due).
func (w *withdrawals) markErased(e withdrawal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur, ok := w.m[e.Subject]; !ok || !cur.At.Equal(e.At) {
		return nil
	}
	e.Erased = true
	return w.putLocked(e)
}

func (w *withdrawals) putLocked(e withdrawal) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if w.f == nil {
		return errors.New("policy: withdrawn subjects closed")
	}
	if _, err := w.f.Write(line); err != nil {
		return fmt.Errorf("policy: write withdrawn subjects: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("policy: sync withdrawn subjects: %w", err)
	}
	w.m[e.Subject] = e
	return nil
}

// get returns the subject's latest withdrawal.
func (w *withdrawals) get(subject string) (withdrawal, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[subject]
	return e, ok
}

// pending returns withdrawals whose erasure has not succeeded yet.
func (w *withdrawals) pending() []withdrawal {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []withdrawal
	for _, e := range w.m {
		if !e.Erased {
			out = append(out, e)
		}
	}
	return out
}

// compact forgets erased withdrawals older than cutoff (no cookie issued
// before them can still be valid) and rewrites the file atomically.
func (w *withdrawals) compact(cutoff time.Time) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, errors.New("policy: withdrawn subjects closed")
	}
	live := make(map[string]withdrawal, len(w.m))
	for s, e := range w.m {
		if !e.Erased || !e.At.Before(cutoff) {
			live[s] = e
		}
	}
	// Keep exactly the latest line of each live subject.
	n, err := rewriteLines(w.path, func(line []byte) bool {
		var e withdrawal
		if json.Unmarshal(line, &e) != nil {
			return false
		}
		cur, ok := live[e.Subject]
		return ok && cur.Erased == e.Erased && cur.At.Equal(e.At)
	})
	if err != nil || n == 0 {
		return n, err
	}
	w.f.Close()
	w.f, err = os.OpenFile(w.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		w.f = nil
		return n, err
	}
	w.m = live
	return n, nil
}

func (w *withdrawals) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
