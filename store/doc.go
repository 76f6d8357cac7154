// Package store is replaygate's embedded recording store: the "local"
// forwarder.
//
// It keeps every replay under {data_dir}/replays/{id}/ in three files:
// replay.json naming the replay's subject (written once), segments.log
// with one record per segment (the scrubbed rrweb event array as one gzip
// member, with its seq, the time it was received and a CRC-32C; seglog.go),
// and segments.jsonl, a cache with one summary line per segment (times,
// URLs, environment, clicks, console errors, where its record lies) from
// which the metadata is computed. A segment's record is written at the end
// of the log and flushed before Forward returns (for a new replay, after
// replay.json is flushed and renamed into place); the flushes are group
// commits (internal/durable.Group: one syncfs shared by every concurrent
// write). Until then the spool keeps the segment and delivers it again
// after a crash. Open cuts off whatever follows the last record that
// checks out (a record torn by a crash; a record whose header checks out
// but whose bytes are damaged is skipped instead), flushes the logs it
// found, completes the cache from the log when it lags or has a torn line,
// removes the leftovers of interrupted writes, and finishes deletions and
// erasures whose tombstone was written before a crash. What Open cuts off
// after a damaged header (not a torn record) is kept beside the log
// (segments.log.cut-{offset}): it may hold acknowledged records. Replays
// stored one
// gzip file per segment, the layout before the log, are moved into a log
// at Open.
//
// A segment from ingest carries its scrubbed events compressed once, by
// ingest (spool.Segment.Gzip, at ingest.gzip_level), with the scrubber's
// summary: that member is the record's body as it is, and it is not
// decompressed (only its header and the size in its trailer are checked;
// a member that does not fit is dropped). Without a summary the member is
// decompressed to be summarized. Events given uncompressed (older spools,
// direct callers) are compressed at store.gzip_level. The spool never
// hands over an upload's own compressed bytes (older spool files held
// them; they are skipped): compressed bytes can carry bits a decoder
// ignores, past the scrubber.
//
// Store implements spool.Forwarder: Forward is idempotent per segment key and
// accepts segments in any order. Replays are listed, read back as one merged
// event array, deleted, and erased by subject (all of a subject's replays,
// or those recorded up to a withdrawal); deletions leave tombstones so
// a segment still waiting in the spool does not bring an erased recording
// back. RunJanitor enforces retention and the optional size limit.
//
// The store trusts its input to be scrubbed already (ingest scrubs before the
// spool); it never scrubs, and it never logs event data, URLs or subjects.
// It is a single-node store: replicas that need a shared destination forward
// to NATS, Sentry or an HTTP collector instead.
package store
