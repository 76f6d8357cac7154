// Package durable holds the file-system steps that replaygate's
// crash-safe writers (spool, store, consent log and key) share: making a
// directory's entries durable, replacing a small file atomically, and
// committing the writes of many concurrent writers in one shared flush
// (Group, which the store uses).
//
// It does not buffer or retry: callers own their files' formats and their
// concurrency.
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs dir, making renames, links, creations and removals of its
// entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile replaces path with data so that after a crash path holds either
// its old or its new content: a temporary file beside it is written and
// fsynced, renamed over path, and the directory is fsynced.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("durable: %w", err)
	}
	return SyncDir(dir)
}
