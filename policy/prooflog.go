package policy

import (
	"github.com/replaygate/replaygate/internal/durable"

	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ProofLogFile is the consent proof log's name in the data dir.
const ProofLogFile = "consent-log.jsonl"

// Event kinds of the consent proof log.
const (
	EventGrant    = "grant"
	EventDeny     = "deny"
	EventWithdraw = "withdraw"
)

// maxRecordLen bounds one JSON line; real records are ~400 bytes.
const maxRecordLen = 64 << 10

// Record is one entry of the consent proof log: what a visitor decided,
// when, under which policy and notice.
type Record struct {
	Time          time.Time `json:"time"`
	Subject       string    `json:"subject"`
	Event         string    `json:"event"`
	Decision      Decision  `json:"decision"`
	PolicyVersion string    `json:"policyVersion"`
	// NoticeHash identifies the exact notice text shown (from the gate).
	NoticeHash string `json:"noticeHash,omitempty"`
	Language   string `json:"language,omitempty"`
	// Region is the country from the trusted region header, if any.
	Region string `json:"region,omitempty"`
	// Mode is the consent mode that applied; a grant under opt-out was
	// given by the gate on the visitor's behalf after showing the notice.
	Mode Mode `json:"mode"`
	GPC  bool `json:"gpc"`
	// IP is the truncated network (/24, /48) when log_ip is truncate.
	IP        string    `json:"ip,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ProofLog is the append-only consent proof log: one JSON record per line,
// each fsync'd before the decision takes effect. It is safe for concurrent
// use.
type ProofLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenProofLog opens (creating if needed) {dataDir}/consent-log.jsonl. A
// torn last line left by a crash (never acknowledged) is cut off.
func OpenProofLog(dataDir string) (*ProofLog, error) {
	path := filepath.Join(dataDir, ProofLogFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("policy: open consent log: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("policy: repair consent log: %w", err)
	}
	return &ProofLog{path: path, f: f}, nil
}

// repairTail truncates f after its last newline.
func repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	var buf [4096]byte
	end := size
	for end > 0 {
		n := int64(len(buf))
		if end < n {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return nil
	}
	if err := f.Truncate(end); err != nil {
		return err
	}
	return f.Sync()
}

// Append writes rec and fsyncs it.
func (l *ProofLog) Append(rec Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("policy: encode consent record: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("policy: consent log closed")
	}
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("policy: write consent log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("policy: sync consent log: %w", err)
	}
	return nil
}

// snapshot returns a reader of the log as it is now; appends after the call
// are not seen and a concurrent compaction does not disturb it.
func (l *ProofLog) snapshot() (*os.File, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, 0, errors.New("policy: consent log closed")
	}
	st, err := l.f.Stat()
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// Each calls fn with every record (in log order) until fn returns false.
// Unreadable lines are skipped.
func (l *ProofLog) Each(fn func(line []byte, rec Record) bool) error {
	f, size, err := l.snapshot()
	if err != nil {
		return fmt.Errorf("policy: read consent log: %w", err)
	}
	defer f.Close()
	return eachLine(io.LimitReader(f, size), func(line []byte) bool {
		var rec Record
		if json.Unmarshal(line, &rec) != nil {
			return true
		}
		return fn(line, rec)
	})
}

func eachLine(r io.Reader, fn func(line []byte) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxRecordLen)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if !fn(sc.Bytes()) {
			return nil
		}
	}
	return sc.Err()
}

// ExportJSON writes {"consents":[…]} with every record of subject, or of
// everyone when subject is empty, in log order.
func (l *ProofLog) ExportJSON(w io.Writer, subject string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(`{"consents":[`)
	first := true
	var werr error
	err := l.Each(func(line []byte, rec Record) bool {
		if subject != "" && rec.Subject != subject {
			return true
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		if _, werr = bw.Write(line); werr != nil {
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("policy: export consent log: %w", werr)
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("policy: export consent log: %w", err)
	}
	return nil
}

// Compact drops records older than cutoff, rewriting the log atomically
// (temp file, fsync, rename, directory fsync). It returns how many records
// were dropped; with none to drop the file is left alone. Appends wait while
// it runs.
func (l *ProofLog) Compact(cutoff time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, errors.New("policy: consent log closed")
	}
	n, err := rewriteLines(l.path, func(line []byte) bool {
		var rec Record
		// Unreadable lines are kept: compaction never destroys what it
		// cannot judge.
		return json.Unmarshal(line, &rec) != nil || !rec.Time.Before(cutoff)
	})
	if err != nil || n == 0 {
		if err != nil {
			err = fmt.Errorf("policy: compact consent log: %w", err)
		}
		return n, err
	}
	// The old descriptor points at the replaced inode.
	l.f.Close()
	l.f, err = os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		l.f = nil
		return n, fmt.Errorf("policy: reopen consent log: %w", err)
	}
	return n, nil
}

// rewriteLines atomically rewrites the JSON-lines file at path keeping the
// lines for which keep is true, and returns how many were dropped. Nothing is
// written when none is dropped.
func rewriteLines(path string, keep func(line []byte) bool) (int, error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	// First pass: count, so an unchanged file is not rewritten.
	dropped := 0
	if err := eachLine(src, func(line []byte) bool {
		if !keep(line) {
			dropped++
		}
		return true
	}); err != nil || dropped == 0 {
		return 0, err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriter(tmp)
	err = eachLine(src, func(line []byte) bool {
		if keep(line) {
			bw.Write(line)
			bw.WriteByte('\n')
		}
		return true
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = durable.SyncDir(dir)
	}
	if err != nil {
		return 0, err
	}
	return dropped, nil
}

// Close closes the log; later appends fail.
func (l *ProofLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
