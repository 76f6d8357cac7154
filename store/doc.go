// Package store is replaygate's embedded recording store: the "local"
// forwarder.
//
// It keeps every replay under {data_dir}/replays/{id}/ as one gzip file per
// segment ({seq:08d}.json.gz, the scrubbed rrweb event array as the spool
// delivered it), a replay.json naming the replay's subject (written once),
// and segments.jsonl, a cache with one summary line per segment (times,
// URLs, environment, clicks, console errors) from which the metadata is
// computed. A segment file (with replay.json for a new replay) is written
// to a temporary file, flushed, renamed into place and flushed again
// before Forward returns; both flushes are group commits
// (internal/durable.Group: one syncfs shared by every concurrent write).
// Until then the spool keeps the segment and delivers it again after a
// crash. The cache is appended without a flush of its own, and Open
// rebuilds it from the segment files when it lags, has a torn line or
// disagrees with a file's size; a segment file whose gzip stream does not
// check out is removed, and the spool's redelivery writes it again. Open
// also removes the leftovers of interrupted writes.
//
// A segment that carries its own gzip member (spool.Segment.Gzip: ingest
// kept the upload's compression because scrubbing changed nothing) is
// written as is; other segments are compressed at store.gzip_level.
//
// Store implements spool.Forwarder: Forward is idempotent per segment key and
// accepts segments in any order. Replays are listed, read back as one merged
// event array, deleted, and erased by subject; deletions leave tombstones so
// a segment still waiting in the spool does not bring an erased recording
// back. RunJanitor enforces retention and the optional size limit.
//
// The store trusts its input to be scrubbed already (ingest scrubs before the
// spool); it never scrubs, and it never logs event data, URLs or subjects.
// It is a single-node store: replicas that need a shared destination forward
// to NATS, Sentry or an HTTP collector instead.
package store
