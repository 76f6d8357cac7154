package durable

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Group makes writes to one file system durable in shared commits: a
// writer finishes its writes, creations and renames, then calls Commit,
// which returns once a flush that started after the call has completed.
// Concurrent writers share that flush, so N writers cost one journal
// commit instead of 2N fsyncs. On Linux the flush is syncfs(2) on the
// group's directory, which covers file data, new entries and renames on
// its whole file system (and reports write-back errors since NewGroup);
// elsewhere each Commit fsyncs the paths it is given, in order, and
// nothing is shared.
//
// Writers must not rely on an order between their own steps before Commit:
// after a crash, any subset of them may be on disk. Callers that need a
// file's content durable before it appears under its name (rename over an
// existing file) keep using WriteFile.
type Group struct {
	dir    *os.File
	shared bool         // flush covers every writer's work (syncfs that reports errors)
	flush  func() error // the file-system flush; tests replace it

	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // flushes started
	done    uint64 // flushes finished (they finish in order)
	running bool
	waiting int    // writers waiting for a flush (tests watch it)
	errGen  uint64 // the last flush that failed
	err     error
}

// NewGroup returns a Group for the file system holding dir.
func NewGroup(dir string) (*Group, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	g := &Group{dir: d, shared: syncfsUsable()}
	g.flush = g.syncfs
	g.cond.L = &g.mu
	return g, nil
}

// Commit returns nil once everything written before the call is durable.
// paths name the files and directories written, for systems without
// syncfs(2); on Linux they are not used.
func (g *Group) Commit(paths ...string) error {
	if !g.shared {
		if err := syncPaths(paths); err != nil {
			return fmt.Errorf("durable: commit: %w", err)
		}
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.started + 1 // a flush that starts after this call
	for g.done < want {
		if g.running {
			g.waiting++
			g.cond.Wait()
			g.waiting--
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := g.flush()
		g.mu.Lock()
		g.running = false
		g.done = gen
		if err != nil {
			g.errGen, g.err = gen, err
		}
		g.cond.Broadcast()
	}
	if g.errGen >= want {
		return fmt.Errorf("durable: commit: %w", g.err)
	}
	return nil
}

// Close releases the directory handle.
func (g *Group) Close() error { return g.dir.Close() }

// syncPaths fsyncs each path: the fallback flush.
func syncPaths(paths []string) error {
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	return errors.Join(errs...)
}
