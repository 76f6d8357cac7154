// Package store is replaygate's embedded recording store: the "local"
// forwarder.
//
// It keeps every replay under {data_dir}/replays/{id}/ as one gzip file per
// segment ({seq:08d}.json.gz, the scrubbed rrweb event array as the spool
// delivered it), a replay.json naming the replay's subject (written once),
// and segments.jsonl, a cache with one summary line per segment (times,
// URLs, environment, clicks, console errors) from which the metadata is
// computed. Segment files and replay.json are written crash-safely
// (temporary file, fsync, rename, directory fsync) before Forward returns;
// the cache is appended without an fsync of its own, and Open rebuilds it
// from the segment files when it lags, has a torn line or disagrees with a
// file's size. Open also removes the leftovers of interrupted writes.
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
