package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
)

// WriteEvents writes the replay's events to w as one JSON array: segments
// in seq order, events within a segment as recorded. Segments are streamed
// one at a time from the segment log, never all held in memory. If the replay is
// deleted while it is being written, the output stops early with an error.
func (s *Store) WriteEvents(ctx context.Context, id string, w io.Writer) error {
	if !ValidID(id) {
		return ErrInvalidID
	}
	s.mu.Lock()
	r := s.replays[id]
	found := r != nil && r.listed
	s.mu.Unlock()
	if !found {
		return ErrNotFound
	}
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		return ErrNotFound
	}
	var segs []segmentSummary
	for _, sum := range r.file.Segments {
		if sum.Events > 0 {
			segs = append(segs, sum)
		}
	}
	r.mu.Unlock()

	var lf *os.File
	if len(segs) > 0 {
		var err error
		if lf, err = os.Open(filepath.Join(s.dir(id), logName)); err != nil {
			if r.deleted.Load() {
				return ErrNotFound
			}
			return fmt.Errorf("store: replay %s: %w", id, err)
		}
		defer lf.Close()
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	if err := bw.WriteByte('['); err != nil {
		return err
	}
	var zr gzip.Reader
	br := bufio.NewReaderSize(nil, 16<<10)
	for i, sum := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The open log stays readable after a deletion; the output must
		// not go on with an erased recording.
		if r.deleted.Load() {
			return fmt.Errorf("store: replay %s: %w while it was read", id, ErrNotFound)
		}
		if i > 0 {
			if err := bw.WriteByte(','); err != nil {
				return err
			}
		}
		if err := copySegment(bw, &zr, br, io.NewSectionReader(lf, sum.Offset+logHeader, sum.Bytes)); err != nil {
			return fmt.Errorf("store: replay %s seq %d: %w", id, sum.Seq, err)
		}
	}
	if err := bw.WriteByte(']'); err != nil {
		return err
	}
	return bw.Flush()
}

// errBadSegmentFile means a stored segment does not hold a JSON array.
var errBadSegmentFile = errors.New("stored segment is not a JSON array")

// copySegment writes the elements of the stored array (without its
// brackets), read from its gzip member rec, to w. Stored arrays have no
// surrounding whitespace.
func copySegment(w io.Writer, zr *gzip.Reader, br *bufio.Reader, rec io.Reader) error {
	br.Reset(rec)
	if err := zr.Reset(br); err != nil {
		return err
	}
	zr.Multistream(false)
	var first [1]byte
	if _, err := io.ReadFull(zr, first[:]); err != nil || first[0] != '[' {
		return errBadSegmentFile
	}
	inner := &holdLast{w: w}
	if _, err := io.Copy(inner, zr); err != nil {
		return err
	}
	if !inner.held || inner.last[0] != ']' {
		return errBadSegmentFile
	}
	return nil
}

// holdLast passes writes through except the last byte written so far, which
// it keeps back: at the end it holds the closing bracket.
type holdLast struct {
	w    io.Writer
	last [1]byte
	held bool
}

func (h *holdLast) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if h.held {
		if _, err := h.w.Write(h.last[:]); err != nil {
			return 0, err
		}
	}
	if _, err := h.w.Write(p[:len(p)-1]); err != nil {
		return 0, err
	}
	h.last[0], h.held = p[len(p)-1], true
	return len(p), nil
}
