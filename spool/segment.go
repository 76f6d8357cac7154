package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Segment is one accepted, already scrubbed upload: a slice of a replay's
// rrweb events. It is the unit the spool keeps and forwarders deliver.
type Segment struct {
	// ReplayID is the 32-hex replay id the recorder chose.
	ReplayID string `json:"replayId"`
	// Seq is the segment number within the replay, from 0.
	Seq int `json:"seq"`
	// Subject is the opaque visitor id from the consent cookie; erasure
	// requests name it.
	Subject string `json:"subject"`
	// ReceivedAt is when the proxy accepted the upload.
	ReceivedAt time.Time `json:"receivedAt"`
	// Events is the scrubbed JSON array of rrweb events, when the segment
	// is not compressed (Gzip is nil). Consumers that need the JSON call
	// EventsJSON, which also covers Gzip.
	Events json.RawMessage `json:"events"`
	// Gzip is set by ingest, with our own compressor, from the scrubbed
	// events: one gzip member holding exactly the JSON array, without
	// surrounding whitespace. When it is set Events is nil; the two are
	// never both set. It is never an upload's own compressed bytes, which
	// can carry bits a decoder ignores past the scrubber (spool files of
	// older versions held those; they are not read back into Gzip).
	Gzip []byte `json:"-"`
	// Summary, when set, is what ingest learned about the events while it
	// scrubbed them; the local store builds the replay's metadata from it
	// instead of parsing the events again.
	Summary *Summary `json:"-"`
}

// Summary describes a segment's events, as the scrubber's single pass saw
// them.
type Summary struct {
	// Events is the number of events.
	Events int
	// First and Last are the smallest and largest timestamps (ms) from 1
	// to the end of year 9999; 0 when there is none.
	First, Last int64
	// Clicks counts mouse-click events.
	Clicks int
	// Info are the Meta (type 4) and custom (type 5) events, scrubbed JSON
	// objects in order: the ones that name pages, the environment and
	// console errors.
	Info [][]byte
}

// EventsJSON returns the segment's scrubbed JSON array: Events itself
// when set (dst is then unused), otherwise the decompression of Gzip
// appended to dst. A Gzip that is not exactly one valid gzip member, or
// that decompresses to more than MaxSegmentBytes, is an error. A segment
// with neither has no events: EventsJSON returns dst and nil.
func (s Segment) EventsJSON(dst []byte) ([]byte, error) {
	if len(s.Events) > 0 || len(s.Gzip) == 0 {
		if len(s.Events) == 0 {
			return dst, nil
		}
		return s.Events, nil
	}
	return gunzipMember(dst, s.Gzip, MaxSegmentBytes)
}

// errBadGzip reports a Segment.Gzip that does not decompress.
var errBadGzip = errors.New("spool: segment gzip is not one valid gzip member")

// gunzipMember appends the decompression of gz, which must be exactly
// one gzip member, to dst, failing beyond limit bytes of output.
func gunzipMember(dst, gz []byte, limit int) ([]byte, error) {
	br := bytes.NewReader(gz)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", errBadGzip, err)
	}
	zr.Multistream(false)
	// The trailer's size (modulo 2^32) sizes the output in one allocation
	// when it is plausible: within the limit and deflate's largest ratio
	// (1032:1), so a damaged trailer cannot make a small member allocate
	// much.
	if n := int(binary.LittleEndian.Uint32(gz[len(gz)-4:])); n <= limit && n/1032 <= len(gz) {
		dst = slices.Grow(dst, n+1) // +1: room to see the end
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(max(cap(dst)-start, 512), limit+1-(len(dst)-start)))
		}
		end := min(cap(dst), start+limit+1)
		n, err := zr.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, fmt.Errorf("spool: segment gzip decompresses to more than %d bytes", limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst, fmt.Errorf("%w: %w", errBadGzip, err)
		}
	}
	if br.Len() != 0 {
		return dst, fmt.Errorf("%w: %d bytes after the member", errBadGzip, br.Len())
	}
	return dst, nil
}

// Key is the idempotency key of a segment: a repeated upload of the same
// replay and seq has the same key.
func (s Segment) Key() string { return s.ReplayID + "/" + strconv.Itoa(s.Seq) }

// Forwarder delivers segments to one destination (the local store, Sentry,
// an HTTP collector, NATS). Forward must be idempotent per Segment.Key:
// delivery is at-least-once.
type Forwarder interface {
	// Name identifies the forwarder in logs and metrics ("local", "sentry"…).
	Name() string
	// Forward delivers seg or returns an error; the spool retries with backoff.
	Forward(ctx context.Context, seg Segment) error
}

// ErrFull is returned by Append when the spool cannot take more data; ingest
// answers 503 with Retry-After.
var ErrFull = errors.New("spool: full")
