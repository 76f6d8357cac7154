package spool

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"
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
	// Events is the scrubbed JSON array of rrweb events.
	Events json.RawMessage `json:"events"`
	// Gzip is set only on segments spooled by older versions of ingest,
	// which kept the upload's own compression when scrubbing changed
	// nothing. Nothing uses it: compressed bytes can carry bits a decoder
	// ignores, past the scrubber.
	Gzip []byte `json:"-"`
	// Summary, when set, is what ingest learned about Events while it
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
