package store

import (
	"github.com/replaygate/replaygate/internal/durable"

	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File names inside a replay directory.
const (
	// identityName holds the replay's id and subject; written once, durably.
	identityName = "replay.json"
	// indexName caches the segment summaries, one JSON line per segment,
	// appended without an fsync of its own; Open completes it from the
	// segment log when it lags behind or has a torn line.
	indexName  = "segments.jsonl"
	tempPrefix = ".tmp-"
	segSuffix  = ".json.gz" // segment files of the layout before the log
	maxSeq     = 99_999_999 // segment files were named with 8 digits
)

// Directories inside {data_dir}/replays that are not replays.
const (
	trashDir = ".trash"
	tombDir  = ".tombstones"
)

// ValidID reports whether id is a replay id: 32 lowercase hex digits. Only
// valid ids ever become paths.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func segName(seq int) string { return fmt.Sprintf("%08d%s", seq, segSuffix) }

// parseSegName returns the seq of a segment file name, or false.
func parseSegName(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 8 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// tempFile is a file being written next to its final name; commit makes it
// durable under the final name once the directory is synced.
type tempFile struct {
	f       *os.File
	dest    string
	renamed bool
}

// createTemp opens a temporary file in dir for a file that will be named dest.
func createTemp(dir, dest string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return nil, err
	}
	return &tempFile{f: f, dest: filepath.Join(dir, dest)}, nil
}

func (t *tempFile) Write(p []byte) (int, error) { return t.f.Write(p) }

// sync flushes the content to disk and closes the file.
func (t *tempFile) sync() error {
	if err := t.f.Sync(); err != nil {
		t.f.Close()
		return err
	}
	return t.f.Close()
}

// close closes the file without an fsync; a group commit makes it durable.
func (t *tempFile) close() error { return t.f.Close() }

// rename moves the synced file to its final name. The caller syncs the
// directory afterwards.
func (t *tempFile) rename() error {
	if err := os.Rename(t.f.Name(), t.dest); err != nil {
		return err
	}
	t.renamed = true
	return nil
}

// discard removes the temporary file; it is a no-op after rename.
func (t *tempFile) discard() {
	if t.renamed {
		return
	}
	t.f.Close()
	os.Remove(t.f.Name())
}

// writeFileAtomic replaces dir/name with data: temp file, fsync, rename,
// directory fsync.
func writeFileAtomic(dir, name string, data []byte) error {
	t, err := createTemp(dir, name)
	if err != nil {
		return err
	}
	if _, err := t.Write(data); err != nil {
		t.discard()
		return err
	}
	if err := t.sync(); err != nil {
		t.discard()
		return err
	}
	if err := t.rename(); err != nil {
		t.discard()
		return err
	}
	return durable.SyncDir(dir)
}

// readFileLimit reads a whole small file, refusing files over limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return data, nil
}

// appendFile appends data to dir/name, creating it if needed, without an
// fsync: for caches that Open can rebuild.
func appendFile(dir, name string, data []byte) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
