// Package spool is the durable queue between ingest and the forwarders.
//
// Append writes an accepted, scrubbed Segment to an append-only,
// checksummed log in <data dir>/spool (files NNN.log named by their first
// record number, plus cursors.json) and returns only once the record
// is on disk (write + fsync). Concurrent appends are group-committed: one
// writer goroutine batches whatever is waiting into one write and one fsync,
// and every caller waits for the fsync that covers its record.
//
// Run delivers every record to every configured Forwarder. Each forwarder
// is fed independently with a bounded window of deliveries in flight
// (Config.Concurrency, or the forwarder's InFlightLimiter; 1 keeps strict
// order), each retried with exponential backoff and jitter, so a slow or
// down destination never holds up the others. A rejection wrapped with
// Permanent is counted and skipped instead of retried. Per-forwarder
// progress (a cursor just below the oldest unfinished delivery) is
// checkpointed to disk, and log files delivered to every forwarder are
// deleted. After a crash or kill -9, Open truncates a torn tail and delivery
// resumes from the checkpoints: nothing acknowledged is lost, and only
// records in flight or delivered since the last checkpoint are delivered
// again (at-least-once; forwarders dedupe on Segment.Key).
//
// Records carry the segment's summary (Segment.Summary) beside its
// events, which ingest compresses once (Segment.Gzip: one gzip member of
// the scrubbed JSON, made by our own compressor; Events is then empty), so
// the spool writes, checksums and holds some six times fewer bytes than
// the JSON. Segment.EventsJSON gives consumers the JSON either way. Log
// files in older formats ("RGSPOOL1" without the gzip field and summary,
// "RGSPOOL2" without the summary, "RGSPOOL3") are still read, and new
// records then go to a new file; the gzip field of "RGSPOOL2" and
// "RGSPOOL3" records held an upload's own compressed bytes and is
// skipped (their events are used). Binaries that only know "RGSPOOL3"
// do not read "RGSPOOL4" files: drain the spool before a downgrade.
//
// The spool does not inspect or scrub segment contents, never logs them, and
// does not own the forwarders: closing them is the caller's job.
package spool
