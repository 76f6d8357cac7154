package durable

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestGroupCommitSyncs(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(p, dir); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestGroupSharesFlushes: writers that commit while a flush is running
// are all covered by one next flush (not one each), none returns before a
// flush that started after its call, and a failed flush is reported to
// exactly the writers it was meant to cover.
func TestGroupSharesFlushes(t *testing.T) {
	g, err := NewGroup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.shared = true // the grouping logic, whatever this kernel's syncfs
	var mu sync.Mutex
	flushes := 0
	release := make(chan error)
	g.flush = func() error {
		mu.Lock()
		flushes++
		mu.Unlock()
		return <-release
	}

	first := make(chan error, 1)
	go func() { first <- g.Commit() }()
	waitFlushes(t, &mu, &flushes, 1) // flush 1 is running

	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() { errs <- g.Commit() }()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		w := g.waiting
		g.mu.Unlock()
		if w == n {
			break // all queued behind flush 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commits waiting", w, n)
		}
	}
	select {
	case err := <-errs:
		t.Fatalf("a commit returned (%v) before any flush started after it", err)
	default:
	}
	release <- nil // flush 1 succeeds: only the first writer is covered
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitFlushes(t, &mu, &flushes, 2)
	boom := errors.New("disk on fire")
	release <- boom // flush 2 covers all n waiters, and fails
	for range n {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("waiter got %v, want the failed flush's error", err)
		}
	}
	mu.Lock()
	if flushes != 2 {
		t.Fatalf("%d flushes for %d commits, want 2", flushes, n+1)
	}
	mu.Unlock()

	go func() { release <- nil }()
	if err := g.Commit(); err != nil {
		t.Fatalf("commit after a failed flush: %v", err)
	}
}

func waitFlushes(t *testing.T, mu *sync.Mutex, n *int, want int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		got := *n
		mu.Unlock()
		if got >= want {
			return
		}
	}
	t.Fatalf("flush %d never started", want)
}

func TestGroupFallsBackToFsync(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.shared = false // as on kernels whose syncfs does not report errors
	g.flush = func() error { t.Fatal("shared flush used"); return nil }
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(p, dir); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("fsync of a missing path succeeded")
	}
}
